// A node's configuration and the parts it is built from: production passes SQLite, TCP and the
// wall clock (start/start-node.ts); the simulator passes MemoryStore, its network and its clock.

import type { Logger } from 'pino';
import type { Env } from '../core/env.js';
import type { MemberInfo } from '../core/gossip.js';
import type { Store } from '../core/store.js';
import type { Transport } from '../net/transport.js';
import type { ProcessControl } from './fault-injector.js';

export interface NodeConfig {
  readonly id: string;
  readonly dir: string;
  readonly host: string;
  /**
   * The host other nodes and clients reach this node at, in every address it announces
   * (gossip, /status, seeds); default host. Needed when host is a wildcard (0.0.0.0, ::).
   */
  readonly advertise?: string | undefined;
  readonly port: number;
  /** Origins (scheme://host[:port]) whose web pages may call the data routes; none by default. */
  readonly corsOrigins?: readonly string[] | undefined;
  /** Internode listener port; 0 picks a free one (announced in /status and gossip). */
  readonly internodePort: number;
  /** Seeds: other nodes' client HTTP addresses, host:port. */
  readonly seeds: readonly string[];
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly partitions: number;
  /** The cluster token: clients read and write with it, nodes prove it to each other. */
  readonly token: string | undefined;
  /**
   * The admin token: when set, it alone opens /admin/* (leave, traces, faults) and the control
   * plane's fault and trace commands; it also serves wherever the cluster token does.
   */
  readonly adminToken?: string | undefined;
  /** Chaos by consent: without it every fault injection (HTTP, Socket.IO, internode) is refused. */
  readonly allowFaults?: boolean;
  readonly requestTimeoutMs: number;
  readonly sync: 'normal' | 'full';
  readonly logLevel: string;
  /** A tombstone-only key is reaped this long after its newest tombstone. */
  readonly tombstoneGraceMs: number;
  /** How long a reaped key's clock is remembered to drop stale copies. */
  readonly reapedRetainMs: number;
}

/** The host a node is reached by, in every address it announces: --advertise, else the bound host. */
export function advertisedHost(c: Pick<NodeConfig, 'host' | 'advertise'>): string {
  return c.advertise ?? c.host;
}

export const defaultConfig = {
  n: 3,
  r: 2,
  w: 2,
  partitions: 64,
  requestTimeoutMs: 3000,
  sync: 'normal' as const,
  logLevel: 'info',
  tombstoneGraceMs: 3_600_000,
  reapedRetainMs: 7 * 86_400_000,
};

/** Dynamo 4.8: each node gossips with one random peer about once a second. */
export const gossipIntervalMs = 1000;
export const gossipTimeoutMs = 1000;
export const seedFetchTimeoutMs = 1000;

/** Asks a seed (a client address) for the cluster state it knows; undefined if it cannot answer yet. */
export type SeedLookup = (seed: string) => Promise<MemberInfo[] | undefined>;

export interface NodeParts {
  readonly config: NodeConfig;
  readonly store: Store;
  readonly transport: Transport;
  readonly env: Env;
  readonly log: Logger;
  /** The client address peers and seeds name this node by. */
  readonly httpAddress: string;
  readonly seedLookup: SeedLookup;
  readonly defaultMetrics?: boolean;
  /** Called when the node has left the cluster and may exit. */
  readonly onLeft?: () => void;
  /** Pause and crash faults act through this; without it they are refused. */
  readonly processControl?: ProcessControl;
  /**
   * Secret random bytes (the context key a node creates with its data folder). Production
   * passes crypto.randomBytes; without it they come from env.random (the simulator's seed).
   */
  readonly randomBytes?: (n: number) => Uint8Array;
}
