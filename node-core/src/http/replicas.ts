// GET /replicas/{key}: what each node of the key's preference list holds, asked one by one and
// shown side by side, for tools that watch replicas diverge and converge.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { partitionOf } from '../core/partitioner.js';
import { type Version, versionToJson } from '../core/siblings.js';
import { clockEvents } from '../core/vclock.js';
import { decodeKeySegment } from './kv.js';
import { sendJson, versionId } from './respond.js';
import type { ApiContext, PathParams } from './route.js';
import type { ReplicasDocument } from '../wire/api.js';
import type { Documented } from './respond.js';

export async function replicasRoute(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse, url: URL, params: PathParams): Promise<number> {
  const key = decodeKeySegment(params.key ?? '');
  const { node, config } = ctx;
  const withValues = url.searchParams.get('values') === 'true' || url.searchParams.get('values') === '1';
  const toJson = (v: Version) => ({
    ...versionToJson(v),
    version: versionId(v.dot),
    contentType: v.contentType,
    // This version's own clock, sealed like any context (exact, where `clock` is a summary).
    context: ctx.contextFor(v.clock, key),
    // The clock's exact events, in the open: what a tool needs to tell which version saw which.
    events: clockEvents(v.clock),
    ...(withValues ? { value: Buffer.from(v.value).toString('base64') } : {}),
  });
  const partition = partitionOf(key, config.partitions);
  const pref = node.preferenceList(partition);
  const timeoutMs = config.requestTimeoutMs;
  const replicasOut = await Promise.all(
    pref.map(async (id) => {
      try {
        const versions = await node.readReplica(id, key, timeoutMs);
        return { node: id, reachable: true, versions: versions.map(toJson) };
      } catch (e) {
        // An unreachable replica is part of the answer, not a failure of the request.
        return { node: id, reachable: false, error: (e as Error).message, versions: [] };
      }
    }),
  );
  const body: Documented<ReplicasDocument> = { key: key.toString('utf8'), partition, preferenceList: pref, replicas: replicasOut };
  sendJson(res, 200, body);
  return 200;
}
