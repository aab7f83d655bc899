// Internode messages: typed values and their one validating parser. A peer (or anything
// else that reaches the internode port) can send arbitrary bytes; `parseRequest` turns them
// into a typed request or a reason, and the node never touches an unparsed body.

import { type Parsed, type PackedVersion, packClock, packVersions, parseClock, parseVersions, keyBytesMax, valueBytesMax, contentTypeBytesMax } from '../core/codec.js';
import type { Version } from '../core/siblings.js';
import type { VClock } from '../core/vclock.js';

export interface MemberInfo {
  readonly id: string;
  /** Client HTTP address, host:port: what --seeds names. */
  readonly http: string;
  /** Internode address, host:port. */
  readonly internode: string;
}

export interface ClusterShape {
  readonly partitions: number;
  readonly n: number;
}

export const membersPerMessageMax = 10_000;
export const idBytesMax = 64;

export type Request =
  | { readonly t: 'hello'; readonly from: MemberInfo; readonly shape: ClusterShape; readonly members: readonly MemberInfo[] }
  | { readonly t: 'read'; readonly key: Uint8Array }
  | { readonly t: 'write'; readonly key: Uint8Array; readonly partition: number; readonly versions: readonly Version[] }
  | {
      readonly t: 'coordinate';
      readonly key: Uint8Array;
      readonly deleted: boolean;
      readonly value: Uint8Array;
      readonly contentType: string;
      readonly context: VClock;
      readonly w: number;
      readonly timeoutMs: number;
    };

export function encodeRequest(r: Request): unknown[] {
  switch (r.t) {
    case 'hello':
      return ['hello', packMember(r.from), [r.shape.partitions, r.shape.n], r.members.map(packMember)];
    case 'read':
      return ['read', r.key];
    case 'write':
      return ['write', r.key, r.partition, packVersions(r.versions)];
    case 'coordinate':
      return ['coordinate', r.key, r.deleted, r.value, r.contentType, packClock(r.context), r.w, r.timeoutMs];
  }
}

function packMember(m: MemberInfo): [string, string, string] {
  return [m.id, m.http, m.internode];
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

export function isValidNodeId(id: string): boolean {
  return id.length > 0 && Buffer.byteLength(id) <= idBytesMax && /^[A-Za-z0-9_-]+$/.test(id);
}

function isKey(raw: unknown): raw is Uint8Array {
  return raw instanceof Uint8Array && raw.byteLength >= 1 && raw.byteLength <= keyBytesMax;
}

function bad(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}

export function parseRequest(raw: unknown): Parsed<Request> {
  if (!Array.isArray(raw) || typeof raw[0] !== 'string') return bad('request is not a tagged array');
  switch (raw[0]) {
    case 'hello': {
      const from = parseMember(raw[1]);
      const shape = raw[2];
      const members = raw[3];
      if (!from) return bad('hello: bad sender');
      if (!Array.isArray(shape) || !Number.isSafeInteger(shape[0]) || !Number.isSafeInteger(shape[1])) return bad('hello: bad cluster shape');
      if (!Array.isArray(members) || members.length > membersPerMessageMax) return bad('hello: bad member list');
      const parsed: MemberInfo[] = [];
      for (const m of members) {
        const pm = parseMember(m);
        if (!pm) return bad('hello: bad member');
        parsed.push(pm);
      }
      return { ok: true, value: { t: 'hello', from, shape: { partitions: shape[0] as number, n: shape[1] as number }, members: parsed } };
    }
    case 'read':
      if (!isKey(raw[1])) return bad('read: bad key');
      return { ok: true, value: { t: 'read', key: raw[1] } };
    case 'write': {
      if (!isKey(raw[1])) return bad('write: bad key');
      if (!Number.isSafeInteger(raw[2]) || (raw[2] as number) < 0) return bad('write: bad partition');
      const versions = parseVersions(raw[3]);
      if (!versions.ok) return bad(`write: ${versions.reason}`);
      return { ok: true, value: { t: 'write', key: raw[1], partition: raw[2] as number, versions: versions.value } };
    }
    case 'coordinate': {
      const [, key, deleted, value, contentType, ctx, w, timeoutMs] = raw as unknown[];
      if (!isKey(key)) return bad('coordinate: bad key');
      if (typeof deleted !== 'boolean') return bad('coordinate: bad deleted flag');
      if (!(value instanceof Uint8Array) || value.byteLength > valueBytesMax) return bad('coordinate: bad value');
      if (typeof contentType !== 'string' || Buffer.byteLength(contentType) > contentTypeBytesMax) return bad('coordinate: bad content type');
      const context = parseClock(ctx);
      if (!context) return bad('coordinate: bad context');
      if (!Number.isSafeInteger(w) || (w as number) < 1) return bad('coordinate: bad w');
      if (!Number.isSafeInteger(timeoutMs) || (timeoutMs as number) < 1 || (timeoutMs as number) > 600_000) return bad('coordinate: bad timeout');
      return { ok: true, value: { t: 'coordinate', key, deleted, value, contentType, context, w: w as number, timeoutMs: timeoutMs as number } };
    }
    default:
      return bad(`unknown request type ${JSON.stringify(String(raw[0]).slice(0, 32))}`);
  }
}

// Replies

export type HelloReply = { readonly from: MemberInfo; readonly members: readonly MemberInfo[] };
export type CoordinateReply = { readonly status: number; readonly clock: VClock | undefined; readonly error: string | undefined; readonly message: string | undefined };

export function encodeHelloReply(from: MemberInfo, members: readonly MemberInfo[]): unknown[] {
  return ['hello', packMember(from), members.map(packMember)];
}

export function parseHelloReply(raw: unknown): Parsed<HelloReply> {
  if (!Array.isArray(raw) || raw[0] !== 'hello') return bad('hello reply: malformed');
  const from = parseMember(raw[1]);
  if (!from || !Array.isArray(raw[2]) || raw[2].length > membersPerMessageMax) return bad('hello reply: malformed');
  const members: MemberInfo[] = [];
  for (const m of raw[2]) {
    const pm = parseMember(m);
    if (!pm) return bad('hello reply: bad member');
    members.push(pm);
  }
  return { ok: true, value: { from, members } };
}

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
  return ['coordinated', r.status, r.clock ? packClock(r.clock) : null, r.error ?? null, r.message ?? null];
}

export function parseCoordinateReply(raw: unknown): Parsed<CoordinateReply> {
  if (!Array.isArray(raw) || raw[0] !== 'coordinated' || !Number.isSafeInteger(raw[1])) return bad('coordinate reply: malformed');
  const clock = raw[2] === null ? undefined : parseClock(raw[2]);
  if (raw[2] !== null && !clock) return bad('coordinate reply: bad clock');
  const error = typeof raw[3] === 'string' ? raw[3] : undefined;
  const message = typeof raw[4] === 'string' ? raw[4] : undefined;
  return { ok: true, value: { status: raw[1] as number, clock, error, message } };
}
