// Production wiring of a node: SQLite on disk, TCP between nodes, pino logs, the wall clock,
// crypto randomness and real process faults. Only the CLI imports this module: the simulator
// builds the same GyreNode from in-memory parts and never loads better-sqlite3 or node:net.

import { randomBytes } from 'node:crypto';
import { pack, unpack } from 'msgpackr';
import { pino, type DestinationStream, type Logger } from 'pino';
import { retentionMeta } from '../store/backup.js';
import { GyreNode, type NodeConfig, type SeedLookup, advertisedHost, seedFetchTimeoutMs } from '../node/node.js';
import type { Store } from '../core/store.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { TcpTransport } from '../net/tcp-transport.js';
import { realEnv, realProcessControl } from './real-env.js';
import { GyreClient } from '../client/client.js';
import type { TlsMaterial } from './tls.js';

/** Starts a node on its data folder and listeners; resolves once it is listening and gossiping. */
/** The node's pino logger (secrets and values redacted), to standard output or the given destination. */
export function nodeLogger(config: NodeConfig, destination?: DestinationStream): Logger {
  const options = { level: config.logLevel, base: { node: config.id }, redact: { paths: ['token', '*.token', 'authorization', '*.authorization', 'value', '*.value'], censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}

export async function startNode(config: NodeConfig, opts: { log?: Logger; onLeft?: () => void; tls?: TlsMaterial | undefined } = {}): Promise<GyreNode> {
  const material = opts.tls;
  // Logs carry ids, counts and reasons, never values or secrets; redaction is the safety net.
  const log = opts.log ?? nodeLogger(config);
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
  // What a restore of this node's backup takes as its default age limit (store/backup.ts).
  const retention = String(cfg.reapedRetainMs);
  if (Buffer.from(store.getMeta(retentionMeta) ?? []).toString() !== retention) await store.setMeta(retentionMeta, Buffer.from(retention));
  let transport: TcpTransport;
  try {
    transport = await TcpTransport.listen({
      host: cfg.host,
      advertise: advertisedHost(cfg),
      port: cfg.internodePort,
      nodeId: cfg.id,
      token: cfg.token,
      log: (level, msg, fields) => log[level](fields ?? {}, msg),
      ...(material ? { tls: { serverOptions: () => material.internodeServer(), clientOptions: () => material.internodeClient(), onServer: (s, o) => material.track(s, o) } } : {}),
    });
  } catch (e) {
    await store.close();
    throw listenProblem(e, 'internode', cfg.host, cfg.internodePort, '--internode-port');
  }
  if (!cfg.token && !isLoopbackIp(transport.boundIp)) {
    // Protected mode, judged on the address the kernel bound (a name can resolve anywhere).
    transport.close();
    await store.close();
    throw new Error(`refusing to serve internode on ${transport.boundIp} without a cluster token (protected mode): set GYRE_TOKEN or --token-file, or bind a loopback address`);
  }
  const node = new GyreNode({ config: cfg, store, transport, env: realEnv, log, httpAddress: `${advertisedHost(cfg)}:${cfg.port}`, seedLookup: httpSeedLookup(cfg.token, material, log), defaultMetrics: true, onLeft: opts.onLeft, processControl: realProcessControl, randomBytes: (n) => randomBytes(n) });
  node.begin();
  return node;
}

/** A listener that could not bind, said with the flag that moves it (a port in use is the usual case). */
export function listenProblem(e: unknown, what: string, host: string, port: number, flag: string): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new Error(`the ${what} port ${port} on ${host} is already in use (another node, or another program): stop it, or give ${flag}`);
  if (code === 'EACCES') return new Error(`the ${what} port ${port} on ${host} needs privileges this process lacks (ports below 1024): give ${flag} 1024 or above`);
  if (code === 'EADDRNOTAVAIL') return new Error(`${host} is not an address of this machine (--host): give one of its addresses, or 0.0.0.0 with --advertise`);
  return e instanceof Error ? e : new Error(String(e));
}

/** Seeds are client HTTP addresses: GET /status of one tells the members' internode addresses. */
/**
 * Seeds are client HTTP addresses (https when this node runs TLS, checked against --tls-ca or
 * the system's CAs: the token goes with the request): GET /status of one tells the members'
 * internode addresses. A seed that answers in the other protocol is said once in the log.
 */
export function httpSeedLookup(token: string | undefined, tls?: TlsMaterial, log?: Logger): SeedLookup {
  const said = new Set<string>();
  return async (seed) => {
    const client = new GyreClient({ failover: false, url: `${tls ? 'https' : 'http'}://${seed}`, token, keepAlive: false, timeoutMs: seedFetchTimeoutMs, ...(tls?.ca ? { ca: tls.ca } : {}) });
    try {
      const { node, listeners } = await client.status();
      if (!listeners) return undefined; // not a Gyre node's status: it names no internode address
      return [{ id: node.id, http: listeners.http, internode: listeners.internode }];
    } catch (e) {
      const why = protocolMismatch(e, tls !== undefined);
      if (why && !said.has(seed)) {
        said.add(seed);
        log?.error({ seed }, why);
      }
      return undefined; // not up yet, or not a Gyre node: the next round asks again
    }
  };
}

/** The clear message for a seed that speaks the other protocol, when its error says so. */
function protocolMismatch(e: unknown, weUseTls: boolean): string | undefined {
  const code = (e as { code?: unknown }).code;
  const msg = String((e as Error).message ?? '');
  if (weUseTls && (code === 'EPROTO' || /wrong version number|packet length too long/.test(msg))) return 'this node runs TLS but the seed answers in plain HTTP: a TLS node does not join a cluster without TLS';
  if (weUseTls && /certificate|self.signed|UNABLE_TO_VERIFY/i.test(`${String(code)} ${msg}`)) return `the seed's TLS certificate is not trusted (${msg}): pass the cluster's CA with --tls-ca`;
  if (!weUseTls && (code === 'ECONNRESET' || /socket hang up/.test(msg))) return 'the seed closed the connection without answering: if the cluster runs TLS, this node needs --tls-cert and --tls-key (and --tls-ca) to join it';
  return undefined;
}

/** Whether the kernel's bound address is a loopback one (127.0.0.0/8, ::1, or v4 loopback mapped into v6). */
export function isLoopbackIp(ip: string): boolean {
  return /^127\./.test(ip) || ip === '::1' || /^::ffff:127\./i.test(ip);
}

function loadShape(store: Store): { partitions: number; n: number } | undefined {
  const raw = store.getMeta('shape');
  if (!raw) return undefined;
  const v = unpack(raw) as { partitions?: unknown; n?: unknown };
  if (typeof v.partitions === 'number' && typeof v.n === 'number') return { partitions: v.partitions, n: v.n };
  return undefined;
}
