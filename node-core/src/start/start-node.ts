// Production wiring of a node: SQLite on disk, TCP between nodes, pino logs, the wall clock,
// crypto randomness and real process faults. Only the CLI imports this module: the simulator
// builds the same GyreNode from in-memory parts and never loads better-sqlite3 or node:net.

import { randomBytes } from 'node:crypto';
import { pack, unpack } from 'msgpackr';
import { pino, type Logger } from 'pino';
import { GyreNode, type NodeConfig, type SeedLookup, seedFetchTimeoutMs } from '../node/node.js';
import type { Store } from '../core/store.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { TcpTransport } from '../net/tcp-transport.js';
import { realEnv, realProcessControl } from './real-env.js';
import { GyreClient } from '../client/client.js';

/** Starts a node on its data folder and listeners; resolves once it is listening and gossiping. */
export async function startNode(config: NodeConfig, opts: { log?: Logger; onLeft?: () => void } = {}): Promise<GyreNode> {
  // Logs carry ids, counts and reasons, never values or secrets; redaction is the safety net.
  const log = opts.log ?? pino({ level: config.logLevel, base: { node: config.id }, redact: { paths: ['token', '*.token', 'authorization', '*.authorization', 'value', '*.value'], censor: '[redacted]' } });
  const store = new SqliteStore(config.dir, {
    nodeId: config.id,
    now: () => realEnv.now(),
    sync: config.sync,
    onQuarantine: (key, partition, space, reason) => log.error({ partition, space: space.kind === 'hint' ? `hint:${space.target}` : 'data', keyBytes: key.byteLength, reason }, 'unreadable row moved to quarantine; its key is repaired from the other replicas'),
  });
  const shape = loadShape(store);
  let cfg = config;
  if (shape && (shape.partitions !== config.partitions || shape.n !== config.n)) {
    // Q is fixed when the cluster is created: the data on disk was placed with it.
    log.warn({ stored: shape, flags: { partitions: config.partitions, n: config.n } }, 'using the partition count and N stored in the data folder');
    cfg = { ...config, partitions: shape.partitions, n: shape.n };
  } else if (!shape) {
    await store.setMeta('shape', pack({ partitions: config.partitions, n: config.n }));
  }
  let transport: TcpTransport;
  try {
    transport = await TcpTransport.listen({
      host: cfg.host,
      port: cfg.internodePort,
      nodeId: cfg.id,
      token: cfg.token,
      log: (level, msg, fields) => log[level](fields ?? {}, msg),
    });
  } catch (e) {
    await store.close();
    throw e;
  }
  const node = new GyreNode({ config: cfg, store, transport, env: realEnv, log, httpAddress: `${cfg.host}:${cfg.port}`, seedLookup: httpSeedLookup(cfg.token), defaultMetrics: true, onLeft: opts.onLeft, processControl: realProcessControl, randomBytes: (n) => randomBytes(n) });
  node.begin();
  return node;
}

/** Seeds are client HTTP addresses: GET /status of one tells the members' internode addresses. */
export function httpSeedLookup(token: string | undefined): SeedLookup {
  return async (seed) => {
    const client = new GyreClient({ url: `http://${seed}`, token, keepAlive: false, timeoutMs: seedFetchTimeoutMs });
    try {
      const { node, listeners } = await client.status();
      if (!listeners) return undefined; // not a Gyre node's status: it names no internode address
      return [{ id: node.id, http: listeners.http, internode: listeners.internode }];
    } catch {
      return undefined; // not up yet, or not a Gyre node: the next round asks again
    }
  };
}

function loadShape(store: Store): { partitions: number; n: number } | undefined {
  const raw = store.getMeta('shape');
  if (!raw) return undefined;
  const v = unpack(raw) as { partitions?: unknown; n?: unknown };
  if (typeof v.partitions === 'number' && typeof v.n === 'number') return { partitions: v.partitions, n: v.n };
  return undefined;
}
