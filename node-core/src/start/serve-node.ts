// A node with all its listeners: the node itself (startNode: store, internode transport,
// gossip), then RESP, then the client HTTP API with the control plane on it. Everything a node
// promises about who may reach it is checked here, on what was actually bound:
// - protected mode: a listener the kernel bound to a non-loopback address needs a cluster
//   token, and a strong one, whatever name --host gave (a name can resolve anywhere); the CLI
//   leaves this to the node;
// - the data folder is 0700 and what the node creates in it 0600 (the umask);
// - TLS on every listener when certificate files are given, renewed on SIGHUP.

import { chmodSync, mkdirSync } from 'node:fs';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type tls from 'node:tls';
import { type GyreNode, type NodeConfig, advertisedHost } from '../node/node.js';
import { createApiServer } from '../http/api.js';
import { createRespServer, type RespServer } from '../resp/server.js';
import { respNode, respObserver } from '../resp/backend.js';
import { isLoopbackIp, listenProblem, nodeLogger, startNode } from './start-node.js';
import { RotatingLog, type RotatingLogOptions } from './rotating-log.js';
import { TlsMaterial, type TlsFiles } from './tls.js';
import { weakSecretProblem } from './secret-files.js';
import { settingsView } from './settings-view.js';
import { LogRing } from '../node/log-ring.js';
import { pino, type DestinationStream } from 'pino';

export interface ServeOptions {
  /** Serve the Socket.IO control plane on the HTTP port. */
  readonly control: boolean;
  /** RESP port; 0 picks a free one. */
  readonly respPort: number;
  readonly tls?: TlsFiles | undefined;
  readonly onLeft?: () => void;
  /** Log to this size-rotated file instead of standard output. */
  readonly log?: RotatingLogOptions | undefined;
}

export interface ServedNode {
  readonly node: GyreNode;
  readonly http: http.Server;
  readonly resp: RespServer;
  /** host:port of each listener. */
  readonly addresses: { readonly http: string; readonly internode: string; readonly resp: string };
  /** Reads the TLS files again (SIGHUP); throws, keeping the old ones, if they do not load. */
  reloadTls(): void;
  /** Closes the listeners and the node. */
  stop(): Promise<void>;
}

function listen(server: http.Server | RespServer['server'], port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server.address() as AddressInfo));
  });
}

/** Starts the node and binds every listener; refuses (closing what it opened) where protected mode says no. */
export async function serveNode(config: NodeConfig, opts: ServeOptions): Promise<ServedNode> {
  process.umask(0o077);
  mkdirSync(config.dir, { recursive: true, mode: 0o700 });
  chmodSync(config.dir, 0o700);
  const material = opts.tls ? new TlsMaterial(opts.tls) : undefined;
  const logFile = opts.log ? new RotatingLog(opts.log) : undefined;
  // Every line goes to the log (file or standard output, written synchronously as before) and
  // into the ring GET /admin/log reads.
  const logRing = new LogRing();
  const out: DestinationStream = logFile ?? pino.destination({ dest: 1, sync: true });
  const tee: DestinationStream = {
    write: (line: string) => {
      logRing.push(line);
      out.write(line);
    },
  };
  const node = await startNode(config, { onLeft: opts.onLeft, tls: material, log: nodeLogger(config, tee) });
  const exposed: string[] = [];
  const weak = [config.token === undefined ? undefined : weakSecretProblem('the cluster token', config.token), config.adminToken ? weakSecretProblem('the admin token', config.adminToken) : undefined].filter((w): w is string => w !== undefined);
  const guard = (what: string, ip: string) => {
    if (isLoopbackIp(ip)) return;
    if (node.credentials.cluster === undefined) exposed.push(`${what} on ${ip} without a cluster token`);
    else if (weak.length > 0) exposed.push(`${what} on ${ip} with a weak token (${weak.join('; ')})`);
  };
  // The internode listener is judged inside startNode, before the node gossips.
  const resp = createRespServer(respNode(node, () => respPort, () => resp.connectionCount()), { credentials: node.credentials, observe: respObserver(node), tls: material?.clientFacing() });
  let respPort = 0;
  let server: http.Server | undefined;
  try {
    const r = await listen(resp.server, opts.respPort, config.host).catch((e: unknown) => {
      throw listenProblem(e, 'RESP', config.host, opts.respPort, '--resp-port');
    });
    respPort = r.port;
    guard('RESP', r.address);
    const respAddress = `${advertisedHost(config)}:${respPort}`;
    server = createApiServer(node, { control: opts.control, respAddress, tls: material?.clientFacing(), logRing, settings: settingsView(config, opts) });
    const h = await listen(server, config.port, config.host).catch((e: unknown) => {
      throw listenProblem(e, 'client HTTP', config.host, config.port, '--port');
    });
    guard('HTTP', h.address);
    if (exposed.length > 0) throw new Error(`refusing to serve ${exposed.join(', ')} (protected mode): set a strong GYRE_TOKEN or --token-file, or bind a loopback address`);
    // On loopback a guessable token is allowed, and said.
    for (const w of weak) node.log.warn({}, `weak token: ${w}`);
    if (material) {
      material.track(resp.server as tls.Server, () => material.clientFacing());
      material.track(server as unknown as tls.Server, () => material.clientFacing());
    }
    const httpServer = server;
    return {
      node,
      http: httpServer,
      resp,
      addresses: { http: `${advertisedHost(config)}:${h.port}`, internode: node.self.internode, resp: respAddress },
      reloadTls: () => material?.reload(),
      stop: async () => {
        httpServer.close();
        httpServer.closeAllConnections();
        await resp.close();
        await node.stop();
      },
    };
  } catch (e) {
    server?.close();
    await resp.close();
    await node.stop();
    throw e;
  }
}
