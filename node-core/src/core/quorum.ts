// Quorum decisions as a three-way result (etcd raft's VoteResult), so the coordinator reads
// as "once won, answer; once lost, fail" instead of counter arithmetic in callbacks.

import { invariant } from './assert.js';

export type VoteResult = 'won' | 'pending' | 'lost';

/**
 * `needed` successes out of `total` voters. Lost as soon as too many have failed for the
 * rest to make up the difference, so a request fails fast instead of waiting for its timeout.
 */
export function quorumResult(successes: number, failures: number, needed: number, total: number): VoteResult {
  invariant(needed >= 0 && successes >= 0 && failures >= 0 && successes + failures <= total, () => `votes ${successes}+${failures} of ${total}, ${needed} needed`);
  if (successes >= needed) return 'won';
  if (total - failures < needed) return 'lost';
  return 'pending';
}
