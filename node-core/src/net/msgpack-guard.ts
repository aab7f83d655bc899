// A structural check of msgpack bytes before they are decoded. msgpackr decodes whatever it is
// given: extension types (dates, records, structured clones), nesting as deep as the bytes
// allow, and arrays of millions of one-byte elements, each of which becomes a JS value many
// times its encoded size. Internode frames come from the network, so they are walked once
// here (no allocation, O(bytes)) and refused unless they have the shape Gyre's messages
// have: bounded depth, a bounded number of elements, no extensions except the one msgpackr
// uses for `undefined`. Written by hand because no maintained library validates msgpack
// structure without decoding it.

/** Nesting of arrays and maps; Gyre's deepest message (writeMany: item, versions, clock, entry) is 7. */
export const msgpackDepthMax = 16;
/**
 * Values in one frame. The largest legitimate frames are handoff and fold batches, bounded at
 * 16 MiB by `siblingsBytes`, which counts 16 bytes per clock event so such a batch stays under
 * this; the decoded form of a frame this size is tens of MB at worst.
 */
export const msgpackElementsMax = 4 * 1024 * 1024;

// What a value's type byte announces, per the msgpack spec: one entry per byte, built once,
// so the walk below is a table look-up per value rather than a chain of comparisons.
/** `size` payload bytes follow: fixints, nil and booleans (0), fixstr, floats, ints. */
const headerPayload = 0;
/** `size` values follow: fixarray, or fixmap (a key and a value per entry). */
const headerValues = 1;
/** A `size`-byte length, then that many payload bytes: bin and str 8/16/32. */
const headerLength = 2;
/** A `size`-byte count of values: array 16/32. */
const headerArrayCount = 3;
/** A `size`-byte count of entries, two values each: map 16/32. */
const headerMapCount = 4;
/** fixext 1, let through only as type 0 with data 0: how msgpackr writes `undefined`. */
const headerUndefined = 5;
/** 0xc1 (never valid) and every other extension type. */
const headerRefused = 6;

/** Type bytes there are: one table entry for each value of a byte. */
const typeBytesCount = 256;
const headerKinds = new Uint8Array(typeBytesCount).fill(headerRefused);
const headerSizes = new Uint8Array(typeBytesCount);

/** Records what each of `bytes` announces: a header kind, and its size as that kind reads it. */
function describeTypeBytes(bytes: readonly number[], kind: number, size: (b: number) => number): void {
  for (const b of bytes) {
    headerKinds[b] = kind;
    headerSizes[b] = size(b);
  }
}

function byteRange(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

describeTypeBytes([...byteRange(0x00, 0x7f), ...byteRange(0xe0, 0xff), 0xc0, 0xc2, 0xc3], headerPayload, () => 0);
describeTypeBytes(byteRange(0x80, 0x8f), headerValues, (b) => 2 * (b & 0x0f));
describeTypeBytes(byteRange(0x90, 0x9f), headerValues, (b) => b & 0x0f);
describeTypeBytes(byteRange(0xa0, 0xbf), headerPayload, (b) => b & 0x1f);
describeTypeBytes([0xcc, 0xd0], headerPayload, () => 1);
describeTypeBytes([0xcd, 0xd1], headerPayload, () => 2);
describeTypeBytes([0xca, 0xce, 0xd2], headerPayload, () => 4);
describeTypeBytes([0xcb, 0xcf, 0xd3], headerPayload, () => 8);
describeTypeBytes([0xc4, 0xd9], headerLength, () => 1);
describeTypeBytes([0xc5, 0xda], headerLength, () => 2);
describeTypeBytes([0xc6, 0xdb], headerLength, () => 4);
describeTypeBytes([0xdc], headerArrayCount, () => 2);
describeTypeBytes([0xdd], headerArrayCount, () => 4);
describeTypeBytes([0xde], headerMapCount, () => 2);
describeTypeBytes([0xdf], headerMapCount, () => 4);
describeTypeBytes([0xd4], headerUndefined, () => 2);

/** The big-endian unsigned field of 1, 2 or 4 bytes at `at`. */
function readUint(view: DataView, at: number, bytes: number): number {
  if (bytes === 1) return view.getUint8(at);
  return bytes === 2 ? view.getUint16(at) : view.getUint32(at);
}

/** Why the bytes are not an acceptable msgpack value, or undefined. */
export function msgpackProblem(buf: Uint8Array, depthMax = msgpackDepthMax, elementsMax = msgpackElementsMax): string | undefined {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const end = buf.byteLength;
  let at = 0;
  let elements = 0;
  // Values still to read at each open level; the top level holds exactly one value.
  const pending: number[] = [1];
  const need = (n: number): boolean => at + n <= end;
  while (pending.length > 0) {
    if (pending[pending.length - 1] === 0) {
      pending.pop();
      continue;
    }
    pending[pending.length - 1]!--;
    if (++elements > elementsMax) return `more than ${elementsMax} values`;
    if (!need(1)) return 'truncated';
    const b = buf[at++]!;
    const kind = headerKinds[b];
    const size = headerSizes[b]!;
    let children = 0;
    let skip = 0;
    if (kind === headerPayload) skip = size;
    else if (kind === headerValues) children = size;
    else if (kind === headerLength || kind === headerArrayCount || kind === headerMapCount) {
      if (!need(size)) return 'truncated';
      const n = readUint(view, at, size);
      at += size;
      if (kind === headerLength) skip = n;
      else children = kind === headerMapCount ? 2 * n : n;
    } else if (kind === headerUndefined) {
      // fixext 1 of type 0 is how msgpackr writes `undefined`; every other extension is refused.
      if (!need(size) || buf[at] !== 0 || buf[at + 1] !== 0) return 'msgpack extension types are not accepted';
      skip = size;
    } else return b === 0xc1 ? 'invalid msgpack byte 0xc1' : `msgpack extension type 0x${b.toString(16)} is not accepted`;
    if (!need(skip)) return 'truncated';
    at += skip;
    if (children > 0) {
      // Every value takes at least one byte: a count beyond the bytes left is a lie, refused
      // before anything is allocated for it.
      if (children > end - at) return 'a collection announces more values than the bytes hold';
      if (pending.length > depthMax) return `nested deeper than ${depthMax}`;
      pending.push(children);
    }
  }
  if (at !== end) return 'trailing bytes after the value';
  return undefined;
}
