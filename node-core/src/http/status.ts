// What operators read: GET /status (this node's view of the cluster, as JSON) and GET /metrics
// (Prometheus text). Both stay outside the request budget (guards.ts).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { faultToJson } from '../core/faults.js';
import { send, sendJson } from './respond.js';
import type { ApiContext } from './route.js';
import type { StatusDocument } from '../wire/api.js';
import type { Documented } from './respond.js';

export const statusPath = '/status';
export const metricsPath = '/metrics';

/** The version /status reports, and /openapi.json's info.version. */
export const nodeVersion = '0.1.0';
/** Past this many partitions /status leaves out the owner of each, so the document stays small. */
const statusRingOwnersPartitionsMax = 4096;

export async function statusRoute(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse): Promise<number> {
  const { node, config, controlOn, respAddress } = ctx;
  const state = node.clusterState();
  const now = node.env.now();
  const hints = node.store.hintCounts();
  const me = state.members.get(config.id);
  // Typed against the document clients parse (wire/api.ts); the node adds more fields.
  const body: Documented<StatusDocument> = {
    node: { id: config.id, address: node.self.http, state: me?.state ?? 'joining', startedAt: new Date(node.startedAtMs).toISOString(), uptimeMs: now - node.startedAtMs, version: nodeVersion, pid: process.pid },
    listeners: { http: node.self.http, internode: node.self.internode, ...(respAddress ? { resp: respAddress } : {}), ...(controlOn ? { control: `${ctx.scheme}://${node.self.http}`, controlPath: '/socket.io' } : {}) },
    config: { n: config.n, r: config.r, w: config.w, partitions: config.partitions, requestTimeoutMs: config.requestTimeoutMs },
    members: node.memberViews().map((v) => ({ ...v, internode: state.members.get(v.id)?.internode, heartbeat: state.members.get(v.id)?.heartbeat })),
    hintsPending: [...hints.values()].reduce((a, b) => a + b, 0),
    hints: { byTarget: Object.fromEntries(hints), ...node.handoff.status() },
    transfers: {
      pending: state.ring.flatMap((r, partition) => (r.pendingTo ? [{ partition, from: r.owner, to: r.pendingTo }] : [])),
      active: node.transfers.active(),
      completed: node.transfers.completed,
      keysReceived: node.transfers.keysReceived,
    },
    antiEntropy: node.antiEntropy.status(),
    tombstones: node.reaper.status(),
    ring: state.partitions <= statusRingOwnersPartitionsMax ? { partitions: state.partitions, owners: state.ring.map((r) => r.owner) } : { partitions: state.partitions },
    storage: node.store.stats(),
    faults: node.faults.list().map((f) => faultToJson(f, now)),
    security: { tokenRequired: node.credentials.cluster !== undefined, adminTokenRequired: node.credentials.admin !== undefined, faultsAllowed: config.allowFaults === true },
  };
  sendJson(res, 200, body);
  return 200;
}

export async function metricsRoute(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse): Promise<number> {
  const { registry } = ctx.node.metrics;
  const text = await registry.metrics();
  send(res, 200, text, { 'content-type': registry.contentType });
  return 200;
}
