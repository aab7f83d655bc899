// Shared machinery of the fuzzers (test/fuzz/*.test.ts): how many runs, the transport's msgpack
// settings, the values that arrive where a parser expects something else, and the two ways a
// valid message is broken (a field replaced deep inside it, or its bytes edited on the wire).
//
// Runs per property come from GYRE_FUZZ_RUNS (default 2000, so the unit suite stays fast; the
// long mode runs 100000). A failure prints fast-check's seed and path: GYRE_FUZZ_SEED and
// GYRE_FUZZ_PATH replay exactly that run.

import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { Packr } from 'msgpackr';

export const fuzzRunsDefault = 2000;

export function fuzzRuns(): number {
  const raw = process.env.GYRE_FUZZ_RUNS;
  if (raw === undefined || raw === '') return fuzzRunsDefault;
  if (!/^[1-9]\d*$/.test(raw)) throw new Error(`GYRE_FUZZ_RUNS must be a positive integer, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** fast-check parameters for one property: the run count, and a replayed seed if one is given. */
export function fuzzParams<T>(): fc.Parameters<T> {
  const seed = process.env.GYRE_FUZZ_SEED;
  const path = process.env.GYRE_FUZZ_PATH;
  return {
    numRuns: fuzzRuns(),
    // The failure's own message (which parser threw what, on which input) in the report.
    includeErrorInReport: true,
    ...(seed !== undefined && seed !== '' ? { seed: Number(seed) } : {}),
    ...(path !== undefined && path !== '' ? { path } : {}),
  };
}

/**
 * The transport's msgpack settings (net/tcp-transport.ts). Its `pack` returns a view into a
 * buffer the next pack overwrites, hence `packed`, which copies.
 */
export const wire = new Packr({ useRecords: false, mapsAsObjects: true });

export function packed(value: unknown): Buffer {
  return Buffer.from(wire.pack(value));
}

/** What a receiver of these bytes would get, or `undecodable` (the transport drops such a frame). */
export const undecodable = Symbol('undecodable');

export function tryUnpack(bytes: Uint8Array): unknown {
  try {
    return wire.unpack(bytes);
  } catch {
    return undecodable;
  }
}

/** The value as it arrives at the other end of a connection. */
export function overTheWire<T>(value: T): unknown {
  return wire.unpack(packed(value));
}

// ---------------------------------------------------------------------------------------------
// Values that turn up where a parser expects something else.

function deepArray(depth: number): unknown {
  let v: unknown = 0;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

function cyclicArray(): unknown[] {
  const a: unknown[] = [];
  a.push(a);
  return a;
}

function cyclicObject(): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  o.self = o;
  return o;
}

/** Numbers at the edges the parsers check (safe integers, 2^47 ms, 2^52 counters, limits). */
export const edgeNumbers: readonly number[] = [
  NaN, Infinity, -Infinity, -1, 0, -0, 0.5, 1.5, -1.5, 1, 2, 3, 16, 17, 255, 256, 257, 512, 513, 1024, 1025, 4095, 4096, 4097, 8192, 8193,
  65535, 65536, 60_000, 60_001, 120_000, 120_001, 600_000, 600_001, 86_400_000, 86_400_001, 2 ** 31, 2 ** 32, 2 ** 47, 2 ** 47 + 1, 2 ** 52, 2 ** 52 + 1,
  2 ** 53, 2 ** 53 + 2, -(2 ** 53), Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, Number.MAX_VALUE, Number.MIN_VALUE, Number.EPSILON, 1e308,
];

const edgeStrings: readonly string[] = [
  '', ' ', 'a', '\u0000', '\uFFFD', 'é', '😀', '%', '%zz', 'NaN', '-1', '1e3', ' 5 ', '0x10', 'Infinity', 'true', 'null', 'toString', '__proto__', 'constructor',
  'gossip', 'read', 'write', 'writeMany', 'coordinate', 'fold', 'readMany', 'reap', 'aeRoots', 'aeLeaves', 'aeKeys', 'faults', 'snapshot', 'versions',
  'coordinated', 'ack', 'partition', 'latency', 'loss', 'pause', 'crash', 'joining', 'member', 'leaving', 'left', 'up', 'down', 'n1', 'n1,n2', '127.0.0.1:7070',
  'get', 'put', 'delete', 'base64', 'utf8', 'production',
];

const longStringArb = fc.constantFrom(16, 63, 64, 65, 128, 129, 255, 256, 257, 1024, 1025, 4097, 70_000).chain((n) =>
  fc.constantFrom('x', 'é', '😀', '9', ':').map((unit) => unit.repeat(n)),
);

const sizedBytesArb = fc.constantFrom(0, 1, 4, 15, 16, 17, 31, 32, 33, 1023, 1024, 1025).map((n) => new Uint8Array(n).fill(n & 0xff));

const wideArrayArb = fc.constantFrom(2, 3, 4, 5, 6, 7, 9, 33, 64, 65, 257, 513, 1025, 4097, 8193, 10_001).map((n) => new Array<number>(n).fill(0));

/** Values msgpack (with the transport's settings) can hand a parser: types, limits, odd objects. */
export const wireWeirdArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(null, undefined, true, false),
  fc.constantFrom(...edgeNumbers),
  fc.integer({ min: -2, max: 10 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(0n, 1n, -1n, 2n ** 53n, 2n ** 64n - 1n, -(2n ** 63n)),
  fc.bigInt(),
  fc.constantFrom(...edgeStrings),
  fc.string({ maxLength: 12 }),
  longStringArb,
  sizedBytesArb,
  fc.uint8Array({ maxLength: 40 }),
  wideArrayArb,
  fc.constantFrom(1, 10, 100, 1000, 2000).map(deepArray),
  fc.constant(null).map(cyclicArray),
  fc.constant(null).map(cyclicObject),
  fc.constant(null).map(() => ({ toString: 1 })),
  fc.constant(null).map(() => ({ valueOf: 1, toString: 1 })),
  fc.constant(null).map(() => ({ length: 2, 0: 'a', 1: 'b' })),
  fc.constant(null).map(() => ({ __proto_: { kind: 'pause' }, kind: 'crash' })),
  fc.constant(null).map(() => new Date(0)),
  fc.constant(null).map(() => new Date(NaN)),
  fc.constant(null).map(() => new Set(['a'])),
  fc.constant(null).map(() => new TypeError('boom')),
  fc.constant(null).map(() => /a/g),
  fc.constant(null).map(() => new Uint16Array(8)),
  fc.constant(null).map(() => new Int8Array(16)),
  fc.constant(null).map(() => new Uint8ClampedArray(16)),
  fc.constant(null).map(() => new Float64Array(2)),
  fc.constant(null).map(() => new ArrayBuffer(16)),
  fc.constant(null).map(() => new DataView(new ArrayBuffer(16))),
  fc.anything({ maxDepth: 2, maxKeys: 4, withBigInt: true, withDate: true, withSet: true, withTypedArray: true, withNullPrototype: false, withBoxedValues: false, withMap: false, withSparseArray: false }),
);

/**
 * Values a JavaScript caller can hand a parser (Socket.IO's JSON, Electron's structured clone):
 * the wire's, plus sparse arrays and Maps.
 */
export const jsWeirdArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: wireWeirdArb },
  { weight: 1, arbitrary: fc.constant(null).map(() => [, 'n1']) }, // eslint-disable-line no-sparse-arrays
  { weight: 1, arbitrary: fc.constant(null).map(() => new Map([['kind', 'pause']])) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 2, maxKeys: 4, withBigInt: true, withMap: true, withSet: true, withDate: true, withSparseArray: true, withTypedArray: true, withNullPrototype: false, withBoxedValues: false }) },
);

// ---------------------------------------------------------------------------------------------
// Copies and comparisons.

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A deep copy of arrays, plain objects and byte arrays (others are shared); cycles kept. */
export function cloneValue(v: unknown, seen = new Map<object, unknown>()): unknown {
  if (typeof v !== 'object' || v === null) return v;
  const known = seen.get(v);
  if (known !== undefined) return known;
  if (Buffer.isBuffer(v)) return Buffer.from(v);
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    seen.set(v, out);
    for (const x of v) out.push(cloneValue(x, seen));
    return out;
  }
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    seen.set(v, out);
    for (const k of Object.keys(v)) Object.defineProperty(out, k, { value: cloneValue(v[k], seen), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return v;
}

/**
 * A comparable form of a parsed value: bytes as hex whatever their class (Buffer or
 * Uint8Array), Maps as entry lists, undefined object fields dropped (a missing optional field
 * and an undefined one are the same), NaN and infinities spelled out. Cycle-safe.
 */
export function canon(v: unknown, path: object[] = []): unknown {
  if (v === undefined) return '$undefined';
  // -0 is 0: msgpack itself writes it as 0, and no field gives the sign of zero a meaning.
  if (typeof v === 'number') return Number.isNaN(v) ? '$NaN' : v === Infinity ? '$Infinity' : v === -Infinity ? '$-Infinity' : v === 0 ? 0 : v;
  if (typeof v === 'bigint') return { $bigint: v.toString() };
  if (typeof v !== 'object' || v === null) return v;
  if (path.includes(v)) return '$cycle';
  const inner = [...path, v];
  if (v instanceof Uint8Array) {
    const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    // Large byte strings (values up to 1 MiB) by length and digest: as exact, far cheaper.
    return { $bytes: b.byteLength <= 64 ? b.toString('hex') : `${b.byteLength}:${createHash('sha256').update(b).digest('hex')}` };
  }
  if (v instanceof Map) return { $map: [...v].map(([k, x]) => [canon(k, inner), canon(x, inner)]) };
  if (v instanceof Set) return { $set: [...v].map((x) => canon(x, inner)) };
  if (v instanceof Date) return { $date: String(v.getTime()) };
  if (Array.isArray(v)) return v.map((x) => canon(x, inner));
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) if (v[k] !== undefined) out[k] = canon(v[k], inner);
    return out;
  }
  return { $class: (v as object).constructor?.name ?? 'unknown' };
}

// ---------------------------------------------------------------------------------------------
// Field-level mutation: replace (with anything), tweak (within its type), drop, insert, duplicate
// or transplant one slot anywhere in a nested value (arrays and plain objects are walked; byte
// arrays are leaves).

export type FieldOp = 'replace' | 'tweak' | 'drop' | 'insert' | 'duplicate' | 'transplant';

export interface FieldEdit {
  readonly op: FieldOp;
  /** Which slot (modulo the number of slots; slot 0 is the whole value). */
  readonly at: number;
  /** For `transplant`: the slot whose value is copied over `at`. */
  readonly from: number;
  /** For `replace` and `insert`. */
  readonly value: unknown;
  /** For `insert` into an object: the new field's name. */
  readonly name: string;
  /** For `tweak`: a value of the slot's own type (number, string, bytes; booleans flip), so the message often stays valid but moves to a limit. */
  readonly num: number;
  readonly str: string;
  readonly bytes: Uint8Array;
}

const fieldNames = ['extra', 'kind', 'node', 'nodes', 'from', 'to', 'id', '__proto__', 'toString', 'length', '0', 'durationMs'];

export function fieldEditArb(weird: fc.Arbitrary<unknown> = wireWeirdArb): fc.Arbitrary<FieldEdit> {
  return fc
    .tuple(
      fc.constantFrom<FieldOp>('replace', 'replace', 'tweak', 'tweak', 'drop', 'insert', 'duplicate', 'transplant'),
      fc.nat(),
      fc.nat(),
      weird,
      fc.constantFrom(...fieldNames),
      fc.oneof(fc.constantFrom(...edgeNumbers), fc.integer({ min: -2, max: 10 }), fc.integer()),
      fc.oneof(fc.constantFrom(...edgeStrings), longStringArb, fc.string({ maxLength: 8 })),
      fc.oneof(sizedBytesArb, fc.uint8Array({ maxLength: 24 })),
    )
    .map(([op, at, from, value, name, num, str, bytes]) => ({ op, at, from, value, name, num, str, bytes }));
}

export function fieldEditsArb(weird: fc.Arbitrary<unknown> = wireWeirdArb): fc.Arbitrary<FieldEdit[]> {
  return fc.array(fieldEditArb(weird), { minLength: 1, maxLength: 3 });
}

interface Slot {
  readonly parent: unknown[] | Record<string, unknown>;
  readonly key: number | string;
}

const slotWalkMax = 20_000;

function slotsOf(holder: { v: unknown }): Slot[] {
  const out: Slot[] = [{ parent: holder as unknown as Record<string, unknown>, key: 'v' }];
  const seen = new Set<object>();
  const walk = (v: unknown) => {
    if (out.length >= slotWalkMax || typeof v !== 'object' || v === null || seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length && out.length < slotWalkMax; i++) {
        out.push({ parent: v, key: i });
        walk(v[i]);
      }
    } else if (isPlainObject(v)) {
      for (const k of Object.keys(v)) {
        if (out.length >= slotWalkMax) break;
        out.push({ parent: v, key: k });
        walk(v[k]);
      }
    }
  };
  walk(holder.v);
  return out;
}

function setOwn(o: Record<string, unknown>, k: string, value: unknown): void {
  Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
}

function readSlot(s: Slot): unknown {
  return Array.isArray(s.parent) ? s.parent[s.key as number] : s.parent[s.key as string];
}

function writeSlot(s: Slot, value: unknown): void {
  if (Array.isArray(s.parent)) s.parent[s.key as number] = value;
  else setOwn(s.parent, s.key as string, value);
}

/** A copy of `value` with the edits applied in turn. */
export function mutateFields(value: unknown, edits: readonly FieldEdit[]): unknown {
  const holder = { v: cloneValue(value) };
  for (const e of edits) {
    const slots = slotsOf(holder);
    const s = slots[e.at % slots.length]!;
    const isRoot = s.parent === (holder as unknown);
    switch (e.op) {
      case 'replace':
        writeSlot(s, e.value);
        break;
      case 'tweak': {
        const v = readSlot(s);
        writeSlot(s, typeof v === 'number' ? e.num : typeof v === 'string' ? e.str : typeof v === 'boolean' ? !v : v instanceof Uint8Array ? Buffer.from(e.bytes) : e.value);
        break;
      }
      case 'transplant':
        writeSlot(s, cloneValue(readSlot(slots[e.from % slots.length]!)));
        break;
      case 'drop':
        if (isRoot) holder.v = undefined;
        else if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1);
        else delete s.parent[s.key as string];
        break;
      case 'insert':
      case 'duplicate': {
        const extra = e.op === 'insert' ? e.value : cloneValue(readSlot(s));
        const target = readSlot(s);
        // Into the slot's own container when it is one, else beside the slot.
        if (Array.isArray(target)) target.splice(e.from % (target.length + 1), 0, extra);
        else if (isPlainObject(target)) setOwn(target, e.name, extra);
        else if (isRoot) holder.v = [holder.v, extra];
        else if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 0, extra);
        else setOwn(s.parent, e.name, extra);
        break;
      }
    }
  }
  return holder.v;
}

// ---------------------------------------------------------------------------------------------
// Byte-level mutation of an encoded message.

export type ByteEdit =
  | { readonly op: 'flip'; readonly at: number; readonly bit: number }
  | { readonly op: 'set'; readonly at: number; readonly byte: number }
  | { readonly op: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly op: 'delete'; readonly at: number; readonly count: number }
  | { readonly op: 'truncate'; readonly at: number };

/** msgpack type bytes: nil, bools, bin/str/array/map headers, ext, floats, 64-bit ints. */
const markerBytes = [
  0x00, 0x01, 0x7f, 0x80, 0x81, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x96, 0x9f, 0xa0, 0xa1, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca,
  0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff,
];

/**
 * Encodings spliced into a message: odd values the packer makes, and extension records only a
 * hand-made frame carries (a self-referencing array, BigInt, Set, Error, RegExp, typed arrays, Date).
 */
const snippets: readonly Uint8Array[] = [
  ...[null, true, -1, 2 ** 53, 2 ** 52 + 1, 2 ** 47 + 1, NaN, 1.5, 'x'.repeat(257), '', new Uint8Array(16), new Uint8Array(1025), [], {}, { kind: 'crash', node: 'n1' }].map(packed),
  Uint8Array.from([0xd6, 0x69, 0, 0, 0, 1, 0x91, 0xd6, 0x70, 0, 0, 0, 1]),
  Uint8Array.from([0xd6, 0x70, 0, 0, 0, 9]),
  Uint8Array.from([0xcf, 0, 0, 0, 0, 0, 0, 0, 5]),
  Uint8Array.from([0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
  Uint8Array.from([0xd4, 0x42, 0x05]),
  Uint8Array.from([0xd4, 0x73, 0x00, 0x91, 0xa1, 0x61]),
  Uint8Array.from([0xd4, 0x65, 0x00, 0x93, 0xa5, ...Buffer.from('Error'), 0xa1, 0x78, 0xc0]),
  Uint8Array.from([0xd4, 0x78, 0x00, 0x92, 0xa1, 0x61, 0xa1, 0x67]),
  Uint8Array.from([0xc7, 5, 0x74, 4, 1, 0, 2, 0]),
  Uint8Array.from([0xc7, 17, 0x74, 1, ...new Uint8Array(16)]),
  Uint8Array.from([0xd6, 0xff, 0, 0, 0, 1]),
  Uint8Array.from([0xd4, 0x00, 0x00]),
  Uint8Array.from([0xdc, 0xff, 0xff]),
  Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff]),
  Uint8Array.from([0xc6, 0x7f, 0xff, 0xff, 0xff]),
];

const byteEditArb: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })).map(([at, bit]): ByteEdit => ({ op: 'flip', at, bit })),
  fc.tuple(fc.nat(), fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...markerBytes))).map(([at, byte]): ByteEdit => ({ op: 'set', at, byte })),
  fc.tuple(fc.nat(), fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.constantFrom(...snippets))).map(([at, bytes]): ByteEdit => ({ op: 'insert', at, bytes })),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 16 })).map(([at, count]): ByteEdit => ({ op: 'delete', at, count })),
  fc.nat().map((at): ByteEdit => ({ op: 'truncate', at })),
);

export const byteEditsArb: fc.Arbitrary<ByteEdit[]> = fc.array(byteEditArb, { minLength: 1, maxLength: 4 });

/** A copy of `data` with the edits applied in turn. */
export function mutateBytes(data: Uint8Array, edits: readonly ByteEdit[]): Buffer {
  let b = Buffer.from(data);
  for (const e of edits) {
    const at = b.byteLength === 0 ? 0 : e.at % b.byteLength;
    switch (e.op) {
      case 'flip':
        if (b.byteLength > 0) b[at] = b[at]! ^ (1 << e.bit);
        break;
      case 'set':
        if (b.byteLength > 0) b[at] = e.byte;
        break;
      case 'insert': {
        const pos = e.at % (b.byteLength + 1);
        b = Buffer.concat([b.subarray(0, pos), e.bytes, b.subarray(pos)]);
        break;
      }
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.count)]);
        break;
      case 'truncate':
        b = Buffer.from(b.subarray(0, at));
        break;
    }
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// The law every accepted value obeys.

/** A parser and the encoder of what it returns (`undefined`: refused). */
export interface Codec<T> {
  readonly name: string;
  parse(raw: unknown): T | undefined;
  encode(value: T): unknown;
}

/** A parser's `Parsed<T>` result as `T | undefined`. */
export function accepted<T>(r: { ok: true; value: T } | { ok: false }): T | undefined {
  return r.ok ? r.value : undefined;
}

/** A short, cycle-safe rendering of an input for failure messages. */
export function show(v: unknown): string {
  const s = inspect(v, { depth: 6, maxArrayLength: 12, maxStringLength: 80, breakLength: Infinity, compact: true });
  return s.length > 1500 ? `${s.slice(0, 1500)} ...` : s;
}

function parseOrExplain<T>(c: Codec<T>, raw: unknown): T | undefined {
  try {
    return c.parse(raw);
  } catch (e) {
    throw new Error(`${c.name} threw ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)} on ${show(raw)}`, { cause: e });
  }
}

/**
 * Feeds `raw` to the parser. Whatever it accepts must satisfy `invariant`, and must be a fixed
 * point: encoded, sent over the wire and parsed again, it is accepted and encodes the same.
 * Returns whether the parser accepted `raw`.
 */
export function checkAccepted<T>(c: Codec<T>, raw: unknown, invariant?: (value: T) => string | undefined): boolean {
  const value = parseOrExplain(c, raw);
  if (value === undefined) return false;
  const problem = invariant?.(value);
  if (problem !== undefined) throw new Error(`${c.name} accepted a value that breaks an invariant: ${problem}; input ${show(raw)}`);
  const encoded = c.encode(value);
  const again = parseOrExplain(c, overTheWire(encoded));
  if (again === undefined) throw new Error(`${c.name} accepted a value that it refuses once re-encoded: input ${show(raw)}`);
  const before = canon(encoded);
  const after = canon(c.encode(again));
  if (JSON.stringify(before) !== JSON.stringify(after)) throw new Error(`${c.name}: an accepted value changes when re-encoded and parsed again:\n  first  ${JSON.stringify(before).slice(0, 600)}\n  second ${JSON.stringify(after).slice(0, 600)}`);
  return true;
}
