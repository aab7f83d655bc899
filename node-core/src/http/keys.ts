// GET /keys: a paged listing of the whole cluster's keys. The walk goes partition by partition
// from the cursor; for each it asks every reachable replica of the partition's preference list
// for its smallest keys after the cursor's (this node's store directly, the others with the
// internode `listKeys` request), merges their answers (core/listing.ts) and keeps what every
// replica has vouched for. A request stops when its page is full, or when its time or
// partition budget is spent, and hands back a cursor to go on from. Expensive (every replica
// of every partition walked is read) and eventually consistent: a key written or deleted
// during the walk may or may not show.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { keyBytesMax } from '../core/codec.js';
import { type ListCursor, type MergedKey, decodeCursor, encodeCursor, keyText, listKeysMax, mergeListings } from '../core/listing.js';
import { ringOf } from '../core/gossip.js';
import { computePreferenceList } from '../core/ring.js';
import { HttpError, sendJson } from './respond.js';
import type { ApiContext } from './route.js';
import type { KeyListingDocument, ListedKeyJson } from '../wire/api.js';

export const keysPath = '/keys';
export const listLimitDefault = 100;
export { listKeysMax };
/** The longest prefix taken: a key's length. */
export const listPrefixBytesMax = keyBytesMax;
/** How long one request walks before it answers with what it has and a cursor. */
export const listTimeBudgetMs = 2000;
/** Partitions one request walks at most (a cluster of mostly empty partitions is walked over several pages). */
export const listPartitionsPerRequestMax = 4096;
/** Rounds of replica requests one request makes at most (a partition of many tombstones takes several). */
export const listRoundsPerRequestMax = 512;
/** The JSON of one page at most: 1000 keys of 1024 bytes each come to about 3.5 MiB. */
export const listResponseBytesMax = 4 * 1024 * 1024;
/** A replica request is given at least this long, even when the time budget is nearly spent. */
const listReplicaTimeoutMinMs = 250;
/** The header (and x-gyre-cost in /openapi.json) that marks a request as a cluster-wide scan. */
export const costHeader = 'X-Gyre-Cost';

const percentCharCode = 0x25; // '%'
const plusCharCode = 0x2b; // '+'
const spaceByte = 0x20;
const asciiCharCodeEnd = 0x80;

/**
 * A query parameter's raw value percent-decoded to bytes (a prefix is bytes, not necessarily
 * UTF-8, so URLSearchParams' decoding would lose it); `+` is a space, as in form encoding.
 */
function decodeQueryBytes(raw: string, bytesMax: number, code: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === percentCharCode) {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new HttpError(400, `bad_${code}`, `malformed percent-encoding in ${code} at offset ${i}`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (c === plusCharCode) out.push(spaceByte);
    else if (c < asciiCharCodeEnd) out.push(c);
    else for (const b of Buffer.from(raw[i]!)) out.push(b);
    if (out.length > bytesMax) throw new HttpError(400, `${code}_too_long`, `a ${code} is at most ${bytesMax} bytes`);
  }
  return Buffer.from(out);
}

/** The query's parameters as sent (still percent-encoded); a name given twice is refused, not guessed at. */
function rawQuery(url: URL): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of url.search.slice(1).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    if (out.has(name)) throw new HttpError(400, 'bad_request', `the query names ${JSON.stringify(name.slice(0, 32))} twice`);
    out.set(name, eq < 0 ? '' : part.slice(eq + 1));
  }
  return out;
}

export interface ListQuery {
  readonly prefix: Buffer | undefined;
  readonly limit: number;
  readonly cursor: ListCursor;
  readonly tombstones: boolean;
}

/** Every parameter of GET /keys, checked once. */
export function parseListQuery(url: URL, partitions: number): ListQuery {
  const q = rawQuery(url);
  const rawPrefix = q.get('prefix');
  const prefixBytes = rawPrefix === undefined ? undefined : decodeQueryBytes(rawPrefix, listPrefixBytesMax, 'prefix');
  const prefix = prefixBytes !== undefined && prefixBytes.byteLength > 0 ? prefixBytes : undefined;
  const rawLimit = q.get('limit');
  let limit = listLimitDefault;
  if (rawLimit !== undefined) {
    if (!/^\d{1,4}$/.test(rawLimit) || Number(rawLimit) < 1 || Number(rawLimit) > listKeysMax) throw new HttpError(400, 'bad_limit', `limit must be an integer in 1..${listKeysMax}`);
    limit = Number(rawLimit);
  }
  const rawTombstones = q.get('tombstones');
  if (rawTombstones !== undefined && !['0', '1', 'true', 'false'].includes(rawTombstones)) throw new HttpError(400, 'bad_tombstones', 'tombstones must be 1 (or true) to include deleted keys, 0 (or false) to leave them out');
  const rawCursor = q.get('cursor');
  let cursor: ListCursor = { partition: 0, afterKey: undefined };
  if (rawCursor !== undefined) {
    let text: string;
    try {
      text = decodeURIComponent(rawCursor);
    } catch {
      throw new HttpError(400, 'bad_cursor', 'malformed percent-encoding in the cursor');
    }
    const decoded = decodeCursor(text, partitions, prefix);
    if (!decoded.ok) throw new HttpError(400, 'bad_cursor', decoded.reason);
    cursor = decoded.cursor;
  }
  return { prefix, limit, cursor, tombstones: rawTombstones === '1' || rawTombstones === 'true' };
}

function keyJson(k: MergedKey, partition: number): ListedKeyJson {
  return { key: keyText(k.key), key64: k.key.toString('base64'), siblings: k.siblings, bytes: k.bytes, deleted: k.deleted, partition };
}

/** Bytes of a page's JSON besides its keys (the cursor, scanned, unavailable), generously. */
const pageOverheadBytes = 64 * 1024;

export async function listKeysRoute(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse, url: URL): Promise<number> {
  const { node, config } = ctx;
  const query = parseListQuery(url, config.partitions);
  const deadline = node.env.now() + listTimeBudgetMs;
  // The ring as the request began, copied once (node.preferenceList copies it, O(Q), per call).
  const ring = ringOf(node.clusterState());
  const keys: ListedKeyJson[] = [];
  const unavailable: number[] = [];
  let bytes = pageOverheadBytes;
  let pos: ListCursor = query.cursor;
  let partitionsWalked = 0;
  let rounds = 0;
  let full = false;
  let lastPartition = -1;
  while (pos.partition < config.partitions && !full && node.env.now() < deadline && rounds < listRoundsPerRequestMax) {
    const p = pos.partition;
    if (p !== lastPartition) {
      if (partitionsWalked >= listPartitionsPerRequestMax) break;
      partitionsWalked++;
      lastPartition = p;
    }
    rounds++;
    const range = { partition: p, afterKey: pos.afterKey, prefix: query.prefix, limit: query.limit - keys.length };
    const timeoutMs = Math.min(config.requestTimeoutMs, Math.max(listReplicaTimeoutMinMs, deadline - node.env.now()));
    const asked = computePreferenceList(ring, p, config.n).filter((id) => node.isReachable(id));
    const answers = await Promise.all(asked.map((id) => node.listReplica(id, range, timeoutMs).catch(() => undefined)));
    const replies = answers.filter((a) => a !== undefined);
    if (replies.length === 0) {
      // Nobody to ask, or nobody answered: said in the page, and the walk goes on without it.
      unavailable.push(p);
      pos = { partition: p + 1, afterKey: undefined };
      continue;
    }
    const merged = mergeListings(replies);
    for (const k of merged.keys) {
      if (k.deleted && !query.tombstones) {
        pos = { partition: p, afterKey: k.key };
        continue;
      }
      const entry = keyJson(k, p);
      const size = Buffer.byteLength(JSON.stringify(entry)) + 1;
      if (keys.length >= query.limit || bytes + size > listResponseBytesMax) {
        full = true;
        break;
      }
      keys.push(entry);
      bytes += size;
      pos = { partition: p, afterKey: k.key };
    }
    if (keys.length >= query.limit) full = true;
    // Every key the replicas returned is consumed and none holds more: the partition is done.
    if (!full && merged.exhausted) pos = { partition: p + 1, afterKey: undefined };
  }
  const done = pos.partition >= config.partitions;
  const body: KeyListingDocument = {
    keys,
    cursor: done ? null : encodeCursor(pos, query.prefix),
    scanned: { partitions: Math.min(pos.partition, config.partitions), total: config.partitions },
    unavailable,
  };
  sendJson(res, 200, body, { [costHeader]: 'scan', 'Cache-Control': 'no-store' });
  return 200;
}
