// Key listing (GET /keys): the pure part. Each replica of a partition answers its smallest
// keys after a position (with a prefix, at most `limit`, every version without its value);
// the asker merges what the replicas said, keeps the keys every replica has vouched for (see
// `mergeListings`), and walks on with a cursor. No I/O here: the walk is driven by http/keys.ts.

import { createHash } from 'node:crypto';
import { keyBytesMax } from './codec.js';
import { partitionOf } from './partitioner.js';
import { type Version, syncSiblings } from './siblings.js';

/** Keys one page, and one replica's answer, hold at most. */
export const listKeysMax = 1000;

/** A key as one replica holds it: every version with its value left out, and each value's size. */
export interface ListedKey {
  readonly key: Buffer;
  /** The versions, values emptied (dots and clocks are what merging needs). */
  readonly versions: readonly Version[];
  /** Value bytes of each version, in the order of `versions`. */
  readonly sizes: readonly number[];
}

/** What one replica answers: its smallest keys in the range, and whether it holds more after them. */
export interface ReplicaListing {
  readonly keys: readonly ListedKey[];
  /** True when the replica stopped at `limit` or at its byte budget: keys after its last one are unknown. */
  readonly more: boolean;
}

/** The keys of one partition a listing asks a replica for. */
export interface KeyRange {
  readonly partition: number;
  /** Only keys after this one (exclusive); undefined: from the partition's first key. */
  readonly afterKey: Uint8Array | undefined;
  /** Only keys starting with these bytes; undefined or empty: every key. */
  readonly prefix: Uint8Array | undefined;
  readonly limit: number;
}

const emptyValue = new Uint8Array(0);

/** A key's versions as a listing carries them (no values). */
export function listedKey(key: Buffer, versions: readonly Version[]): ListedKey {
  return { key, versions: versions.map((v) => ({ ...v, value: emptyValue })), sizes: versions.map((v) => v.value.byteLength) };
}

/** The smallest key a range may return: just after `afterKey` (itself followed by a zero byte), and not below the prefix. */
export function rangeLowerBound(range: Pick<KeyRange, 'afterKey' | 'prefix'>): Buffer {
  const after = range.afterKey ? Buffer.concat([range.afterKey, Buffer.of(0)]) : Buffer.alloc(0);
  const prefix = range.prefix ? Buffer.from(range.prefix) : Buffer.alloc(0);
  return Buffer.compare(after, prefix) >= 0 ? after : prefix;
}

/** The first key past every key with `prefix` (exclusive bound), or undefined when none is (empty, or all 0xff bytes). */
export function prefixUpperBound(prefix: Uint8Array | undefined): Buffer | undefined {
  if (!prefix) return undefined;
  const b = Buffer.from(prefix);
  let end = b.length;
  // Trailing 0xff bytes cannot be incremented: drop them and increment the byte before.
  while (end > 0 && b[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  const out = Buffer.from(b.subarray(0, end));
  out[end - 1] = b[end - 1]! + 1;
  return out;
}

/** Whether `key` is in the range (the replica's own check, and the asker's on a reply). */
export function inRange(key: Uint8Array, range: Pick<KeyRange, 'afterKey' | 'prefix'>): boolean {
  if (range.afterKey && Buffer.compare(key, range.afterKey) <= 0) return false;
  if (range.prefix && (key.byteLength < range.prefix.byteLength || Buffer.compare(key.subarray(0, range.prefix.byteLength), range.prefix) !== 0)) return false;
  return true;
}

/** One key of a page, merged over the replicas that answered. */
export interface MergedKey {
  readonly key: Buffer;
  /** Live (not deleted) versions. */
  readonly siblings: number;
  /** Value bytes of the live versions. */
  readonly bytes: number;
  /** Every version left is a tombstone. */
  readonly deleted: boolean;
}

function dotName(v: Version): string {
  return `${v.dot.actor}\0${v.dot.counter}`;
}

/**
 * The keys of a partition the replies settle, merged. A replica that answered `more` said
 * nothing of keys past its last one, so only keys up to the smallest such last key are
 * certain: any key at or below it on any replica is in the union, since each replica returned
 * its smallest keys. `exhausted`: no replica holds more past what is returned, so the
 * partition is done once these are consumed.
 */
export function mergeListings(replies: readonly ReplicaListing[]): { readonly keys: MergedKey[]; readonly exhausted: boolean } {
  let bound: Buffer | undefined;
  for (const r of replies) {
    if (!r.more) continue;
    const last = r.keys[r.keys.length - 1];
    // A replica with more to say returns at least one key; one that returned none settles nothing.
    if (last === undefined) return { keys: [], exhausted: false };
    if (bound === undefined || Buffer.compare(last.key, bound) < 0) bound = last.key;
  }
  const byKey = new Map<string, { key: Buffer; versions: Version[]; sizes: Map<string, number> }>();
  for (const r of replies) {
    for (const k of r.keys) {
      if (bound !== undefined && Buffer.compare(k.key, bound) > 0) continue;
      const id = k.key.toString('hex');
      let e = byKey.get(id);
      if (!e) {
        e = { key: k.key, versions: [], sizes: new Map() };
        byKey.set(id, e);
      }
      k.versions.forEach((v, i) => e.sizes.set(dotName(v), k.sizes[i] ?? 0));
      e.versions = syncSiblings(e.versions, k.versions);
    }
  }
  const keys = [...byKey.values()]
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map((e) => {
      const live = e.versions.filter((v) => !v.deleted);
      return { key: e.key, siblings: live.length, bytes: live.reduce((n, v) => n + (e.sizes.get(dotName(v)) ?? 0), 0), deleted: live.length === 0 };
    });
  return { keys, exhausted: bound === undefined };
}

// --- the cursor ---------------------------------------------------------------------------------

/** Where a listing goes on: partition `partition`, keys after `afterKey` (undefined: from its first). */
export interface ListCursor {
  readonly partition: number;
  readonly afterKey: Buffer | undefined;
}

const cursorVersion = 'k1';
/** Bytes of the prefix's digest a cursor carries: a page asked with another prefix is refused, not walked from a foreign position. */
const prefixTagBytes = 6;

function prefixTag(prefix: Uint8Array | undefined): string {
  return createHash('md5').update(prefix ?? new Uint8Array(0)).digest().subarray(0, prefixTagBytes).toString('base64url');
}

/** The opaque cursor a page hands out: version, partition, the prefix's tag, the last key (base64url). */
export function encodeCursor(c: ListCursor, prefix: Uint8Array | undefined): string {
  return `${cursorVersion}.${c.partition}.${prefixTag(prefix)}.${c.afterKey ? c.afterKey.toString('base64url') : ''}`;
}

const cursorPattern = /^k1\.(0|[1-9]\d{0,5})\.([A-Za-z0-9_-]{8})\.([A-Za-z0-9_-]{0,1366})$/;

/**
 * A cursor from a client, checked in full: it is only a position, so one that passes is a
 * position a page could have ended at (a partition of this cluster, a key of that partition,
 * the same prefix). Anything else is refused with the reason.
 */
export function decodeCursor(raw: string, partitions: number, prefix: Uint8Array | undefined): { ok: true; cursor: ListCursor } | { ok: false; reason: string } {
  const m = cursorPattern.exec(raw);
  if (!m) return { ok: false, reason: 'the cursor is not one a page of GET /keys handed out' };
  const partition = Number(m[1]);
  if (partition >= partitions) return { ok: false, reason: `the cursor names partition ${partition}; this cluster has ${partitions}` };
  if (m[2] !== prefixTag(prefix)) return { ok: false, reason: 'the cursor belongs to a listing with another prefix' };
  if (m[3] === '') return { ok: true, cursor: { partition, afterKey: undefined } };
  const key = Buffer.from(m[3]!, 'base64url');
  // base64url decoding skips what it cannot read: the text must be exactly this key's encoding.
  if (key.byteLength < 1 || key.byteLength > keyBytesMax || key.toString('base64url') !== m[3]) return { ok: false, reason: 'the cursor\'s key is malformed' };
  if (partitionOf(key, partitions) !== partition) return { ok: false, reason: 'the cursor\'s key is not in its partition' };
  return { ok: true, cursor: { partition, afterKey: key } };
}

// --- keys as text ---------------------------------------------------------------------------------

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** Control, surrogate, private-use and unassigned code points: a key holding one is shown only as base64. */
const unprintable = /[\p{Cc}\p{Cs}\p{Co}\p{Cn}]/u;

/** The key as text when it is valid UTF-8 without unprintable characters; otherwise null (key64 has the bytes). */
export function keyText(key: Uint8Array): string | null {
  let s: string;
  try {
    s = utf8.decode(key);
  } catch {
    return null;
  }
  return unprintable.test(s) ? null : s;
}
