// The RESP front end's view of a node: the coordinator's get and put, the context seal, and
// what INFO reports; and what each answered command tells the metrics and the console.

import { encodeContext } from '../core/context.js';
import type { GyreNode } from '../node/node.js';
import { type RespNode, isCommand } from './commands.js';
import type { CommandObserver } from './server.js';

const nodeVersion = '0.1.0';
const msPerSecond = 1000;
const opOf: Record<string, 'get' | 'put' | 'delete'> = { get: 'get', mget: 'get', exists: 'get', 'gyre.get': 'get', set: 'put', mset: 'put', 'gyre.put': 'put', del: 'delete', 'gyre.del': 'delete' };
const minus = 0x2d;
const dollar = 0x24;

export function respNode(node: GyreNode, port: () => number, connections: () => number): RespNode {
  const config = node.config;
  return {
    n: config.n,
    r: config.r,
    w: config.w,
    timeoutMs: config.requestTimeoutMs,
    get: (key, r, timeoutMs) => node.coordinator.get(key, r, timeoutMs),
    put: (req) => node.coordinator.put({ key: req.key, payload: { deleted: req.deleted, value: req.value, contentType: req.contentType }, context: req.context, w: req.w, timeoutMs: req.timeoutMs, supersede: req.supersede }),
    checkContext: (token, key) => node.checkContext(token, key),
    contextFor: (clock, key) => encodeContext(clock, key, node.contextKeys()),
    info: () => ({
      nodeId: config.id,
      http: node.self.http,
      version: nodeVersion,
      port: port(),
      uptimeSeconds: Math.floor((node.env.now() - node.startedAtMs) / msPerSecond),
      connectedClients: connections(),
      keysHere: node.store.stats().keys,
      sync: config.sync,
    }),
  };
}

/** The outcome label of a reply: `ok`, or an error reply's code (its first word). */
function outcomeOf(reply: Buffer): string {
  if (reply[0] !== minus) return 'ok';
  const space = reply.indexOf(0x20);
  return reply.subarray(1, space > 0 ? Math.min(space, 24) : 24).toString('latin1').toLowerCase();
}

/** An HTTP-like status for the console's op windows: 200, 404 (a null GET), 503 (unavailable) or 400. */
function statusOf(reply: Buffer): number {
  if (reply[0] === dollar && reply[1] === minus) return 404;
  if (reply[0] !== minus) return 200;
  return outcomeOf(reply) === 'unavailable' ? 503 : 400;
}

export function respObserver(node: GyreNode): CommandObserver {
  return (name, reply, ms) => {
    // Unknown names (the client's text) are all `other`: the label set stays bounded.
    node.metrics.respCommands.inc({ command: isCommand(name) ? name : 'other', outcome: outcomeOf(reply) });
    const op = opOf[name];
    if (op) node.observe.recordOp(op, ms, statusOf(reply));
  };
}
