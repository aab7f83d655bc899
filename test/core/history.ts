// A model of clients and replicas of one key, driven only by the pure core functions
// (coordinatePut, mergeReplies, syncSiblings). Beside the real state it keeps a reference
// model: for every write, the set of write dots its client had actually observed (what it
// read, transitively, or what its previous write returned), plus the write's own dot.
// The tests compare the core's clocks and sibling sets against that model.

import fc from 'fast-check';
import { type Version, contextOf, coordinatePut } from '../../node-core/src/core/siblings.js';
import { mergeReplies } from '../../node-core/src/core/read-repair.js';
import { syncSiblings } from '../../node-core/src/core/siblings.js';
import { type VClock, emptyClock } from '../../node-core/src/core/vclock.js';
import { ev } from './gen.js';

export const replicaCount = 3;
export const clientCount = 3;

export type Op =
  | { readonly kind: 'get'; readonly client: number; readonly replicas: number; readonly repair: boolean }
  | { readonly kind: 'put'; readonly client: number; readonly replica: number; readonly deleted: boolean }
  | { readonly kind: 'blind'; readonly client: number; readonly replica: number }
  | { readonly kind: 'sync'; readonly from: number; readonly to: number };

const clientArb = fc.nat({ max: clientCount - 1 });
const replicaArb = fc.nat({ max: replicaCount - 1 });

// Weighted so that most histories overwrite some writes (reads feed contexts to puts).
export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('get' as const), client: clientArb, replicas: fc.integer({ min: 1, max: (1 << replicaCount) - 1 }), repair: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('put' as const), client: clientArb, replica: replicaArb, deleted: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('blind' as const), client: clientArb, replica: replicaArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('sync' as const), from: replicaArb, to: replicaArb }) },
);

export const historyArb = fc.array(opArb, { minLength: 4, maxLength: 48, size: 'medium' });

export function dotKey(v: Version): string {
  return ev(v.dot.actor, v.dot.counter);
}

export function actorOf(replica: number): string {
  return `r${replica}`;
}

interface Client {
  context: VClock;
  observed: Set<string>;
}

export interface PutRecord {
  readonly op: number;
  readonly replica: number;
  readonly before: readonly Version[];
  readonly context: VClock;
  readonly observed: ReadonlySet<string>;
  readonly version: Version;
  readonly after: readonly Version[];
}

export class History {
  readonly replicas: Version[][] = Array.from({ length: replicaCount }, () => []);
  readonly clients: Client[] = Array.from({ length: clientCount }, () => ({ context: emptyClock, observed: new Set<string>() }));
  /** dot -> the dots its writer had observed, plus itself. */
  readonly history = new Map<string, Set<string>>();
  /** Every version ever acknowledged, by dot. */
  readonly written = new Map<string, Version>();
  readonly puts: PutRecord[] = [];
  private nowMs = 1_000_000;

  apply(op: Op, index: number): void {
    this.nowMs += 1000;
    switch (op.kind) {
      case 'get': {
        const asked = [...Array(replicaCount).keys()].filter((r) => (op.replicas >> r) & 1);
        const replies = asked.map((r) => ({ node: actorOf(r), versions: this.replicas[r]! }));
        const merged = mergeReplies(replies);
        const client = this.clients[op.client]!;
        client.context = merged.length > 0 ? contextOf(merged) : emptyClock;
        client.observed = new Set<string>();
        for (const v of merged) for (const d of this.history.get(dotKey(v))!) client.observed.add(d);
        if (op.repair) for (const r of asked) this.replicas[r] = syncSiblings(this.replicas[r]!, merged);
        return;
      }
      case 'put':
      case 'blind': {
        const client = this.clients[op.client]!;
        const context = op.kind === 'put' ? client.context : emptyClock;
        const observed = op.kind === 'put' ? client.observed : new Set<string>();
        const before = this.replicas[op.replica]!;
        const payload = { deleted: op.kind === 'put' && op.deleted, contentType: 'text/plain', value: new TextEncoder().encode(`op${index}`) };
        const { versions, version } = coordinatePut(before, context, actorOf(op.replica), this.nowMs, payload);
        const key = dotKey(version);
        if (this.written.has(key)) throw new Error(`dot ${key} issued twice`);
        const h = new Set(observed);
        h.add(key);
        this.history.set(key, h);
        this.written.set(key, version);
        this.replicas[op.replica] = versions;
        this.puts.push({ op: index, replica: op.replica, before, context, observed, version, after: versions });
        // The write's reply carries the new version's clock; a client writes on from it.
        client.context = version.clock;
        client.observed = new Set(h);
        return;
      }
      case 'sync':
        this.replicas[op.to] = syncSiblings(this.replicas[op.to]!, this.replicas[op.from]!);
        return;
    }
  }

  /** Every replica sends its state to every other, twice round: enough for any order. */
  fullSync(): void {
    for (let round = 0; round < 2; round++) {
      for (let from = 0; from < replicaCount; from++) {
        for (let to = 0; to < replicaCount; to++) if (from !== to) this.apply({ kind: 'sync', from, to }, -1);
      }
    }
  }

  static run(ops: readonly Op[]): History {
    const h = new History();
    ops.forEach((op, i) => h.apply(op, i));
    return h;
  }

  /** Dots some other write's writer had observed: the only ones a correct store may drop. */
  supersededDots(): Set<string> {
    const out = new Set<string>();
    for (const [dot, seen] of this.history) for (const d of seen) if (d !== dot) out.add(d);
    return out;
  }
}
