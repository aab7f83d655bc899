// What every recording workload client does, whatever carries its requests (the coordinator
// in the simulator, HTTP in the chaos run and the console's experiments): which operation,
// which quorum, and which context a write carries (its basis: the versions its client had
// seen). On a small hot key set, so writes conflict:
// - get (r mostly R, sometimes 1 or N);
// - put with the context of the client's last read or write of the key;
// - blind put (no context): concurrent with whatever is there;
// - read-modify-write: a get, then a put with its context;
// - delete: a get, then a tombstone with its context (the API's DELETE without a context).
// Values are unique per write ("c3-w17"); a tombstone names its write in its content type.

import type { Basis, ReadOp, WriteOp } from './history.js';

export type OpKind = 'get' | 'put' | 'blind' | 'rmw' | 'delete';

export const opWeights: readonly (readonly [number, OpKind])[] = [
  [30, 'get'],
  [20, 'put'],
  [10, 'blind'],
  [28, 'rmw'],
  [12, 'delete'],
];

/** The same mix with gets given `getRatio` of the weight (the writes keep their proportions). */
export function opWeightsWithGetRatio(getRatio: number): (readonly [number, OpKind])[] {
  const writes = opWeights.filter(([, k]) => k !== 'get');
  const writeTotal = writes.reduce((s, [w]) => s + w, 0);
  const ratio = Math.min(1, Math.max(0, getRatio));
  return [[ratio, 'get'], ...writes.map(([w, k]): readonly [number, OpKind] => [((1 - ratio) * w) / writeTotal, k])];
}

/** The random choices a workload client makes (the simulator's seeded Rng is one). */
export interface WorkloadRandom {
  /** Uniform integer in [0, n). */
  int(n: number): number;
  pick<T>(xs: readonly T[]): T;
  weighted<T>(choices: readonly (readonly [number, T])[]): T;
}

interface Known {
  readonly token: string | undefined;
  readonly basis: Basis;
}

/** `R`: the random source's own type, for subclasses that need more of it (the simulator's seeded Rng). */
export abstract class WorkloadClient<R extends WorkloadRandom = WorkloadRandom> {
  protected writes = 0;
  /** Per key: the context of this client's last read or write, and what it stood for. */
  protected readonly known = new Map<string, Known>();

  constructor(
    protected readonly rng: R,
    private readonly quorums: () => { readonly n: number; readonly r: number; readonly w: number },
  ) {}

  protected pickR(): number {
    const q = this.quorums();
    return this.rng.weighted([
      [80, q.r],
      [10, 1],
      [10, q.n],
    ]);
  }

  protected pickW(): number {
    const q = this.quorums();
    return this.rng.weighted([
      [85, q.w],
      [15, q.n],
    ]);
  }

  /** A get; `final` marks the reads of the settled state. */
  abstract read(key: string, r: number, final: boolean): Promise<ReadOp>;

  protected abstract write(kind: 'put' | 'delete', key: string, basis: Basis, token: string | undefined): Promise<WriteOp | undefined>;

  protected async step(kind: OpKind, key: string): Promise<void> {
    switch (kind) {
      case 'get':
        await this.read(key, this.pickR(), false);
        return;
      case 'put': {
        const k = this.known.get(key);
        await this.write('put', key, k?.basis ?? { kind: 'none' }, k?.token);
        return;
      }
      case 'blind':
        await this.write('put', key, { kind: 'none' }, undefined);
        return;
      case 'rmw':
      case 'delete': {
        const r = await this.read(key, this.pickR(), false);
        if (r.outcome !== 'ok' || !r.versions) return;
        // The API's DELETE of a key with nothing to delete answers 404 without writing.
        if (kind === 'delete' && r.versions.length === 0) return;
        await this.write(kind === 'rmw' ? 'put' : 'delete', key, { kind: 'read', op: r.op, dots: r.versions.map((v) => v.dot) }, r.context);
        return;
      }
    }
  }
}
