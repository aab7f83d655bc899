// Internode messages: typed values and their one validating parser. A peer (or anything
// else that reaches the internode port) can send arbitrary bytes; `parseRequest` turns them
// into a typed request or a reason, and the node never touches an unparsed body.

import { type Parsed, type PackedVersion, entryProblem, packClock, packVersions, parseClock, parseVersions, keyBytesMax, valueBytesMax, contentTypeBytesMax } from '../core/codec.js';
import type { Version } from '../core/siblings.js';
import type { VClock } from '../core/vclock.js';
import { type ClusterState, type MemberInfo, type MemberRecord, type MemberState, type PartitionRecord, gossipCounterLimit } from '../core/gossip.js';
import type { CoordinateReply } from '../core/coordinator.js';
import { partitionsMax } from '../core/partitioner.js';
import { digestBytes } from '../core/merkle.js';
import { idBytesMax, isValidNodeId } from '../core/ids.js';
import { type ContextKeyring, packKeyring, parseKeyring } from '../core/context.js';
import { type FaultSpec, type FaultTable, activeFaults, faultDurationMaxMs, faultsMax, healedMax, parseFaultSpec, pauseDurationMaxMs } from '../core/faults.js';
import { invariant } from '../core/assert.js';
import { type ListedKey, type ReplicaListing, listKeysMax } from '../core/listing.js';

export const membersPerMessageMax = 10_000;
/** The largest member version, heartbeat and partition epoch accepted (see core/gossip.ts). */
export const gossipCounterMax = gossipCounterLimit;
export { idBytesMax };
export type { CoordinateReply, MemberInfo };
/** Keys in one writeMany or fold batch. */
export const batchKeysMax = 512;
/** Keys listed in one anti-entropy key-digest reply. */
export const aeKeysMax = 8192;
/** Leaves of one Merkle tree. */
export const merkleLeavesMax = 4096;

export interface KeyVersions {
  readonly key: Uint8Array;
  readonly partition: number;
  readonly versions: readonly Version[];
  /** The clock of reaped tombstones the sender remembers for this key: travels with the data. */
  readonly reaped?: VClock | undefined;
}

function packKeyVersions(i: KeyVersions): unknown[] {
  return [i.key, i.partition, packVersions(i.versions), i.reaped ? packClock(i.reaped) : null];
}

export type Request =
  /** Cluster state, and the context keys (they travel only on this authenticated channel). */
  | { readonly t: 'gossip'; readonly state: ClusterState; readonly keys: ContextKeyring | undefined }
  | { readonly t: 'read'; readonly key: Uint8Array; readonly hintFor: string | undefined }
  | { readonly t: 'write'; readonly key: Uint8Array; readonly partition: number; readonly versions: readonly Version[]; readonly hintFor: string | undefined; readonly fresh: boolean }
  | { readonly t: 'writeMany'; readonly items: readonly KeyVersions[] }
  | {
      readonly t: 'coordinate';
      readonly key: Uint8Array;
      readonly deleted: boolean;
      readonly value: Uint8Array;
      readonly contentType: string;
      readonly context: VClock;
      readonly w: number;
      readonly timeoutMs: number;
      /** See CoordinateRequest.supersede; absent (false) from nodes older than the RESP front end. */
      readonly supersede: boolean;
    }
  | { readonly t: 'fold'; readonly partition: number; readonly afterKey: Uint8Array | undefined; readonly limit: number }
  | { readonly t: 'readMany'; readonly partition: number; readonly keys: readonly Uint8Array[] }
  | { readonly t: 'reap'; readonly key: Uint8Array; readonly partition: number; readonly versions: readonly Version[] }
  | { readonly t: 'aeRoots'; readonly partitions: readonly number[] }
  | { readonly t: 'aeLeaves'; readonly partition: number }
  | { readonly t: 'aeKeys'; readonly partition: number; readonly leaves: readonly number[] }
  /** GET /keys: the replica's smallest keys of a partition after `afterKey`, with `prefix`, at most `limit` (core/listing.ts). */
  | { readonly t: 'listKeys'; readonly partition: number; readonly afterKey: Uint8Array | undefined; readonly prefix: Uint8Array | undefined; readonly limit: number }
  /** The sender's fault table (a control message: injected faults never drop it). */
  | { readonly t: 'faults'; readonly table: WireFaultTable }
  /** The peer's control-plane report, with its events after `afterSeq` (also outside the faults). */
  | { readonly t: 'snapshot'; readonly afterSeq: number };

const memberStates: readonly MemberState[] = ['joining', 'member', 'leaving', 'left'];

export function packState(s: ClusterState): unknown[] {
  return [
    s.partitions,
    s.n,
    [...s.members.values()].map((m) => [m.id, m.http, m.internode, m.state, m.version, m.heartbeat]),
    s.ring.map((r) => [r.owner, r.epoch, r.pendingTo ?? null]),
  ];
}

function isGossipCounter(raw: unknown): raw is number {
  return Number.isSafeInteger(raw) && (raw as number) >= 0 && (raw as number) <= gossipCounterMax;
}

export function parseState(raw: unknown): ClusterState | undefined {
  if (!Array.isArray(raw) || raw.length !== 4) return undefined;
  const [partitions, n, members, ring] = raw as unknown[];
  if (!Number.isSafeInteger(partitions) || (partitions as number) < 1 || (partitions as number) > partitionsMax) return undefined;
  if (!Number.isSafeInteger(n) || (n as number) < 1 || (n as number) > 16) return undefined;
  if (!Array.isArray(members) || members.length === 0 || members.length > membersPerMessageMax) return undefined;
  if (!Array.isArray(ring) || ring.length !== partitions) return undefined;
  const map = new Map<string, MemberRecord>();
  for (const m of members) {
    if (!Array.isArray(m) || m.length !== 6) return undefined;
    const [id, http, internode, state, version, heartbeat] = m as unknown[];
    const info = parseMember([id, http, internode]);
    if (!info || !memberStates.includes(state as MemberState)) return undefined;
    if (!isGossipCounter(version) || !isGossipCounter(heartbeat)) return undefined;
    if (map.has(info.id)) return undefined; // one record per member
    map.set(info.id, { ...info, state: state as MemberState, version: version as number, heartbeat: heartbeat as number });
  }
  const records: PartitionRecord[] = [];
  for (const r of ring) {
    if (!Array.isArray(r) || r.length !== 3) return undefined;
    const [owner, epoch, pendingTo] = r as unknown[];
    // A partition is owned by, and moves to, members the same state describes: never a stranger.
    if (typeof owner !== 'string' || !map.has(owner)) return undefined;
    if (!isGossipCounter(epoch)) return undefined;
    if (pendingTo !== null && (typeof pendingTo !== 'string' || !map.has(pendingTo))) return undefined;
    records.push({ owner, epoch: epoch as number, pendingTo: pendingTo ?? undefined });
  }
  return { partitions: partitions as number, n: n as number, members: map, ring: records };
}

/**
 * What a peer's parser checks first, asserted before sending: a message we build from our own
 * state is never one a correct peer must refuse (that would be a bug here, not bad input).
 */
function assertSendable(r: Request): void {
  if ('key' in r) invariant(r.key.byteLength >= 1 && r.key.byteLength <= keyBytesMax, () => `${r.t}: a key of ${r.key.byteLength} bytes`);
  if ('partition' in r) invariant(Number.isInteger(r.partition) && r.partition >= 0 && r.partition < partitionsMax, () => `${r.t}: partition ${r.partition}`);
  if (r.t === 'writeMany') invariant(r.items.length <= batchKeysMax, () => `writeMany of ${r.items.length} items (a peer takes ${batchKeysMax})`);
  if (r.t === 'listKeys') invariant(Number.isInteger(r.limit) && r.limit >= 1 && r.limit <= listKeysMax && (r.prefix === undefined || (r.prefix.byteLength >= 1 && r.prefix.byteLength <= keyBytesMax)) && (r.afterKey === undefined || isKey(r.afterKey)), () => `listKeys of ${r.limit} keys`);
  if (r.t === 'readMany') invariant(r.keys.length <= batchKeysMax, () => `readMany of ${r.keys.length} keys (a peer takes ${batchKeysMax})`);
}

export function encodeRequest(r: Request): unknown[] {
  assertSendable(r);
  switch (r.t) {
    case 'gossip':
      return ['gossip', packState(r.state), r.keys ? packKeyring(r.keys) : null];
    case 'read':
      return ['read', r.key, r.hintFor ?? null];
    case 'write':
      return ['write', r.key, r.partition, packVersions(r.versions), r.hintFor ?? null, r.fresh];
    case 'writeMany':
      return ['writeMany', r.items.map(packKeyVersions)];
    case 'coordinate':
      return ['coordinate', r.key, r.deleted, r.value, r.contentType, packClock(r.context), r.w, r.timeoutMs, ...(r.supersede ? [true] : [])];
    case 'fold':
      return ['fold', r.partition, r.afterKey ?? null, r.limit];
    case 'readMany':
      return ['readMany', r.partition, r.keys];
    case 'reap':
      return ['reap', r.key, r.partition, packVersions(r.versions)];
    case 'aeRoots':
      return ['aeRoots', r.partitions];
    case 'aeLeaves':
      return ['aeLeaves', r.partition];
    case 'aeKeys':
      return ['aeKeys', r.partition, r.leaves];
    case 'listKeys':
      return ['listKeys', r.partition, r.afterKey ?? null, r.prefix ?? null, r.limit];
    case 'faults':
      return ['faults', packFaultTable(r.table)];
    case 'snapshot':
      return ['snapshot', r.afterSeq];
  }
}

/**
 * A fault table on the wire: times are relative (age, time left), never one machine's clock,
 * so a receiver places each fault on its own clock.
 */
export interface WireFaultTable {
  readonly faults: readonly { readonly id: string; readonly spec: FaultSpec; readonly ageMs: number; readonly remainingMs: number | undefined }[];
  readonly healed: readonly { readonly id: string; readonly remainingMs: number }[];
}

export function toWireFaults(t: FaultTable, now: number): WireFaultTable {
  return {
    faults: activeFaults(t, now).map((f) => ({ id: f.id, spec: f.spec, ageMs: Math.max(0, now - f.startedAt), remainingMs: f.until === undefined ? undefined : Math.max(0, f.until - now) })),
    healed: t.healed.filter((h) => h.until > now).map((h) => ({ id: h.id, remainingMs: h.until - now })),
  };
}

export function fromWireFaults(w: WireFaultTable, now: number): FaultTable {
  return {
    faults: w.faults.map((f) => ({ id: f.id, spec: f.spec, startedAt: now - f.ageMs, until: f.remainingMs === undefined ? undefined : now + f.remainingMs })),
    healed: w.healed.map((h) => ({ id: h.id, until: now + h.remainingMs })),
  };
}

function packFaultTable(t: WireFaultTable): unknown[] {
  // The spec travels as a plain object without undefined fields; parseFaultSpec reads it back.
  const spec = (s: FaultSpec) => Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined));
  return [t.faults.map((f) => [f.id, spec(f.spec), f.ageMs, f.remainingMs ?? null]), t.healed.map((h) => [h.id, h.remainingMs])];
}

const faultIdBytesMax = 128;

export function parseFaultTable(raw: unknown): WireFaultTable | undefined {
  if (!Array.isArray(raw) || raw.length !== 2) return undefined;
  const [faults, healed] = raw as unknown[];
  if (!Array.isArray(faults) || faults.length > faultsMax || !Array.isArray(healed) || healed.length > healedMax) return undefined;
  const isId = (id: unknown): id is string => typeof id === 'string' && id.length > 0 && id.length <= faultIdBytesMax;
  const isMs = (ms: unknown): ms is number => Number.isSafeInteger(ms) && (ms as number) >= 0 && (ms as number) <= faultDurationMaxMs;
  const out: WireFaultTable['faults'][number][] = [];
  for (const f of faults) {
    if (!Array.isArray(f) || f.length !== 4) return undefined;
    const [id, rawSpec, ageMs, remainingMs] = f as unknown[];
    if (!isId(id)) return undefined;
    const parsed = parseFaultSpec(rawSpec);
    if (!parsed.ok) return undefined;
    if (!Number.isSafeInteger(ageMs) || (ageMs as number) < 0 || (ageMs as number) > faultDurationMaxMs) return undefined;
    if (remainingMs !== null && !isMs(remainingMs)) return undefined;
    // A pause stops the receiving process: never longer than the API allows one to be asked for.
    if (parsed.spec.kind === 'pause' && (remainingMs === null || (remainingMs as number) > pauseDurationMaxMs)) return undefined;
    out.push({ id, spec: parsed.spec, ageMs: ageMs as number, remainingMs: (remainingMs as number | null) ?? undefined });
  }
  const gone: WireFaultTable['healed'][number][] = [];
  for (const h of healed) {
    if (!Array.isArray(h) || h.length !== 2 || !isId(h[0]) || !isMs(h[1])) return undefined;
    gone.push({ id: h[0], remainingMs: h[1] });
  }
  return { faults: out, healed: gone };
}

export function encodeFaultsReply(t: WireFaultTable): unknown[] {
  return ['faults', packFaultTable(t)];
}

export function parseFaultsReply(raw: unknown): Parsed<WireFaultTable> {
  if (!Array.isArray(raw) || raw[0] !== 'faults') return bad('faults reply: malformed');
  const t = parseFaultTable(raw[1]);
  return t ? { ok: true, value: t } : bad('faults reply: bad table');
}

const addressPattern = /^[A-Za-z0-9.\-:[\]]{1,255}:\d{1,5}$/;

function parseMember(raw: unknown): MemberInfo | undefined {
  if (!Array.isArray(raw) || raw.length !== 3) return undefined;
  const [id, http, internode] = raw as unknown[];
  if (typeof id !== 'string' || !isValidNodeId(id)) return undefined;
  if (typeof http !== 'string' || !addressPattern.test(http)) return undefined;
  if (typeof internode !== 'string' || !addressPattern.test(internode)) return undefined;
  return { id, http, internode };
}

export { isValidNodeId };

function isKey(raw: unknown): raw is Uint8Array {
  return raw instanceof Uint8Array && raw.byteLength >= 1 && raw.byteLength <= keyBytesMax;
}

function isPartition(raw: unknown): raw is number {
  return Number.isSafeInteger(raw) && (raw as number) >= 0 && (raw as number) < partitionsMax;
}

function optionalNodeId(raw: unknown): { ok: true; value: string | undefined } | { ok: false } {
  if (raw === null || raw === undefined) return { ok: true, value: undefined };
  if (typeof raw === 'string' && isValidNodeId(raw)) return { ok: true, value: raw };
  return { ok: false };
}

function bad(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}

function parseKeyVersions(raw: unknown): Parsed<KeyVersions> {
  if (!Array.isArray(raw) || raw.length < 3 || raw.length > 4) return bad('item: not a triple');
  if (!isKey(raw[0])) return bad('item: bad key');
  if (!isPartition(raw[1])) return bad('item: bad partition');
  const versions = parseVersions(raw[2]);
  if (!versions.ok) return bad(`item: ${versions.reason}`);
  const reaped = raw[3] === undefined || raw[3] === null ? undefined : parseClock(raw[3]);
  if (raw[3] !== undefined && raw[3] !== null && !reaped) return bad('item: bad reaped clock');
  return { ok: true, value: { key: raw[0], partition: raw[1], versions: versions.value, reaped } };
}

/** Longest coordinate timeout a peer may ask for: ten minutes, as the CLI's --timeout-ms allows. */
const coordinateTimeoutMsMax = 600_000;
/** Characters of an unknown request type quoted back in the reason: it is the sender's text. */
const unknownTypeCharsShown = 32;

type RequestOf<T extends Request['t']> = Extract<Request, { readonly t: T }>;

/** One parser per request type, each given the whole tagged array; the mapped type makes the table complete. */
const requestParsers: { readonly [T in Request['t']]: (raw: readonly unknown[]) => Parsed<RequestOf<T>> } = {
  gossip: parseGossipRequest,
  read: parseReadRequest,
  write: parseWriteRequest,
  writeMany: parseWriteManyRequest,
  coordinate: parseCoordinateRequest,
  fold: parseFoldRequest,
  readMany: parseReadManyRequest,
  reap: parseReapRequest,
  aeRoots: parseAeRootsRequest,
  aeLeaves: parseAeLeavesRequest,
  aeKeys: parseAeKeysRequest,
  listKeys: parseListKeysRequest,
  faults: parseFaultsRequest,
  snapshot: parseSnapshotRequest,
};

// An own-property check, not `in`: a tag of "constructor" or "__proto__" must not find Object's.
function isRequestType(tag: string): tag is Request['t'] {
  return Object.hasOwn(requestParsers, tag);
}

export function parseRequest(raw: unknown): Parsed<Request> {
  if (!Array.isArray(raw) || typeof raw[0] !== 'string') return bad('request is not a tagged array');
  const tag: string = raw[0];
  if (!isRequestType(tag)) return bad(`unknown request type ${JSON.stringify(tag.slice(0, unknownTypeCharsShown))}`);
  return requestParsers[tag](raw);
}

function parseGossipRequest(raw: readonly unknown[]): Parsed<RequestOf<'gossip'>> {
  const state = parseState(raw[1]);
  if (!state) return bad('gossip: malformed cluster state');
  const keys = optionalKeyring(raw[2]);
  if (!keys.ok) return bad('gossip: malformed context keys');
  return { ok: true, value: { t: 'gossip', state, keys: keys.value } };
}

function parseReadRequest(raw: readonly unknown[]): Parsed<RequestOf<'read'>> {
  const [, key, rawHintFor] = raw;
  if (!isKey(key)) return bad('read: bad key');
  const hintFor = optionalNodeId(rawHintFor);
  if (!hintFor.ok) return bad('read: bad hint target');
  return { ok: true, value: { t: 'read', key, hintFor: hintFor.value } };
}

function parseWriteRequest(raw: readonly unknown[]): Parsed<RequestOf<'write'>> {
  const [, key, partition, rawVersions, rawHintFor, fresh] = raw;
  if (!isKey(key)) return bad('write: bad key');
  if (!isPartition(partition)) return bad('write: bad partition');
  const versions = parseVersions(rawVersions);
  if (!versions.ok) return bad(`write: ${versions.reason}`);
  const hintFor = optionalNodeId(rawHintFor);
  if (!hintFor.ok) return bad('write: bad hint target');
  // Absent means not fresh: only a fresh write (a coordinator's blind one) is refused past the sibling limit.
  if (fresh !== undefined && typeof fresh !== 'boolean') return bad('write: bad fresh flag');
  return { ok: true, value: { t: 'write', key, partition, versions: versions.value, hintFor: hintFor.value, fresh: fresh === true } };
}

function parseWriteManyRequest(raw: readonly unknown[]): Parsed<RequestOf<'writeMany'>> {
  const batch = raw[1];
  if (!Array.isArray(batch) || batch.length > batchKeysMax) return bad('writeMany: bad batch');
  const items: KeyVersions[] = [];
  for (const i of batch) {
    const kv = parseKeyVersions(i);
    if (!kv.ok) return bad(`writeMany: ${kv.reason}`);
    items.push(kv.value);
  }
  return { ok: true, value: { t: 'writeMany', items } };
}

function parseCoordinateRequest(raw: readonly unknown[]): Parsed<RequestOf<'coordinate'>> {
  const [, key, deleted, value, contentType, ctx, w, timeoutMs, supersede = false] = raw;
  if (!isKey(key)) return bad('coordinate: bad key');
  if (typeof deleted !== 'boolean') return bad('coordinate: bad deleted flag');
  if (!(value instanceof Uint8Array) || value.byteLength > valueBytesMax) return bad('coordinate: bad value');
  if (typeof contentType !== 'string' || Buffer.byteLength(contentType) > contentTypeBytesMax) return bad('coordinate: bad content type');
  const context = parseClock(ctx);
  if (!context) return bad('coordinate: bad context');
  if (!Number.isSafeInteger(w) || (w as number) < 1) return bad('coordinate: bad w');
  if (!Number.isSafeInteger(timeoutMs) || (timeoutMs as number) < 1 || (timeoutMs as number) > coordinateTimeoutMsMax) return bad('coordinate: bad timeout');
  if (typeof supersede !== 'boolean') return bad('coordinate: bad supersede flag');
  return { ok: true, value: { t: 'coordinate', key, deleted, value, contentType, context, w: w as number, timeoutMs: timeoutMs as number, supersede } };
}

function parseFoldRequest(raw: readonly unknown[]): Parsed<RequestOf<'fold'>> {
  const [, partition, afterKey, limit] = raw;
  if (!isPartition(partition)) return bad('fold: bad partition');
  // null starts the fold at the partition's first key.
  if (afterKey !== null && !isKey(afterKey)) return bad('fold: bad cursor');
  if (!Number.isSafeInteger(limit) || (limit as number) < 1 || (limit as number) > batchKeysMax) return bad('fold: bad limit');
  return { ok: true, value: { t: 'fold', partition, afterKey: afterKey ?? undefined, limit: limit as number } };
}

function parseReadManyRequest(raw: readonly unknown[]): Parsed<RequestOf<'readMany'>> {
  const [, partition, keys] = raw;
  if (!isPartition(partition)) return bad('readMany: bad partition');
  if (!Array.isArray(keys) || keys.length > batchKeysMax || !keys.every(isKey)) return bad('readMany: bad keys');
  return { ok: true, value: { t: 'readMany', partition, keys } };
}

/** A reap carries one key's versions laid out as a writeMany item, after its tag. */
function parseReapRequest(raw: readonly unknown[]): Parsed<RequestOf<'reap'>> {
  const kv = parseKeyVersions(raw.slice(1));
  if (!kv.ok) return bad(`reap: ${kv.reason}`);
  return { ok: true, value: { t: 'reap', ...kv.value } };
}

function parseAeRootsRequest(raw: readonly unknown[]): Parsed<RequestOf<'aeRoots'>> {
  const partitions = raw[1];
  if (!Array.isArray(partitions) || partitions.length > partitionsMax || !partitions.every(isPartition)) return bad('aeRoots: bad partitions');
  return { ok: true, value: { t: 'aeRoots', partitions } };
}

function parseAeLeavesRequest(raw: readonly unknown[]): Parsed<RequestOf<'aeLeaves'>> {
  const partition = raw[1];
  if (!isPartition(partition)) return bad('aeLeaves: bad partition');
  return { ok: true, value: { t: 'aeLeaves', partition } };
}

function isLeaf(raw: unknown): raw is number {
  return Number.isSafeInteger(raw) && (raw as number) >= 0 && (raw as number) < merkleLeavesMax;
}

function parseAeKeysRequest(raw: readonly unknown[]): Parsed<RequestOf<'aeKeys'>> {
  const [, partition, leaves] = raw;
  if (!isPartition(partition)) return bad('aeKeys: bad partition');
  if (!Array.isArray(leaves) || leaves.length > merkleLeavesMax || !leaves.every(isLeaf)) return bad('aeKeys: bad leaves');
  return { ok: true, value: { t: 'aeKeys', partition, leaves } };
}

function parseListKeysRequest(raw: readonly unknown[]): Parsed<RequestOf<'listKeys'>> {
  const [, partition, afterKey, prefix, limit] = raw;
  if (!isPartition(partition)) return bad('listKeys: bad partition');
  // null: from the partition's first key, and any prefix.
  if (afterKey !== null && !isKey(afterKey)) return bad('listKeys: bad cursor');
  if (prefix !== null && !isKey(prefix)) return bad('listKeys: bad prefix');
  if (!Number.isSafeInteger(limit) || (limit as number) < 1 || (limit as number) > listKeysMax) return bad('listKeys: bad limit');
  return { ok: true, value: { t: 'listKeys', partition, afterKey: afterKey ?? undefined, prefix: prefix ?? undefined, limit: limit as number } };
}

function parseFaultsRequest(raw: readonly unknown[]): Parsed<RequestOf<'faults'>> {
  const table = parseFaultTable(raw[1]);
  if (!table) return bad('faults: malformed fault table');
  return { ok: true, value: { t: 'faults', table } };
}

function parseSnapshotRequest(raw: readonly unknown[]): Parsed<RequestOf<'snapshot'>> {
  const afterSeq = raw[1];
  if (!Number.isSafeInteger(afterSeq) || (afterSeq as number) < 0) return bad('snapshot: bad cursor');
  return { ok: true, value: { t: 'snapshot', afterSeq: afterSeq as number } };
}

// Replies


export function encodeVersionsReply(versions: readonly Version[]): [string, PackedVersion[]] {
  return ['versions', packVersions(versions)];
}

export function parseVersionsReply(raw: unknown): Parsed<Version[]> {
  if (!Array.isArray(raw) || raw[0] !== 'versions') return bad('versions reply: malformed');
  return parseVersions(raw[1]);
}

export const ackReply = ['ack'] as const;

export function isAck(raw: unknown): boolean {
  return Array.isArray(raw) && raw[0] === 'ack';
}

export function encodeCoordinateReply(r: CoordinateReply): unknown[] {
  return ['coordinated', r.status, r.clock ? packClock(r.clock) : null, r.error ?? null, r.message ?? null, r.dot ? [r.dot.actor, r.dot.counter] : null];
}

export function parseCoordinateReply(raw: unknown): Parsed<CoordinateReply> {
  if (!Array.isArray(raw) || raw[0] !== 'coordinated' || !Number.isSafeInteger(raw[1])) return bad('coordinate reply: malformed');
  const clock = raw[2] === null ? undefined : parseClock(raw[2]);
  if (raw[2] !== null && !clock) return bad('coordinate reply: bad clock');
  const error = typeof raw[3] === 'string' ? raw[3] : undefined;
  const message = typeof raw[4] === 'string' ? raw[4] : undefined;
  // The new version's event: absent in replies from nodes that predate it.
  const d = raw[5] as unknown;
  const dot = Array.isArray(d) && d.length === 2 && typeof d[0] === 'string' && typeof d[1] === 'number' && entryProblem({ actor: d[0], counter: d[1], ts: 0 }) === undefined ? { actor: d[0], counter: d[1] } : undefined;
  return { ok: true, value: { status: raw[1] as number, clock, error, message, dot } };
}

export function encodeGossipReply(state: ClusterState, keys: ContextKeyring | undefined): unknown[] {
  return ['gossip', packState(state), keys ? packKeyring(keys) : null];
}

function optionalKeyring(raw: unknown): { ok: true; value: ContextKeyring | undefined } | { ok: false } {
  if (raw === null || raw === undefined) return { ok: true, value: undefined };
  const keys = parseKeyring(raw);
  return keys ? { ok: true, value: keys } : { ok: false };
}

export function parseGossipReply(raw: unknown): Parsed<{ state: ClusterState; keys: ContextKeyring | undefined }> {
  if (!Array.isArray(raw) || raw[0] !== 'gossip') return bad('gossip reply: malformed');
  const s = parseState(raw[1]);
  if (!s) return bad('gossip reply: malformed state');
  const keys = optionalKeyring(raw[2]);
  if (!keys.ok) return bad('gossip reply: malformed context keys');
  return { ok: true, value: { state: s, keys: keys.value } };
}

export function encodeFoldReply(items: readonly KeyVersions[], done: boolean): unknown[] {
  return ['fold', items.map(packKeyVersions), done];
}

export function parseFoldReply(raw: unknown): Parsed<{ items: KeyVersions[]; done: boolean }> {
  if (!Array.isArray(raw) || raw[0] !== 'fold' || !Array.isArray(raw[1]) || raw[1].length > batchKeysMax || typeof raw[2] !== 'boolean') return bad('fold reply: malformed');
  const items: KeyVersions[] = [];
  for (const i of raw[1]) {
    const kv = parseKeyVersions(i);
    if (!kv.ok) return bad(`fold reply: ${kv.reason}`);
    items.push(kv.value);
  }
  return { ok: true, value: { items, done: raw[2] } };
}

function isDigest(raw: unknown): raw is Uint8Array {
  return raw instanceof Uint8Array && raw.byteLength === digestBytes;
}

export function parseRootsReply(raw: unknown): Parsed<Map<number, Uint8Array>> {
  if (!Array.isArray(raw) || raw[0] !== 'aeRoots' || !Array.isArray(raw[1]) || raw[1].length > partitionsMax) return bad('aeRoots reply: malformed');
  const out = new Map<number, Uint8Array>();
  for (const pair of raw[1]) {
    if (!Array.isArray(pair) || !isPartition(pair[0]) || !isDigest(pair[1])) return bad('aeRoots reply: bad entry');
    out.set(pair[0], pair[1]);
  }
  return { ok: true, value: out };
}

export function parseLeavesReply(raw: unknown): Parsed<Uint8Array[]> {
  if (!Array.isArray(raw) || raw[0] !== 'aeLeaves' || !Array.isArray(raw[1]) || raw[1].length > merkleLeavesMax || !raw[1].every(isDigest)) return bad('aeLeaves reply: malformed');
  return { ok: true, value: raw[1] as Uint8Array[] };
}

export function parseKeysReply(raw: unknown): Parsed<{ key: Uint8Array; digest: Uint8Array }[]> {
  if (!Array.isArray(raw) || raw[0] !== 'aeKeys' || !Array.isArray(raw[1]) || raw[1].length > aeKeysMax) return bad('aeKeys reply: malformed');
  const out: { key: Uint8Array; digest: Uint8Array }[] = [];
  for (const pair of raw[1]) {
    if (!Array.isArray(pair) || !isKey(pair[0]) || !isDigest(pair[1])) return bad('aeKeys reply: bad entry');
    out.push({ key: pair[0], digest: pair[1] });
  }
  return { ok: true, value: out };
}

/**
 * Row bytes a replica reads for one listKeys answer (past them it stops, with `more`): the
 * reply holds no values, so it is smaller than what was read, and stays far below a frame.
 */
export const listReplyRowBytesMax = 4 * 1024 * 1024;

export function encodeListKeysReply(l: ReplicaListing): unknown[] {
  return ['listKeys', l.keys.map((k) => [k.key, packVersions(k.versions), k.sizes]), l.more];
}

function isSize(raw: unknown): raw is number {
  return Number.isSafeInteger(raw) && (raw as number) >= 0 && (raw as number) <= valueBytesMax;
}

export function parseListKeysReply(raw: unknown): Parsed<ReplicaListing> {
  if (!Array.isArray(raw) || raw[0] !== 'listKeys' || !Array.isArray(raw[1]) || raw[1].length > listKeysMax || typeof raw[2] !== 'boolean') return bad('listKeys reply: malformed');
  const keys: ListedKey[] = [];
  let last: Uint8Array | undefined;
  for (const item of raw[1] as unknown[]) {
    if (!Array.isArray(item) || item.length !== 3 || !isKey(item[0])) return bad('listKeys reply: bad key');
    // The merge relies on each replica's keys coming in order, once each.
    if (last !== undefined && Buffer.compare(last, item[0]) >= 0) return bad('listKeys reply: keys out of order');
    last = item[0];
    const versions = parseVersions(item[1]);
    if (!versions.ok) return bad(`listKeys reply: ${versions.reason}`);
    const sizes = item[2] as unknown;
    if (!Array.isArray(sizes) || sizes.length !== versions.value.length || !sizes.every(isSize)) return bad('listKeys reply: bad sizes');
    keys.push({ key: Buffer.from(item[0]), versions: versions.value, sizes });
  }
  // A replica with more to say returns at least one key, or the asker could never get past it.
  if (raw[2] && keys.length === 0) return bad('listKeys reply: more without a key');
  return { ok: true, value: { keys, more: raw[2] } };
}
