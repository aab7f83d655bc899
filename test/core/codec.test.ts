// The wire/disk form of sibling sets (STYLE 11: parsed and validated once at the boundary).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pack, unpack } from 'msgpackr';
import { type PackedVersion, actorBytesMax, clockEntriesMax as contextEntriesMax, contentTypeBytesMax, counterMax, timestampMsMax, packVersions, parseVersions, siblingsParseMax, valueBytesMax, encodeStored } from '../../node-core/src/core/codec.js';
import type { Version } from '../../node-core/src/core/siblings.js';
import { type Entry, addEvent, covers, normalize } from '../../node-core/src/core/vclock.js';

const runs = { numRuns: 300 };

const actorArb = fc.oneof(fc.constantFrom('n1.lx3k2', 'n2.lx3k9', 'n3.lx4aa'), fc.string({ unit: fc.constantFrom(...'abcXYZ019_-.~'), minLength: 1, maxLength: 10 }));
const entryArb: fc.Arbitrary<Entry> = fc.record({
  actor: actorArb,
  counter: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: counterMax })),
  ts: fc.oneof(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.integer({ min: 0, max: timestampMsMax })),
}, { noNullPrototype: true });

const versionArb: fc.Arbitrary<Version> = fc
  .record({
    dot: entryArb,
    entries: fc.array(entryArb, { maxLength: 6 }),
    dots: fc.array(entryArb, { maxLength: 6 }),
    deleted: fc.boolean(),
    contentType: fc.string({ maxLength: 40 }),
    value: fc.uint8Array({ maxLength: 64 }),
  })
  .map((r) => ({ dot: r.dot, clock: addEvent(normalize(r.entries, r.dots), r.dot), deleted: r.deleted, contentType: r.contentType, value: r.value }));

const versionsArb = fc.array(versionArb, { maxLength: 5 });

function assertSameVersions(got: readonly Version[], want: readonly Version[]): void {
  assert.equal(got.length, want.length);
  got.forEach((g, i) => {
    const w = want[i]!;
    assert.deepEqual(g.dot, w.dot);
    assert.deepEqual(g.clock, w.clock);
    assert.equal(g.deleted, w.deleted);
    assert.equal(g.contentType, w.contentType);
    assert.equal(Buffer.compare(Buffer.from(g.value), Buffer.from(w.value)), 0);
  });
}

test('STYLE 11: parseVersions(packVersions(versions)) gives back the same versions', () => {
  fc.assert(
    fc.property(versionsArb, (vs) => {
      const r = parseVersions(packVersions(vs));
      assert.ok(r.ok, r.ok ? '' : r.reason);
      assertSameVersions(r.value, vs);
    }),
    runs,
  );
});

test('STYLE 11: versions survive the msgpack wire form (pack, unpack, parse)', () => {
  fc.assert(
    fc.property(versionsArb, (vs) => {
      const r = parseVersions(unpack(pack(packVersions(vs))));
      assert.ok(r.ok, r.ok ? '' : r.reason);
      assertSameVersions(r.value, vs);
    }),
    runs,
  );
});

/** Whatever parseVersions accepts obeys the invariants the rest of the node relies on. */
function assertValidIfAccepted(raw: unknown): void {
  const r = parseVersions(raw);
  assert.equal(typeof r.ok, 'boolean');
  if (!r.ok) {
    assert.equal(typeof r.reason, 'string');
    return;
  }
  for (const v of r.value) {
    assert.ok(covers(v.clock, v.dot), 'accepted a version whose clock lacks its own dot');
    assert.ok(v.value instanceof Uint8Array && v.value.byteLength <= valueBytesMax);
    assert.equal(typeof v.deleted, 'boolean');
    assert.equal(typeof v.contentType, 'string');
    for (const e of [v.dot, ...v.clock.entries, ...v.clock.dots]) {
      assert.ok(typeof e.actor === 'string' && e.actor.length > 0 && Number.isSafeInteger(e.counter) && e.counter >= 1 && Number.isSafeInteger(e.ts) && e.ts >= 0);
    }
  }
}

test('STYLE 11: parseVersions never throws on arbitrary input (fc.anything) and rejects non-versions', () => {
  fc.assert(
    fc.property(fc.anything({ withTypedArray: true, withSparseArray: true, withBoxedValues: true, withNullPrototype: true, withMap: true, withSet: true, withBigInt: true }), (raw) => {
      assertValidIfAccepted(raw);
      // Only an empty list is a valid sibling set among such values.
      const r = parseVersions(raw);
      assert.ok(!r.ok || (Array.isArray(raw) && raw.length === 0), 'accepted garbage as versions');
    }),
    { numRuns: 500 },
  );
});

/** A valid packed sibling set with one sub-term replaced by garbage. */
const corruptedArb = fc
  .tuple(fc.array(versionArb, { minLength: 1, maxLength: 3 }), fc.nat(), fc.nat(), fc.nat(), fc.anything({ withTypedArray: true, withBigInt: true }))
  .map(([vs, vi, fi, ei, junk]) => {
    const packed = packVersions(vs) as unknown[][];
    const v = packed[vi % packed.length]!;
    const field = fi % 6;
    const target = v[field];
    if (Array.isArray(target) && target.length > 0 && ei % 2 === 0) {
      // Corrupt one element (an entry, or one slot of an entry) rather than the whole field.
      const inner = target[ei % target.length];
      if (Array.isArray(inner)) inner[ei % 3] = junk;
      else target[ei % target.length] = junk;
    } else {
      v[field] = junk;
    }
    return packed;
  });

test('STYLE 11: parseVersions never throws on a corrupted sibling set, and accepts only valid versions', () => {
  fc.assert(
    fc.property(corruptedArb, (raw) => {
      assertValidIfAccepted(raw);
    }),
    { numRuns: 500 },
  );
});

function one(): PackedVersion {
  return [['a', 1, 0], [['a', 1, 0]], [], false, 'text/plain', new Uint8Array([1])];
}

function withField(i: number, value: unknown): unknown[] {
  const v: unknown[] = [...one()];
  v[i] = value;
  return [v];
}

const rejected: readonly { name: string; raw: unknown }[] = [
  { name: 'not an array', raw: { 0: one() } },
  { name: 'null', raw: null },
  { name: 'a version that is a 5-tuple', raw: [one().slice(0, 5)] },
  { name: 'a version that is a 7-tuple', raw: [[...one(), 1]] },
  { name: 'a clock without the version\'s own dot', raw: withField(1, [['a', 1, 0]]).map((v) => { (v as unknown[])[0] = ['a', 2, 0]; return v; }) },
  { name: 'a dot with counter 0', raw: withField(0, ['a', 0, 0]) },
  { name: 'a dot with a fractional counter', raw: withField(0, ['a', 1.5, 0]) },
  { name: 'an entry with a negative timestamp', raw: withField(1, [['a', 1, -1]]) },
  { name: 'an entry with a bigint counter', raw: withField(1, [['a', 1n, 0]]) },
  { name: 'an empty actor', raw: withField(0, ['', 1, 0]) },
  { name: `an actor over ${actorBytesMax} characters`, raw: withField(0, ['x'.repeat(actorBytesMax + 1), 1, 0]) },
  { name: 'an actor with a character a header cannot carry (version ids go into X-Gyre-Version)', raw: withField(0, ['n1.é', 1, 0]).map((v) => { (v as unknown[])[1] = [['n1.é', 1, 0]]; return v; }) },
  { name: 'an actor with a newline', raw: withField(0, ['n1\n', 1, 0]).map((v) => { (v as unknown[])[1] = [['n1\n', 1, 0]]; return v; }) },
  { name: `more than ${contextEntriesMax} clock entries`, raw: withField(1, Array.from({ length: contextEntriesMax + 1 }, (_, i) => [`n${i}`, 1, 0])) },
  { name: 'deleted not a boolean', raw: withField(3, 0) },
  { name: `a content type over ${contentTypeBytesMax} characters`, raw: withField(4, 'x'.repeat(contentTypeBytesMax + 1)) },
  { name: 'a value that is a plain array', raw: withField(5, [1, 2]) },
  { name: 'a value that is a string', raw: withField(5, 'abc') },
  { name: `a value over ${valueBytesMax} bytes`, raw: withField(5, new Uint8Array(valueBytesMax + 1)) },
  { name: `more than ${siblingsParseMax} siblings`, raw: Array.from({ length: siblingsParseMax + 1 }, () => one()) },
  { name: 'a dot counter past 2^52 (its +1 would not be exact)', raw: withField(0, ['a', counterMax + 1, 0]).map((v) => { (v as unknown[])[1] = [['a', counterMax + 1, 0]]; return v; }) },
  { name: 'a clock counter of 2^53 - 1', raw: withField(1, [['a', Number.MAX_SAFE_INTEGER, 0]]) },
  { name: 'a timestamp past 2^47 ms', raw: withField(1, [['a', 1, timestampMsMax + 1]]) },
];

for (const { name, raw } of rejected) {
  test(`STYLE 11: parseVersions rejects ${name}`, () => {
    const r = parseVersions(raw);
    assert.equal(r.ok, false);
  });
}

test(
  `STYLE 9: parseVersions rejects a content type over contentTypeBytesMax (${contentTypeBytesMax}) bytes`,
  () => {
    const contentType = 'é'.repeat(contentTypeBytesMax); // 512 bytes of UTF-8
    assert.ok(Buffer.byteLength(contentType) > contentTypeBytesMax);
    assert.equal(parseVersions(withField(4, contentType)).ok, false);
  },
);

test('STYLE 11: parseVersions accepts the boundary cases (limits exactly reached, empty set)', () => {
  assert.deepEqual(parseVersions([]), { ok: true, value: [] });
  assert.ok(parseVersions([one()]).ok);
  assert.ok(parseVersions(withField(0, ['x'.repeat(actorBytesMax), 1, 0]).map((v) => { (v as unknown[])[1] = [['x'.repeat(actorBytesMax), 1, 0]]; return v; })).ok);
  assert.ok(parseVersions(withField(4, 'x'.repeat(contentTypeBytesMax))).ok);
  assert.ok(parseVersions(withField(5, new Uint8Array(valueBytesMax))).ok);
  assert.ok(parseVersions(Array.from({ length: siblingsParseMax }, () => one())).ok);
  // A dot covered by the clock's prefix (not only listed as a dot) is fine.
  assert.ok(parseVersions(withField(1, [['a', 3, 0]])).ok);
});

test('Hostile input: a store refuses what it could not read back (encodeStored), with the reason parseVersions would give', () => {
  const ok = parseVersions([one()]);
  assert.ok(ok.ok);
  const good = encodeStored(ok.value);
  assert.ok(good.ok);
  assert.ok(parseVersions(unpack(good.value)).ok);
  const v = ok.value[0]!;
  const overflow = { ...v, dot: { actor: 'a', counter: counterMax + 1, ts: 0 }, clock: { entries: [{ actor: 'a', counter: counterMax + 1, ts: 0 }], dots: [] } };
  const bad = encodeStored([overflow]);
  assert.equal(bad.ok, false);
  assert.equal(parseVersions(unpack(pack(packVersions([overflow])))).ok, false, 'and indeed it would not parse');
  const wide = { ...v, clock: { entries: Array.from({ length: contextEntriesMax + 1 }, (_, i) => ({ actor: i === 0 ? 'a' : `b${i}`, counter: 1, ts: 0 })).sort((x, y) => (x.actor < y.actor ? -1 : 1)), dots: [] } };
  assert.equal(encodeStored([wide]).ok, false, 'a clock of 257 actors');
});

test('Hostile input: encodeStored accepts exactly what parseVersions reads back (one rule at the disk)', () => {
  fc.assert(
    fc.property(versionsArb, fc.integer({ min: 0, max: 5 }), fc.constantFrom(counterMax, counterMax + 1, Number.MAX_SAFE_INTEGER, timestampMsMax + 1), (vs, at, big) => {
      // Push one field of one version to the edge of its limit, or past it.
      const edited = vs.map((v, i) => (i === at % Math.max(1, vs.length) ? (big > timestampMsMax && big !== counterMax + 1 && big !== Number.MAX_SAFE_INTEGER ? { ...v, dot: { ...v.dot, ts: big }, clock: addEvent(v.clock, { ...v.dot, ts: big }) } : { ...v, dot: { ...v.dot, counter: big }, clock: addEvent(v.clock, { ...v.dot, counter: big }) }) : v));
      const stored = encodeStored(edited);
      const reread = parseVersions(unpack(pack(packVersions(edited))));
      assert.equal(stored.ok, reread.ok, stored.ok ? 'stored but unreadable' : `refused (${stored.reason}) but readable`);
    }),
    runs,
  );
});
