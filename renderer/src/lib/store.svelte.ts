// The console's state: the latest cluster snapshot and a bounded history of it, the fault
// markers, the event log, the connection and workload; a Pause that freezes every view; a
// confirm step for destructive actions on production; notices. One instance, `app`.

import type { Transport, LinkState } from './api';
import { errorText } from './format';
import { type FaultMark, type Sample, appendBounded, historyMax, marksFromEvents, marksFromFaults, tidyMarks, toSample } from './history';
import { computeProblems } from './problems';
import type { AlertState, Attachment, ClusterSnapshot, ConnectionState, ConsoleMethod, ConsoleMethods, ControlEvent, FaultView, HistorySeries, MembershipProgress, RunRecord, WorkloadStatus } from './types';
import { samplesFromHistory } from './history';

export const eventsMax = 300;
/** How long a fault just injected is shown before a snapshot lists it. */
const pendingFaultMs = 4000;
/** Marks older than this are dropped (the charts show 5 minutes). */
const marksKeepMs = 10 * 60_000;

export interface Notice {
  readonly id: number;
  readonly kind: 'error' | 'ok' | 'info';
  readonly text: string;
}

export interface ConfirmRequest {
  readonly what: string;
  readonly expected: string;
  readonly resolve: (confirmed: boolean) => void;
}

interface Frozen {
  readonly snapshot: ClusterSnapshot | null;
  readonly history: readonly Sample[];
  readonly marks: readonly FaultMark[];
  readonly events: readonly ControlEvent[];
  readonly at: number;
}

function attachmentKey(a: Attachment): string {
  return `${a.name}|${a.urls.join(',')}`;
}

class ConsoleStore {
  /** Set once by start(); screens call through it. */
  api: Transport | null = null;
  started = $state(false);
  startError = $state<string | null>(null);
  link = $state.raw<LinkState>({ up: false, reason: 'starting' });
  connection = $state.raw<ConnectionState>({ state: 'detached' });
  workload = $state.raw<WorkloadStatus | null>(null);
  paused = $state(false);
  /** The backend's alert states (pushed when they change); notifications for new firings. */
  alerts = $state.raw<readonly AlertState[]>([]);
  /** The membership change in progress (or the last one). */
  membership = $state.raw<MembershipProgress | null>(null);
  /** The experiment run in progress (or the last one seen). */
  run = $state.raw<RunRecord | null>(null);
  /** Desktop notifications for alerts: asked for from the Alerts screen. */
  notifyDesktop = $state(typeof Notification !== 'undefined' && Notification.permission === 'granted');

  live = $state.raw<ClusterSnapshot | null>(null);
  liveHistory = $state.raw<readonly Sample[]>([]);
  liveMarks = $state.raw<readonly FaultMark[]>([]);
  liveEvents = $state.raw<readonly ControlEvent[]>([]);
  private frozen = $state.raw<Frozen | null>(null);
  /** Local time the last snapshot arrived (for staleness). */
  receivedAt = $state(0);
  /** Ticks every second (for "ago" figures). */
  now = $state(Date.now());

  /** Faults this console injected that no snapshot lists yet (shown for a few seconds). */
  pendingFaults = $state.raw<readonly { fault: FaultView; at: number }[]>([]);
  notices = $state.raw<readonly Notice[]>([]);
  confirmRequest = $state.raw<ConfirmRequest | null>(null);

  private key = '';
  private noticeSeq = 0;

  // What the views show: frozen while paused.
  get snapshot(): ClusterSnapshot | null {
    return this.frozen ? this.frozen.snapshot : this.live;
  }
  get history(): readonly Sample[] {
    return this.frozen ? this.frozen.history : this.liveHistory;
  }
  get marks(): readonly FaultMark[] {
    return this.frozen ? this.frozen.marks : this.liveMarks;
  }
  get events(): readonly ControlEvent[] {
    return this.frozen ? this.frozen.events : this.liveEvents;
  }
  get pausedAt(): number | null {
    return this.frozen?.at ?? null;
  }
  get attachment(): Attachment | null {
    return this.connection.state === 'attached' ? this.connection.attachment : null;
  }

  /** The faults in force as the view shows them: the snapshot's, then the ones just injected. */
  get faults(): readonly (FaultView & { pending?: boolean })[] {
    const s = this.snapshot;
    const listed = s?.faults ?? [];
    if (this.frozen || this.pendingFaults.length === 0) return listed;
    const ids = new Set(listed.map((f) => f.id));
    const extra = this.pendingFaults.filter((p) => !ids.has(p.fault.id) && this.now - p.at < pendingFaultMs).map((p) => ({ ...p.fault, pending: true }));
    return extra.length ? [...listed, ...extra] : listed;
  }

  faultInjected(f: FaultView): void {
    const now = Date.now();
    this.pendingFaults = [...this.pendingFaults.filter((p) => now - p.at < pendingFaultMs), { fault: f, at: now }];
    this.now = now;
  }

  faultsHealed(ids: readonly string[] | null): void {
    this.pendingFaults = ids === null ? [] : this.pendingFaults.filter((p) => !ids.includes(p.fault.id));
  }

  problems = $derived(this.snapshot ? computeProblems(this.snapshot, this.history) : []);

  start(api: Transport): void {
    this.api = api;
    api.on('connection', (c) => this.setConnection(c));
    api.on('cluster', (s) => this.onSnapshot(s));
    api.on('events', (e) => this.onEvents(e));
    api.on('workload', (w) => (this.workload = w));
    api.on('membership', (m) => (this.membership = m));
    api.on('experiment', (r) => (this.run = r));
    api.on('alerts', (a) => this.onAlerts(a));
    api.onLink((l) => {
      this.link = l;
      if (l.up) {
        // (The web transport also asks on every reconnect; asking here too covers a connect
        // that happened before these listeners were registered.)
        void this.call('connection').then((c) => c && this.setConnection(c));
        void this.call('workloadStatus').then((w) => w && (this.workload = w));
      }
    });
    setInterval(() => (this.now = Date.now()), 1000);
    this.started = true;
  }

  private onAlerts(next: readonly AlertState[]): void {
    const was = new Map(this.alerts.map((a) => [a.ruleId, a.state]));
    for (const a of next) {
      if (a.state !== 'firing' || was.get(a.ruleId) === 'firing') continue;
      this.notify('error', `Alert: ${a.message}`);
      if (this.notifyDesktop && typeof Notification !== 'undefined' && Notification.permission === 'granted') {
        try {
          new Notification(`Gyre: ${this.attachment?.name ?? 'cluster'}`, { body: a.message, tag: a.ruleId });
        } catch {
          // notifications refused by the platform: the in-page notice stays
        }
      }
    }
    this.alerts = next;
  }

  /** The last minutes from the backend's history, so charts keep their past across a reload or a re-attach. */
  private async prefill(key: string): Promise<void> {
    const now = Date.now();
    let h: HistorySeries | undefined;
    try {
      h = await this.api?.call('history', { from: now - historyMax * 1000, to: now, scope: 'cluster', maxPoints: historyMax });
    } catch {
      return; // no history (an older backend, or none recorded): the charts start empty
    }
    if (!h || this.key !== key) return;
    const past = samplesFromHistory(h);
    const first = this.liveHistory[0];
    const older = first ? past.filter((x) => x.t < first.t) : past;
    if (older.length > 0) this.liveHistory = appendBounded(older, this.liveHistory, historyMax);
  }

  setConnection(c: ConnectionState): void {
    this.connection = c;
    if (c.state === 'attached') {
      const k = attachmentKey(c.attachment);
      if (k !== this.key) {
        this.reset();
        this.key = k;
        void this.prefill(k);
        void this.call('alerts').then((a) => a && (this.alerts = a));
        void this.call('membershipProgress').then((m) => m !== undefined && (this.membership = m));
      }
      this.key = k;
    } else if (c.state === 'detached') {
      this.key = '';
      this.reset();
    }
  }

  private reset(): void {
    this.live = null;
    this.liveHistory = [];
    this.liveMarks = [];
    this.liveEvents = [];
    this.receivedAt = 0;
    if (this.frozen) this.frozen = { snapshot: null, history: [], marks: [], events: [], at: Date.now() };
  }

  onSnapshot(s: ClusterSnapshot): void {
    const prev = this.live;
    if (prev && s.at <= prev.at) return;
    const h = this.liveHistory;
    const last = h[h.length - 1];
    // A gap (detached a while, or a restarted backend): rates across it mean nothing.
    const sample = toSample(s, last && !last.fromHistory && s.at - last.t < 10_000 ? last : undefined);
    this.liveHistory = appendBounded(h, [sample], historyMax);
    let marks = marksFromFaults(this.liveMarks, prev?.faults, s);
    const cutoff = s.at - marksKeepMs;
    if (marks.length > 0 && marks[0]!.at < cutoff) marks = marks.filter((m) => m.at >= cutoff);
    this.liveMarks = marks;
    this.live = s;
    this.receivedAt = Date.now();
  }

  onEvents(events: readonly ControlEvent[]): void {
    if (events.length === 0) return;
    this.liveEvents = appendBounded(this.liveEvents, events, eventsMax);
    this.liveMarks = marksFromEvents(this.liveMarks, events);
  }

  /** A marker for an action taken from this console (kill, restart). */
  markAction(label: string): void {
    const at = this.live?.at ?? Date.now();
    this.liveMarks = tidyMarks([...this.liveMarks, { at, kind: 'action', id: `action-${at}-${label}`, label }]);
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
    this.frozen = paused ? { snapshot: this.live, history: this.liveHistory, marks: this.liveMarks, events: this.liveEvents, at: Date.now() } : null;
  }

  notify(kind: Notice['kind'], text: string): void {
    const id = ++this.noticeSeq;
    this.notices = [...this.notices.slice(-4), { id, kind, text }];
    setTimeout(() => this.dismiss(id), kind === 'error' ? 12_000 : 5_000);
  }

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id);
  }

  /** A call whose failure becomes a notice; undefined when it failed. */
  async call<M extends ConsoleMethod>(method: M, ...args: ConsoleMethods[M]['args']): Promise<ConsoleMethods[M]['result'] | undefined> {
    if (!this.api) {
      this.notify('error', `${method}: the console is still starting`);
      return undefined;
    }
    try {
      return await this.api.call(method, ...args);
    } catch (e) {
      this.notify('error', `${method}: ${errorText(e)}`);
      return undefined;
    }
  }

  /**
   * Before a destructive action: on a production cluster the operator types the cluster's name
   * (passed on as the `confirm` argument); elsewhere null. undefined: cancelled.
   */
  confirmDestructive(what: string): Promise<string | null | undefined> {
    const a = this.attachment;
    if (!a || a.environment !== 'production') return Promise.resolve(null);
    this.confirmRequest?.resolve(false);
    return new Promise((resolve) => {
      this.confirmRequest = {
        what,
        expected: a.name,
        resolve: (ok) => {
          this.confirmRequest = null;
          resolve(ok ? a.name : undefined);
        },
      };
    });
  }
}

export const app = new ConsoleStore();
