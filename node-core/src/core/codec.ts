// The one wire/disk form of sibling sets, and its validating parser. Everything that reaches
// a node from a peer or from its own disk passes through `parseVersions` once, so the rest of
// the code can trust a Version[] (STYLE 11). Plain arrays keep msgpack output compact.

import { pack } from 'msgpackr';
import { type Entry, type VClock, normalize, covers } from './vclock.js';
import type { Version } from './siblings.js';

export const keyBytesMax = 1024;
export const valueBytesMax = 1024 * 1024;
/** A key's sibling set as accepted from disk or a peer; the coordinator refuses writes earlier. */
export const siblingsParseMax = 1024;
export const contentTypeBytesMax = 256;
export const actorBytesMax = 64;
/**
 * What an actor id may be made of: node ids ([A-Za-z0-9_-]) and the `.` and `~` of tenure and
 * one-shot actors. Version ids (`actor:counter`) go into HTTP headers, where other bytes make
 * the response itself fail.
 */
const actorPattern = /^[A-Za-z0-9_.~-]+$/;
/** Entries in one clock's prefix, and dots in its cloud (each list separately). */
export const clockEntriesMax = 256;
/**
 * The highest event counter accepted anywhere. Far below 2^53 so that `counter + 1` is always
 * exact: a counter at the edge of the safe integers would make the next write unrepresentable
 * (a version nobody could read back). 2^52 writes by one actor to one key is never reached.
 */
export const counterMax = 2 ** 52;
/** The latest event time accepted (ms since 1970; 2^47 ms is the year 6429). */
export const timestampMsMax = 2 ** 47;
/**
 * The largest stored row (a key's packed sibling set). It must fit one internode frame with
 * room for the message around it, or the row could be stored but never handed off,
 * transferred or repaired.
 */
export const rowBytesMax = 48 * 1024 * 1024;

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

/** Why an event is out of bounds, or undefined: the one rule for events read and events stored. */
export function entryProblem(e: Entry): string | undefined {
  if (typeof e.actor !== 'string' || e.actor.length === 0 || e.actor.length > actorBytesMax || !actorPattern.test(e.actor)) return `actor must be 1..${actorBytesMax} characters of A-Z a-z 0-9 _ - . ~`;
  if (!Number.isSafeInteger(e.counter) || e.counter < 1 || e.counter > counterMax) return `counter must be an integer in 1..2^52`;
  if (!Number.isSafeInteger(e.ts) || e.ts < 0 || e.ts > timestampMsMax) return `timestamp must be an integer in 0..2^47 ms`;
  return undefined;
}

function parseEntry(raw: unknown): Entry | undefined {
  if (!Array.isArray(raw) || raw.length !== 3) return undefined;
  const [actor, counter, ts] = raw as unknown[];
  if (typeof actor !== 'string' || typeof counter !== 'number' || typeof ts !== 'number') return undefined;
  const e = { actor, counter, ts };
  return entryProblem(e) === undefined ? e : undefined;
}

function parseEntries(raw: unknown): Entry[] | undefined {
  if (!Array.isArray(raw) || raw.length > clockEntriesMax) return undefined;
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
  // Checked again once normalized: folding dots into the prefix can add entries.
  const clock = normalize(entries, dots);
  return clockProblem(clock) === undefined ? clock : undefined;
}

function asBytes(raw: unknown): Uint8Array | undefined {
  if (raw instanceof Uint8Array) return raw;
  return undefined;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Why a clock cannot be stored or sent, or undefined. */
export function clockProblem(c: VClock): string | undefined {
  if (c.entries.length > clockEntriesMax || c.dots.length > clockEntriesMax) return `a clock names more than ${clockEntriesMax} actors or dots`;
  for (const e of c.entries) {
    const p = entryProblem(e);
    if (p) return p;
  }
  for (const e of c.dots) {
    const p = entryProblem(e);
    if (p) return p;
  }
  return undefined;
}

/**
 * Why a sibling set could not be read back by `parseVersions`, or undefined. Stores call it
 * (through `encodeStored`) before every commit, so nothing is stored that a restart could not
 * read; `parseVersions` applies the same checks to what it reads, so the two cannot drift.
 */
export function versionsProblem(versions: readonly Version[]): string | undefined {
  if (versions.length > siblingsParseMax) return `more than ${siblingsParseMax} siblings`;
  for (const v of versions) {
    const p = entryProblem(v.dot) ?? clockProblem(v.clock);
    if (p) return `version: ${p}`;
    if (typeof v.deleted !== 'boolean') return 'version: deleted is not a boolean';
    if (typeof v.contentType !== 'string' || Buffer.byteLength(v.contentType) > contentTypeBytesMax) return 'version: bad content type';
    if (!(v.value instanceof Uint8Array) || v.value.byteLength > valueBytesMax) return 'version: value missing or too large';
    // Invariant: a version's clock contains the event that created it.
    if (!covers(v.clock, v.dot)) return 'version: clock does not contain its own dot';
  }
  return undefined;
}

/** The bytes a store commits for a sibling set, or why it must not be stored. */
export function encodeStored(versions: readonly Version[]): Parsed<Buffer> {
  const problem = versionsProblem(versions);
  if (problem) return { ok: false, reason: problem };
  const data = pack(packVersions(versions));
  if (data.byteLength > rowBytesMax) return { ok: false, reason: `the key's versions would take ${data.byteLength} bytes (limit ${rowBytesMax})` };
  return { ok: true, value: data };
}

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
    if (typeof contentType !== 'string') return { ok: false, reason: 'version: bad content type' };
    if (!value) return { ok: false, reason: 'version: value missing or too large' };
    out.push({ dot, clock: normalize(entries, dots), deleted, contentType, value });
  }
  const problem = versionsProblem(out);
  return problem ? { ok: false, reason: problem } : { ok: true, value: out };
}
