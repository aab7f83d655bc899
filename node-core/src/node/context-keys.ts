// The cluster's context keys as this node holds them (issue 9): loaded from the data folder or
// made with it, merged as a bounded union from every gossip message, and consulted to check a
// client's context, refetching from the members when a context names a key we lack.

import { pack, unpack } from 'msgpackr';
import type { Logger } from 'pino';
import { type ContextKeyring, type ContextResult, decodeContext, makeContextKey, mergeKeyrings, packKeyring, parseKeyring, sameKeyrings } from '../core/context.js';
import { type Env, sleep } from '../core/env.js';
import type { Store } from '../core/store.js';

/** Rounds of asking the members for their keys start at least this far apart. */
export const keyRefreshIntervalMs = 100;
/** Random bytes of a new key. */
const contextKeyRandomBytes = 36;
const contextKeysMeta = 'contextKeys';

/** A context check: as decodeContext, or `notJoined` when this node cannot check it yet. */
export type ContextCheck = ContextResult | { readonly ok: false; readonly notJoined: true; readonly reason: string };

export interface ContextKeysHost {
  readonly env: Env;
  readonly log: Pick<Logger, 'error'>;
  readonly store: Pick<Store, 'getMeta' | 'setMeta'>;
  /** Secret random bytes (crypto in production, the seed in the simulator). */
  randomBytes(n: number): Uint8Array;
  /** One exchange with every reachable member and unresolved seed; their keys arrive through merge(). */
  askPeers(): Promise<void>;
  /** This node has heard from no member yet and still has seeds to reach. */
  alone(): boolean;
}

export class ContextKeys {
  private keyring: ContextKeyring;
  private refresh: Promise<void> | undefined;
  private lastRefreshMs = -Infinity;

  constructor(private readonly host: ContextKeysHost) {
    this.keyring = this.initial();
  }

  /**
   * The keys from the data folder, or a new key for a new folder. Kept before any context is
   * sealed with it, so a restart still verifies what this node handed out.
   */
  private initial(): ContextKeyring {
    const raw = this.host.store.getMeta(contextKeysMeta);
    if (raw) {
      let decoded: unknown;
      try {
        decoded = unpack(raw);
      } catch {
        decoded = undefined;
      }
      const saved = parseKeyring(decoded);
      if (saved) return saved;
      this.host.log.error('stored context keys are unreadable: starting with a new key (contexts sealed before may be refused)');
    }
    const ring = { keys: [makeContextKey(this.host.randomBytes(contextKeyRandomBytes), this.host.env.now())] };
    this.persist(ring);
    return ring;
  }

  /** The keys as this node knows them: the first seals, any verifies. */
  current(): ContextKeyring {
    return this.keyring;
  }

  /** Another node's keys (from a gossip message): the bounded union, kept if it changed. */
  merge(remote: ContextKeyring | undefined): void {
    if (!remote) return;
    const next = mergeKeyrings(this.keyring, remote);
    if (sameKeyrings(next, this.keyring)) return;
    this.keyring = next;
    this.persist(next);
  }

  /**
   * Checks a client's context. A context sealed with a key we lack may come from a member whose
   * key has not reached us yet (a node that just joined, or was wiped and made a new one): ask
   * the members for their keys once and check again. At most one such round is in flight, and
   * rounds start at least `keyRefreshIntervalMs` apart, so made-up key ids cannot flood peers.
   */
  async check(token: string, key: Uint8Array): Promise<ContextCheck> {
    const first = decodeContext(token, key, this.keyring);
    if (first.ok || !first.unknownKey) return first;
    await this.refreshOnce();
    const second = decodeContext(token, key, this.keyring);
    // A node that has heard from no member cannot tell a forged key from the cluster's: that
    // is unavailability (retry elsewhere or later), not a bad request.
    if (!second.ok && second.unknownKey && this.host.alone()) {
      return { ok: false, notJoined: true, reason: 'this node has not reached the cluster yet, so it cannot check the context; retry, or ask another node' };
    }
    return second;
  }

  /** Joins the round in flight, or the next one (which starts once the interval has passed). */
  private refreshOnce(): Promise<void> {
    if (this.refresh) return this.refresh;
    const wait = this.lastRefreshMs + keyRefreshIntervalMs - this.host.env.now();
    this.refresh = (wait > 0 ? sleep(this.host.env, wait) : Promise.resolve())
      .then(() => {
        this.lastRefreshMs = this.host.env.now();
        return this.host.askPeers();
      })
      // A failed round is a round without news: the check answers from the keys it has.
      .catch(() => undefined)
      .then(() => {
        this.refresh = undefined;
      });
    return this.refresh;
  }

  private persist(ring: ContextKeyring): void {
    void this.host.store.setMeta(contextKeysMeta, pack(packKeyring(ring))).catch((e: unknown) => this.host.log.error({ err: String(e) }, 'could not persist the context keys'));
  }
}
