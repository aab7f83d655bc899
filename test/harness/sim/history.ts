// The simulator's index of versions: the oracle sees every sibling set any store ever
// committed, which tells each version's dot, clock and writer, and catches a dot used for two
// different versions. The history itself and the checker are product code
// (node-core/src/verify/); this file re-exports them for the harness's older imports.

import type { Version } from '../../../node-core/src/core/siblings.js';
import { covers, equalClocks, type VClock } from '../../../node-core/src/core/vclock.js';
import type { Space } from '../../../node-core/src/core/store.js';
import { type DotConflict, type KnownVersion, type VersionIndex, describeVersion, dotOf, writerOf } from '../../../node-core/src/verify/history.js';
import type { CommitObserver } from './disk.js';

export * from '../../../node-core/src/verify/history.js';

/** Sees every committed sibling set (CommitObserver) and indexes versions by key and dot. */
export class Oracle implements CommitObserver, VersionIndex {
  private readonly versions = new Map<string, Map<string, KnownVersion>>();
  readonly conflicts: DotConflict[] = [];
  /** Keys some replica reaped (its tombstones' clock is then joined into later writes). */
  readonly reapedKeys = new Set<string>();
  /** Called for each commit, for the per-key trace. */
  onCommit: ((key: string, line: string) => void) | undefined;

  constructor(private readonly now: () => number) {}

  committed(node: string, keyBytes: Uint8Array, space: Space, versions: readonly Version[], reaped: VClock | undefined): void {
    const key = Buffer.from(keyBytes).toString('utf8');
    if (reaped) this.reapedKeys.add(key);
    let byDot = this.versions.get(key);
    if (!byDot) {
      byDot = new Map();
      this.versions.set(key, byDot);
    }
    for (const v of versions) {
      const dot = dotOf(v);
      const have = byDot.get(dot);
      // Stored versions are immutable: the same dot must always carry the same version.
      if (have && have.deleted === v.deleted && have.clock === v.clock) continue;
      const known: KnownVersion = { key, dot, event: { actor: v.dot.actor, counter: v.dot.counter }, writeId: writerOf(v), deleted: v.deleted, value: Buffer.from(v.value).toString('utf8'), clock: v.clock, firstAt: this.now(), firstNode: node };
      if (!have) byDot.set(dot, known);
      else if (have.writeId !== known.writeId || have.deleted !== known.deleted || have.value !== known.value || !have.clock || !equalClocks(have.clock, v.clock)) {
        this.conflicts.push({ key, dot, first: describeVersion(have), second: describeVersion(known), at: this.now(), node });
      }
    }
    const where = space.kind === 'data' ? '' : ` hint for ${space.target}`;
    const what = versions.length === 0 ? (reaped ? 'reaped' : 'deleted') : versions.map((v) => `${writerOf(v) ?? '?'}${v.deleted ? '(del)' : ''}@${dotOf(v)}`).join(' ');
    this.onCommit?.(key, `${this.now()} ${node} commit${where}: ${what}`);
  }

  /** The writes (by id, `?` if unrecognisable) whose committed versions `clock` covers. */
  covered(key: string, clock: VClock): string[] {
    const out: string[] = [];
    for (const v of this.versions.get(key)?.values() ?? []) if (covers(clock, v.event)) out.push(v.writeId ?? '?');
    return out.sort();
  }

  version(key: string, dot: string): KnownVersion | undefined {
    return this.versions.get(key)?.get(dot);
  }

  versionsOf(key: string): KnownVersion[] {
    return [...(this.versions.get(key)?.values() ?? [])];
  }

  keys(): string[] {
    return [...this.versions.keys()];
  }
}
