// What a replica does with versions that arrive from elsewhere (a write, a hint delivered, a
// transfer, anti-entropy): the store updater every merge path shares, so the rule is written once.

import { type Version, sameSiblings, syncSiblings } from './siblings.js';
import type { Updater } from './store.js';
import { type VClock, compare, covers, join } from './vclock.js';

export interface MergeOptions {
  /** Data space (reaped clocks apply) or a hint space (they do not). */
  readonly data: boolean;
  /** A fresh client write may not push the key past this many siblings (undefined: never refused). */
  readonly refuseOver?: { readonly max: number; readonly error: (siblings: number) => Error } | undefined;
}

/**
 * Merges `incoming` into what the replica holds; the result says whether anything changed.
 * Versions a reaped tombstone covered are stale copies arriving late: they are dropped, ours
 * included when the news of a reap reaches us with the data (a reap that missed us).
 */
export function replicaMerge(incoming: readonly Version[], incomingReaped: VClock | undefined, opts: MergeOptions): Updater<boolean> {
  return (cur, tools) => {
    const known = opts.data ? tools.reaped() : undefined;
    const reaped = incomingReaped && opts.data ? (known ? join(known, incomingReaped) : incomingReaped) : known;
    const live = (vs: readonly Version[]) => (reaped ? vs.filter((v) => !covers(reaped, v.dot)) : vs);
    const merged = syncSiblings(live(cur), live(incoming));
    if (opts.refuseOver && merged.length > opts.refuseOver.max && merged.length > cur.length) throw opts.refuseOver.error(merged.length);
    const same = sameSiblings(merged, cur);
    const learned = reaped !== undefined && reaped !== known && (!known || compare(reaped, known) !== 'equal');
    if (learned) return { versions: merged, result: !same, reaped };
    return { versions: same ? undefined : merged, result: !same };
  };
}
