// Fuzzing the sibling-set and clock parsers (core/codec.ts): what arrives from a peer and what
// is read back from disk. Valid sets round-trip exactly; broken ones never make the parser
// throw; whatever it accepts keeps the invariants the rest of the code relies on (every counter
// a safe integer in 1..2^52, every time in 0..2^47 ms, at most 256 entries and 256 dots, clocks
// normalized, each version's clock covering its own dot) and is a fixed point of its encoding.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { actorBytesMax, clockEntriesMax, counterMax, encodeStored, packClock, packVersions, parseClock, parseVersions, siblingsParseMax, timestampMsMax } from '../../node-core/src/core/codec.js';
import type { Version } from '../../node-core/src/core/siblings.js';
import type { VClock } from '../../node-core/src/core/vclock.js';
import { type Codec, accepted, byteEditsArb, canon, checkAccepted, edgeNumbers, fieldEditsArb, fuzzParams, mutateBytes, mutateFields, overTheWire, packed, tryUnpack, undecodable } from './fuzz.js';
import { actorArb, clockArb, clockInvariant, versionsArb, versionsInvariant } from './wire-gen.js';

const versionsCodec: Codec<Version[]> = { name: 'parseVersions', parse: (raw) => accepted(parseVersions(raw)), encode: packVersions };
const clockCodec: Codec<VClock> = { name: 'parseClock', parse: parseClock, encode: packClock };

/** Whatever parseVersions accepts can also be stored (stores refuse what they could not read back). */
function storable(vs: Version[]): string | undefined {
  const inv = versionsInvariant(vs);
  if (inv) return inv;
  const stored = encodeStored(vs);
  return stored.ok ? undefined : `accepted, but a store would refuse it: ${stored.reason}`;
}

function feed(raw: unknown): void {
  checkAccepted(versionsCodec, raw, storable);
  checkAccepted(clockCodec, raw, clockInvariant);
}

const startArb: fc.Arbitrary<unknown> = fc.oneof(versionsArb.map(packVersions), clockArb.map(packClock));

test('fuzz codec: valid sibling sets survive packVersions, the wire and parseVersions unchanged', () => {
  fc.assert(
    fc.property(versionsArb, (vs) => {
      const got = parseVersions(overTheWire(packVersions(vs)));
      assert.ok(got.ok, got.ok ? '' : got.reason);
      assert.deepStrictEqual(canon(got.value), canon(vs));
      assert.equal(versionsInvariant(got.value), undefined);
    }),
    fuzzParams(),
  );
});

test('fuzz codec: valid clocks survive packClock, the wire and parseClock unchanged', () => {
  fc.assert(
    fc.property(clockArb, (c) => {
      const got = parseClock(overTheWire(packClock(c)));
      assert.ok(got, 'refused a valid clock');
      assert.deepStrictEqual(canon(got), canon(c));
    }),
    fuzzParams(),
  );
});

test('fuzz codec: fields replaced, dropped or added never make parseVersions or parseClock throw; what they accept is sound and re-encodes to itself', () => {
  fc.assert(
    fc.property(startArb, fieldEditsArb(), (start, edits) => feed(mutateFields(start, edits))),
    fuzzParams(),
  );
});

test('fuzz codec: msgpack bytes flipped, inserted, deleted or cut never make them throw; what they accept is sound and re-encodes to itself', () => {
  fc.assert(
    fc.property(startArb, byteEditsArb, (start, edits) => {
      const decoded = tryUnpack(mutateBytes(packed(start), edits));
      if (decoded !== undecodable) feed(decoded);
    }),
    fuzzParams(),
  );
});

// Raw entries the encoder never writes (unsorted, repeated, dots that fold into the prefix, a
// new actor's first event as a dot), in lists up to the limit and one past it: what a peer can
// hand-craft. Whatever is accepted must still be sound and stable.

const rawEntryArb = fc.tuple(
  fc.oneof({ weight: 4, arbitrary: fc.constantFrom('a', 'b', 'c') }, { weight: 4, arbitrary: fc.nat({ max: 600 }).map((i) => `x${i}`) }, { weight: 1, arbitrary: actorArb }, { weight: 1, arbitrary: fc.constant('y'.repeat(actorBytesMax + 1)) }),
  fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constantFrom(counterMax, counterMax + 1, ...edgeNumbers) }),
  fc.oneof({ weight: 6, arbitrary: fc.nat({ max: 1000 }) }, { weight: 1, arbitrary: fc.constantFrom(timestampMsMax, timestampMsMax + 1, ...edgeNumbers) }),
);

/** A list of raw entries, sometimes right at the limit (each entry a distinct actor), sometimes past it. */
const rawListArb = fc.oneof(
  { weight: 6, arbitrary: fc.array(rawEntryArb, { maxLength: 8 }) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom(clockEntriesMax - 1, clockEntriesMax, clockEntriesMax + 1), fc.constantFrom('p', 'q'), fc.integer({ min: 1, max: 3 })).map(([n, prefix, counter]) =>
      Array.from({ length: n }, (_, i) => [`${prefix}${i}`, counter, 0]),
    ),
  },
);

test('fuzz codec: hand-made clocks (unsorted, repeated, folding dots, at and past the limits) are refused or parsed into a sound, stable clock', () => {
  fc.assert(
    fc.property(rawListArb, rawListArb, (entries, dots) => {
      checkAccepted(clockCodec, [entries, dots], clockInvariant);
      const dot = (entries[0] ?? dots[0] ?? ['a', 1, 0]) as unknown;
      checkAccepted(versionsCodec, [[dot, entries, dots, false, '', new Uint8Array(0)]], storable);
    }),
    fuzzParams(),
  );
});

test('fuzz codec: each limit accepts its maximum and refuses one more', () => {
  const version = (dot: unknown, entries: unknown[] = [], dots: unknown[] = []) => [[dot, [dot, ...entries], dots, false, '', new Uint8Array(0)]];
  const ok = (raw: unknown) => parseVersions(overTheWire(raw)).ok;
  assert.equal(ok(version(['x'.repeat(actorBytesMax), 1, 0])), true, 'a 64-byte actor');
  assert.equal(ok(version(['x'.repeat(actorBytesMax + 1), 1, 0])), false, 'a 65-byte actor');
  assert.equal(ok(version(['a', counterMax, 0])), true, 'counter 2^52');
  assert.equal(ok(version(['a', counterMax + 1, 0])), false, 'counter 2^52 + 1');
  assert.equal(ok(version(['a', 1, timestampMsMax])), true, 'time 2^47 ms');
  assert.equal(ok(version(['a', 1, timestampMsMax + 1])), false, 'time 2^47 + 1 ms');
  const many = (n: number) => Array.from({ length: n }, (_, i) => [`e${i}`, 1, 0]);
  assert.equal(ok([[['a', 1, 0], [['a', 1, 0], ...many(clockEntriesMax - 1)], [], false, '', new Uint8Array(0)]]), true, '256 entries');
  assert.equal(ok([[['a', 1, 0], [['a', 1, 0], ...many(clockEntriesMax)], [], false, '', new Uint8Array(0)]]), false, '257 entries');
  const sibling = (i: number) => [['a', i + 1, 0], [['a', i + 1, 0]], [], false, '', new Uint8Array(0)];
  assert.equal(ok(Array.from({ length: siblingsParseMax }, (_, i) => sibling(i))), true, '1024 siblings');
  assert.equal(ok(Array.from({ length: siblingsParseMax + 1 }, (_, i) => sibling(i))), false, '1025 siblings');
  assert.equal(ok(version(['a', 2, 0])), true, 'a clock [a:1..2] covers its dot a:2');
  assert.equal(ok([[['a', 3, 0], [['a', 1, 0]], [], false, '', new Uint8Array(0)]]), false, 'a clock [a:1] does not cover its dot a:3');
});
