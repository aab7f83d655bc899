// Hash routing (#/overview, #/conflicts?key=k): deep-linkable, works from file:// too.

export const routes = [
  { id: 'overview', label: 'Overview', key: 'o' },
  { id: 'node', label: 'Node', nav: false },
  { id: 'ring', label: 'Ring', key: 'r' },
  { id: 'membership', label: 'Membership', key: 'm' },
  { id: 'replicas', label: 'Replica health', key: 'p' },
  { id: 'antientropy', label: 'Anti-entropy', key: 'e' },
  { id: 'hints', label: 'Hinted handoff', key: 'h' },
  { id: 'data', label: 'Data browser', key: 'd' },
  { id: 'conflicts', label: 'Conflicts', key: 'c' },
  { id: 'throughput', label: 'Throughput & latency', key: 't' },
  { id: 'history', label: 'History', key: 'y' },
  { id: 'chaos', label: 'Chaos', key: 'x' },
  { id: 'whatif', label: 'What-if', key: 'w' },
  { id: 'experiments', label: 'Experiments', key: 'j' },
  { id: 'keys', label: 'Keys', key: 'k' },
  { id: 'workload', label: 'Workload', key: 'l' },
  { id: 'alerts', label: 'Alerts', key: 'a' },
  { id: 'audit', label: 'Audit', key: 'u' },
  { id: 'connections', label: 'Connections', key: 'n' },
] as const;

export type RouteId = (typeof routes)[number]['id'];

const ids = new Set<string>(routes.map((r) => r.id));

export function isRoute(id: string): id is RouteId {
  return ids.has(id);
}

export function href(id: RouteId, params?: Record<string, string>): string {
  const q = params ? new URLSearchParams(params).toString() : '';
  return `#/${id}${q ? `?${q}` : ''}`;
}

function parse(hash: string): { id: RouteId; params: URLSearchParams } | null {
  const h = hash.replace(/^#\/?/, '');
  const q = h.indexOf('?');
  const path = q < 0 ? h : h.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : h.slice(q + 1));
  return isRoute(path) ? { id: path, params } : null;
}

class Router {
  current = $state<RouteId>('overview');
  params = $state.raw<URLSearchParams>(new URLSearchParams());

  constructor() {
    if (typeof window === 'undefined') return;
    this.sync();
    window.addEventListener('hashchange', () => this.sync());
  }

  private sync(): void {
    const r = parse(window.location.hash);
    if (!r) {
      // Unknown or empty: the overview, without adding a history entry.
      history.replaceState(null, '', href('overview'));
      this.current = 'overview';
      this.params = new URLSearchParams();
      return;
    }
    this.current = r.id;
    this.params = r.params;
  }

  go(id: RouteId, params?: Record<string, string>): void {
    window.location.hash = href(id, params);
  }
}

export const router = new Router();
