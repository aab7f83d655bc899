// The one wire/disk form of sibling sets, and its validating parser. Everything that reaches
// a node from a peer or from its own disk passes through `parseVersions` once, so the rest of
// the code can trust a Version[] (STYLE 11). Plain arrays keep msgpack output compact.

import { type Entry, type VClock, normalize, covers } from './vclock.js';
import type { Version } from './siblings.js';
import { actorBytesMax, contextEntriesMax } from './context.js';

export const keyBytesMax = 1024;
export const valueBytesMax = 1024 * 1024;
/** A key's sibling set as accepted from disk or a peer; the coordinator refuses writes earlier. */
export const siblingsParseMax = 1024;
export const contentTypeBytesMax = 256;

type PackedEntry = [string, number, number];
export type PackedVersion = [PackedEntry, PackedEntry[], PackedEntry[], boolean, string, Uint8Array];

function packEntry(e: Entry): PackedEntry {
  return [e.actor, e.counter, e.ts];
}

export function packClock(c: VClock): [PackedEntry[], PackedEntry[]] {
  return [c.entries.map(packEntry), c.dots.map(packEntry)];
}

export function packVersions(versions: readonly Version[]): PackedVersion[] {
  return versions.map((v) => [packEntry(v.dot), v.clock.entries.map(packEntry), v.clock.dots.map(packEntry), v.deleted, v.contentType, v.value]);
}

function parseEntry(raw: unknown): Entry | undefined {
  if (!Array.isArray(raw) || raw.length !== 3) return undefined;
  const [actor, counter, ts] = raw as unknown[];
  if (typeof actor !== 'string' || actor.length === 0 || Buffer.byteLength(actor) > actorBytesMax) return undefined;
  if (!Number.isSafeInteger(counter) || (counter as number) < 1) return undefined;
  if (!Number.isSafeInteger(ts) || (ts as number) < 0) return undefined;
  return { actor, counter: counter as number, ts: ts as number };
}

function parseEntries(raw: unknown): Entry[] | undefined {
  if (!Array.isArray(raw) || raw.length > contextEntriesMax) return undefined;
  const out: Entry[] = [];
  for (const item of raw) {
    const e = parseEntry(item);
    if (!e) return undefined;
    out.push(e);
  }
  return out;
}

export function parseClock(raw: unknown): VClock | undefined {
  if (!Array.isArray(raw) || raw.length !== 2) return undefined;
  const entries = parseEntries(raw[0]);
  const dots = parseEntries(raw[1]);
  if (!entries || !dots) return undefined;
  return normalize(entries, dots);
}

function asBytes(raw: unknown): Uint8Array | undefined {
  if (raw instanceof Uint8Array) return raw;
  return undefined;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

export function parseVersions(raw: unknown): Parsed<Version[]> {
  if (!Array.isArray(raw)) return { ok: false, reason: 'versions: not an array' };
  if (raw.length > siblingsParseMax) return { ok: false, reason: `versions: more than ${siblingsParseMax} siblings` };
  const out: Version[] = [];
  for (const item of raw) {
    if (!Array.isArray(item) || item.length !== 6) return { ok: false, reason: 'version: not a 6-tuple' };
    const [dotRaw, entriesRaw, dotsRaw, deleted, contentType, valueRaw] = item as unknown[];
    const dot = parseEntry(dotRaw);
    const entries = parseEntries(entriesRaw);
    const dots = parseEntries(dotsRaw);
    const value = asBytes(valueRaw);
    if (!dot || !entries || !dots) return { ok: false, reason: 'version: malformed clock' };
    if (typeof deleted !== 'boolean') return { ok: false, reason: 'version: deleted is not a boolean' };
    if (typeof contentType !== 'string' || Buffer.byteLength(contentType) > contentTypeBytesMax) return { ok: false, reason: 'version: bad content type' };
    if (!value || value.byteLength > valueBytesMax) return { ok: false, reason: 'version: value missing or too large' };
    const clock = normalize(entries, dots);
    // Invariant: a version's clock contains the event that created it.
    if (!covers(clock, dot)) return { ok: false, reason: 'version: clock does not contain its own dot' };
    out.push({ dot, clock, deleted, contentType, value });
  }
  return { ok: true, value: out };
}
