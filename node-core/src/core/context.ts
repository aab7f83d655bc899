// The opaque context (Dynamo 4.4): the clock covering the versions a client read, handed
// back on its next write. Encoded as msgpack, sealed with a truncated HMAC bound to the key,
// base64url. The MAC is what lets a node reject a forged or edited context with 400 instead
// of letting it supersede versions the client never saw; binding the key rejects a context
// pasted from another key. Deterministic: no clock or randomness involved.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { pack, unpack } from 'msgpackr';
import { type Entry, type VClock, normalize } from './vclock.js';

const formatVersion = 1;
const macBytes = 12;
/** A context names at most this many events; a legitimate one names a few replicas. */
export const contextEntriesMax = 256;
export const contextBytesMax = 16 * 1024;
export const actorBytesMax = 64;

export type ContextResult = { ok: true; clock: VClock } | { ok: false; reason: string };

function mac(secret: string, key: Uint8Array, payload: Uint8Array): Buffer {
  const h = createHmac('sha256', secret);
  h.update('gyre-context\0');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(key.byteLength);
  h.update(len);
  h.update(key);
  h.update(payload);
  return h.digest().subarray(0, macBytes);
}

// Entries travel as [actor, counter, seconds]; seconds are enough for pruning and display.
function packEntries(entries: readonly Entry[]): [string, number, number][] {
  return entries.map((e) => [e.actor, e.counter, Math.floor(e.ts / 1000)]);
}

export function encodeContext(clock: VClock, key: Uint8Array, secret: string): string {
  const payload = pack([formatVersion, packEntries(clock.entries), packEntries(clock.dots)]);
  return Buffer.concat([payload, mac(secret, key, payload)]).toString('base64url');
}

function parseEntries(raw: unknown): Entry[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const out: Entry[] = [];
  for (const item of raw) {
    if (!Array.isArray(item) || item.length !== 3) return undefined;
    const [actor, counter, seconds] = item as unknown[];
    if (typeof actor !== 'string' || actor.length === 0 || Buffer.byteLength(actor) > actorBytesMax) return undefined;
    if (!Number.isSafeInteger(counter) || (counter as number) < 1) return undefined;
    if (!Number.isSafeInteger(seconds) || (seconds as number) < 0) return undefined;
    out.push({ actor, counter: counter as number, ts: (seconds as number) * 1000 });
  }
  return out;
}

export function decodeContext(token: string, key: Uint8Array, secret: string): ContextResult {
  if (token.length === 0) return { ok: false, reason: 'empty context' };
  if (token.length > (contextBytesMax * 4) / 3 + 4) return { ok: false, reason: 'context too long' };
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return { ok: false, reason: 'context is not base64url' };
  const raw = Buffer.from(token, 'base64url');
  // Node's decoder ignores unused low bits of the last character and a dangling final
  // character: insist on the canonical spelling so that any edit of the token is refused.
  if (raw.toString('base64url') !== token) return { ok: false, reason: 'context is not canonical base64url' };
  if (raw.byteLength <= macBytes) return { ok: false, reason: 'context too short' };
  const payload = raw.subarray(0, raw.byteLength - macBytes);
  const given = raw.subarray(raw.byteLength - macBytes);
  if (!timingSafeEqual(given, mac(secret, key, payload))) {
    return { ok: false, reason: 'context failed its integrity check (edited, forged, or from another key or cluster)' };
  }
  let decoded: unknown;
  try {
    decoded = unpack(payload);
  } catch {
    return { ok: false, reason: 'context payload is not decodable' };
  }
  if (!Array.isArray(decoded) || decoded.length !== 3 || decoded[0] !== formatVersion) {
    return { ok: false, reason: 'unknown context format' };
  }
  const entries = parseEntries(decoded[1]);
  const dots = parseEntries(decoded[2]);
  if (!entries || !dots) return { ok: false, reason: 'malformed context entries' };
  if (entries.length + dots.length > contextEntriesMax) return { ok: false, reason: 'context names too many events' };
  return { ok: true, clock: normalize(entries, dots) };
}
