// The opaque context (Dynamo 4.4): the clock covering the versions a client read, handed
// back on its next write. Sealed so that only the cluster can make one:
//
//   token = base64url( format(1 byte) | keyId(4 bytes) | payload | mac(12 bytes) )
//   payload = msgpack [entries, dots], each entry [actor, counter, seconds]
//   mac = HMAC-SHA256(secret[keyId], "gyre-context\0" | len(key) | key | format | keyId | payload)
//
// The secrets are the cluster's context keys (`ContextKeyring`): random, created by the nodes
// themselves, kept in each node's data folder and spread only over the authenticated internode
// channel. No client holds one (not even a client that holds the cluster token), so every
// context a node accepts was made by a node of this cluster for this key: it names only events
// the key's replicas issued. A forged context (a counter far ahead, an actor nobody has, a
// clock built to overflow) fails the MAC and is refused with 400 before anything is computed
// from it. Binding the key rejects a context pasted from another key. The payload is not
// encrypted: clocks are no secret (GET /replicas shows them), so harnesses may read one
// without the keys (`readContextUnverified`). Deterministic: no clock or randomness involved.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { pack, unpack } from 'msgpackr';
import { type Entry, type VClock, normalize } from './vclock.js';
import { clockEntriesMax, entryProblem, timestampMsMax } from './codec.js';

const formatVersion = 2;
const keyIdBytes = 4;
const headerBytes = 1 + keyIdBytes;
const macBytes = 12;
/** A context names at most this many events; a legitimate one names a few replicas. */
export const contextEntriesMax = clockEntriesMax;
export const contextBytesMax = 16 * 1024;
/** Secret bytes of one context key. */
export const contextSecretBytes = 32;
/** Keys a cluster keeps; past this the newest are dropped (every node drops the same ones). */
export const contextKeysMax = 16;

export interface ContextKey {
  /** 8 lowercase hex digits. */
  readonly id: string;
  readonly secret: Uint8Array;
  /** When its node made it (ms): the oldest key seals, so a new or wiped node's key never takes over. */
  readonly createdMs: number;
}

/** A cluster's context keys, oldest first (then by id); the first one seals, any of them verifies. */
export interface ContextKeyring {
  readonly keys: readonly ContextKey[];
}

/** `unknownKey`: sealed with a key this keyring lacks (perhaps one a new member made just now). */
export type ContextResult = { ok: true; clock: VClock } | { ok: false; reason: string; unknownKey?: true };

const keyIdPattern = /^[0-9a-f]{8}$/;

/** A new key from 36 random bytes (4 for the id, 32 for the secret), made at `nowMs`. */
export function makeContextKey(random: Uint8Array, nowMs: number): ContextKey {
  if (random.byteLength < keyIdBytes + contextSecretBytes) throw new RangeError('a context key needs 36 random bytes');
  return { id: Buffer.from(random.subarray(0, keyIdBytes)).toString('hex'), secret: Uint8Array.from(random.subarray(keyIdBytes, keyIdBytes + contextSecretBytes)), createdMs: nowMs };
}

function byAge(a: ContextKey, b: ContextKey): number {
  return a.createdMs - b.createdMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) || Buffer.compare(Buffer.from(a.secret), Buffer.from(b.secret));
}

/**
 * Union of two keyrings, keeping the `contextKeysMax` oldest keys. Commutative, associative and
 * idempotent, so nodes that exchange keyrings in any order hold the same one. The sealing key
 * is the oldest: a node that joins or comes back wiped makes a key of its own, but once it has
 * heard from the cluster it seals with the cluster's, which every member already holds. Two
 * keys with one id (a 1 in 2^32 chance) keep the first in that order.
 */
export function mergeKeyrings(a: ContextKeyring, b: ContextKeyring): ContextKeyring {
  const all = [...a.keys, ...b.keys].sort(byAge);
  const out: ContextKey[] = [];
  const ids = new Set<string>();
  for (const k of all) {
    if (ids.has(k.id)) continue;
    ids.add(k.id);
    out.push(k);
    if (out.length === contextKeysMax) break;
  }
  return { keys: out };
}

export function sameKeyrings(a: ContextKeyring, b: ContextKeyring): boolean {
  return a.keys.length === b.keys.length && a.keys.every((k, i) => k.id === b.keys[i]!.id && k.createdMs === b.keys[i]!.createdMs && Buffer.compare(Buffer.from(k.secret), Buffer.from(b.keys[i]!.secret)) === 0);
}

/** Wire and disk form: [[id, secret, createdMs], ...]. */
export function packKeyring(r: ContextKeyring): [string, Uint8Array, number][] {
  return r.keys.map((k) => [k.id, k.secret, k.createdMs]);
}

export function parseKeyring(raw: unknown): ContextKeyring | undefined {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > contextKeysMax) return undefined;
  const keys: ContextKey[] = [];
  for (const item of raw) {
    if (!Array.isArray(item) || item.length !== 3) return undefined;
    const [id, secret, createdMs] = item as unknown[];
    if (typeof id !== 'string' || !keyIdPattern.test(id)) return undefined;
    if (!(secret instanceof Uint8Array) || secret.byteLength !== contextSecretBytes) return undefined;
    if (!Number.isSafeInteger(createdMs) || (createdMs as number) < 0 || (createdMs as number) > timestampMsMax) return undefined;
    keys.push({ id, secret: Uint8Array.from(secret), createdMs: createdMs as number });
  }
  return mergeKeyrings({ keys }, { keys: [] });
}

function mac(secret: Uint8Array, key: Uint8Array, header: Uint8Array, payload: Uint8Array): Buffer {
  const h = createHmac('sha256', secret);
  h.update('gyre-context\0');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(key.byteLength);
  h.update(len);
  h.update(key);
  h.update(header);
  h.update(payload);
  return h.digest().subarray(0, macBytes);
}

// Entries travel as [actor, counter, seconds]; seconds are enough for pruning and display.
function packEntries(entries: readonly Entry[]): [string, number, number][] {
  return entries.map((e) => [e.actor, e.counter, Math.floor(e.ts / 1000)]);
}

export function encodeContext(clock: VClock, key: Uint8Array, ring: ContextKeyring): string {
  const sealing = ring.keys[0];
  if (!sealing) throw new Error('no context key: the node has not created its keyring');
  const header = Buffer.alloc(headerBytes);
  header[0] = formatVersion;
  Buffer.from(sealing.id, 'hex').copy(header, 1);
  const payload = pack([packEntries(clock.entries), packEntries(clock.dots)]);
  return Buffer.concat([header, payload, mac(sealing.secret, key, header, payload)]).toString('base64url');
}

function parseEntries(raw: unknown): Entry[] | undefined {
  if (!Array.isArray(raw) || raw.length > contextEntriesMax) return undefined;
  const out: Entry[] = [];
  for (const item of raw) {
    if (!Array.isArray(item) || item.length !== 3) return undefined;
    const [actor, counter, seconds] = item as unknown[];
    if (typeof actor !== 'string' || typeof counter !== 'number' || typeof seconds !== 'number') return undefined;
    // Checked before multiplying: seconds whose milliseconds leave the safe integers are refused.
    if (!Number.isSafeInteger(seconds) || seconds < 0 || seconds > Math.floor(timestampMsMax / 1000)) return undefined;
    const e = { actor, counter, ts: seconds * 1000 };
    if (entryProblem(e) !== undefined) return undefined;
    out.push(e);
  }
  return out;
}

/** Token syntax and size; the raw bytes split into header, payload and MAC. */
function split(token: string): { header: Buffer; keyId: string; payload: Buffer; given: Buffer } | { reason: string } {
  if (token.length === 0) return { reason: 'empty context' };
  if (token.length > Math.ceil((contextBytesMax * 4) / 3)) return { reason: 'context too long' };
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return { reason: 'context is not base64url' };
  const raw = Buffer.from(token, 'base64url');
  // Node's decoder ignores unused low bits of the last character and a dangling final
  // character: insist on the canonical spelling so that any edit of the token is refused.
  if (raw.toString('base64url') !== token) return { reason: 'context is not canonical base64url' };
  if (raw.byteLength <= headerBytes + macBytes) return { reason: 'context too short' };
  if (raw[0] !== formatVersion) return { reason: 'unknown context format (a context from another version of Gyre?)' };
  const header = raw.subarray(0, headerBytes);
  return { header, keyId: header.subarray(1).toString('hex'), payload: raw.subarray(headerBytes, raw.byteLength - macBytes), given: raw.subarray(raw.byteLength - macBytes) };
}

function parsePayload(payload: Uint8Array): VClock | undefined {
  let decoded: unknown;
  try {
    decoded = unpack(payload);
  } catch {
    return undefined;
  }
  if (!Array.isArray(decoded) || decoded.length !== 2) return undefined;
  const entries = parseEntries(decoded[0]);
  const dots = parseEntries(decoded[1]);
  if (!entries || !dots || entries.length + dots.length > contextEntriesMax) return undefined;
  return normalize(entries, dots);
}

export function decodeContext(token: string, key: Uint8Array, ring: ContextKeyring): ContextResult {
  const parts = split(token);
  if ('reason' in parts) return { ok: false, reason: parts.reason };
  const sealing = ring.keys.find((k) => k.id === parts.keyId);
  if (!sealing) return { ok: false, reason: 'context sealed with a key this cluster does not hold (forged, or from another cluster)', unknownKey: true };
  // The MAC is checked before the payload is decoded: unauthenticated bytes are never parsed.
  if (!timingSafeEqual(parts.given, mac(sealing.secret, key, parts.header, parts.payload))) {
    return { ok: false, reason: 'context failed its integrity check (edited, forged, or from another key or cluster)' };
  }
  const clock = parsePayload(parts.payload);
  if (!clock) return { ok: false, reason: 'malformed context entries' };
  return { ok: true, clock };
}

/**
 * The clock a context names, without checking its seal: for test harnesses that judge what a
 * cluster answered (they hold no context key). Never use it to accept a client's context.
 */
export function readContextUnverified(token: string): VClock | undefined {
  const parts = split(token);
  return 'reason' in parts ? undefined : parsePayload(parts.payload);
}
