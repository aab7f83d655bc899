// What every replication loop needs from the node that runs it. Each loop declares its own
// host interface on top of this one (HandoffHost, TransferHost, ExchangeHost, ReaperHost), so
// a loop sees only what it uses, and its unit test drives it with a small fake instead of a node.

import type { Env } from '../core/env.js';
import type { ClusterState } from '../core/gossip.js';
import type { Request } from '../net/messages.js';

/** Structured logs (pino's shape): fields first, then the message. */
export interface LoopLog {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface LoopHost {
  /** This node's id. */
  readonly selfId: string;
  /** Replicas per key (N). */
  readonly n: number;
  readonly env: Env;
  readonly log: LoopLog;
  /** The gossiped cluster state as this node holds it now. */
  clusterState(): ClusterState;
  /** The failure detector's view: only nodes seen up are sent loop traffic. */
  isUp(id: string): boolean;
  /** The N nodes that replicate a partition under the current ring. */
  preferenceList(partition: number): string[];
  /** One internode request; resolves with the peer's raw reply (the loop parses it), rejects when none came. */
  call(node: string, req: Request, timeoutMs: number): Promise<unknown>;
}
