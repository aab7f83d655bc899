// Fuzzing the internode parsers (net/messages.ts): whatever a peer, or anything else that
// reaches the internode port, sends. Valid messages round-trip exactly; messages broken field
// by field or byte by byte never make a parser throw, and whatever a parser still accepts is a
// fixed point of its own encoding (so it is a value the node could have sent itself).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  type WireFaultTable,
  aeKeysMax,
  batchKeysMax,
  encodeCoordinateReply,
  encodeFaultsReply,
  encodeFoldReply,
  encodeGossipReply,
  encodeRequest,
  encodeVersionsReply,
  isAck,
  gossipCounterMax,
  membersPerMessageMax,
  merkleLeavesMax,
  packState,
  parseCoordinateReply,
  parseFaultTable,
  parseFaultsReply,
  parseFoldReply,
  parseGossipReply,
  parseKeysReply,
  parseLeavesReply,
  parseRequest,
  parseRootsReply,
  parseState,
  parseVersionsReply,
} from '../../node-core/src/net/messages.js';
import type { Version } from '../../node-core/src/core/siblings.js';
import { packClock, packVersions, siblingsParseMax, valueBytesMax, contentTypeBytesMax, keyBytesMax } from '../../node-core/src/core/codec.js';
import { emptyClock } from '../../node-core/src/core/vclock.js';
import { partitionsMax } from '../../node-core/src/core/partitioner.js';
import { faultDurationMaxMs, faultsMax, healedMax } from '../../node-core/src/core/faults.js';
import { digestBytes } from '../../node-core/src/core/merkle.js';
import { type Codec, accepted, byteEditsArb, canon, checkAccepted, fieldEditsArb, fuzzParams, mutateBytes, mutateFields, overTheWire, packed, tryUnpack, undecodable } from './fuzz.js';
import {
  clockArb,
  clusterStateArb,
  clusterStateProblem,
  coordinateReplyArb,
  coordinateReplyProblem,
  faultTableProblem,
  foldReplyArb,
  foldReplyProblem,
  isDigest,
  keyDigestsArb,
  leavesArb,
  requestArb,
  requestKinds,
  requestProblem,
  rootsArb,
  versionsArb,
  versionsInvariant,
  wireFaultTableArb,
} from './wire-gen.js';

// ---------------------------------------------------------------------------------------------
// Every internode parser with the encoder of what it returns.

const packRoots = (m: Map<number, Uint8Array>) => ['aeRoots', [...m].map(([p, d]) => [p, d])];
const packLeaves = (l: readonly Uint8Array[]) => ['aeLeaves', l];
const packKeyDigests = (l: readonly { key: Uint8Array; digest: Uint8Array }[]) => ['aeKeys', l.map((x) => [x.key, x.digest])];
const packTable = (t: WireFaultTable) => encodeFaultsReply(t)[1];

/** One parser, its encoder and the invariant of what it accepts, behind one untyped door. */
interface Entry {
  readonly name: string;
  check(raw: unknown): boolean;
}

function entry<T>(c: Codec<T>, invariant: (v: T) => string | undefined): Entry {
  return { name: c.name, check: (raw) => checkAccepted(c, raw, invariant) };
}

const isKeyDigest = (x: { key: Uint8Array; digest: Uint8Array }) => x.key instanceof Uint8Array && x.key.byteLength >= 1 && x.key.byteLength <= keyBytesMax && isDigest(x.digest);

const parsers: readonly Entry[] = [
  entry({ name: 'parseRequest', parse: (raw) => accepted(parseRequest(raw)), encode: encodeRequest }, requestProblem),
  entry({ name: 'parseVersionsReply', parse: (raw) => accepted(parseVersionsReply(raw)), encode: encodeVersionsReply }, versionsInvariant),
  entry({ name: 'parseCoordinateReply', parse: (raw) => accepted(parseCoordinateReply(raw)), encode: encodeCoordinateReply }, coordinateReplyProblem),
  entry({ name: 'parseGossipReply', parse: (raw) => accepted(parseGossipReply(raw)), encode: (v) => encodeGossipReply(v.state, v.keys) }, (v) => clusterStateProblem(v.state)),
  entry({ name: 'parseFoldReply', parse: (raw) => accepted(parseFoldReply(raw)), encode: (v) => encodeFoldReply(v.items, v.done) }, foldReplyProblem),
  entry({ name: 'parseRootsReply', parse: (raw) => accepted(parseRootsReply(raw)), encode: packRoots }, (m) => ([...m].every(([p, d]) => Number.isSafeInteger(p) && p >= 0 && p < partitionsMax && isDigest(d)) ? undefined : 'roots')),
  entry({ name: 'parseLeavesReply', parse: (raw) => accepted(parseLeavesReply(raw)), encode: packLeaves }, (l) => (l.length <= merkleLeavesMax && l.every(isDigest) ? undefined : 'leaves')),
  entry({ name: 'parseKeysReply', parse: (raw) => accepted(parseKeysReply(raw)), encode: packKeyDigests }, (l) => (l.length <= aeKeysMax && l.every(isKeyDigest) ? undefined : 'key digests')),
  entry({ name: 'parseFaultsReply', parse: (raw) => accepted(parseFaultsReply(raw)), encode: encodeFaultsReply }, faultTableProblem),
  entry({ name: 'parseState', parse: parseState, encode: packState }, clusterStateProblem),
  entry({ name: 'parseFaultTable', parse: parseFaultTable, encode: packTable }, faultTableProblem),
];

/** Every parser gets `raw`: none may throw, and each value accepted is a fixed point. */
function feedAll(raw: unknown): number {
  let n = 0;
  for (const p of parsers) if (p.check(raw)) n++;
  isAck(raw);
  return n;
}

/** Valid encoded messages of every kind: the starting points of the mutations. */
const messageArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: requestArb.map(encodeRequest) },
  versionsArb.map(encodeVersionsReply),
  coordinateReplyArb.map(encodeCoordinateReply),
  clusterStateArb.map((s) => encodeGossipReply(s, undefined)),
  foldReplyArb.map((f) => encodeFoldReply(f.items, f.done)),
  rootsArb.map(packRoots),
  leavesArb.map(packLeaves),
  keyDigestsArb.map(packKeyDigests),
  wireFaultTableArb.map(encodeFaultsReply),
  clusterStateArb.map(packState),
  wireFaultTableArb.map(packTable),
  clockArb.map(packClock),
  versionsArb.map(packVersions),
);

// ---------------------------------------------------------------------------------------------
// (1) Valid values round-trip exactly.

test('fuzz messages: every request type survives encodeRequest, the wire and parseRequest unchanged', () => {
  const seen = new Set<string>();
  fc.assert(
    fc.property(requestArb, (r) => {
      seen.add(r.t);
      const got = parseRequest(overTheWire(encodeRequest(r)));
      assert.ok(got.ok, `refused a valid ${r.t} request: ${got.ok ? '' : got.reason}`);
      assert.deepStrictEqual(canon(got.value), canon(r));
    }),
    fuzzParams(),
  );
  assert.deepStrictEqual([...seen].sort(), [...requestKinds].sort(), 'every request type was generated');
});

/** A `Parsed<T>` parser as one that fails the test, with its reason, when it refuses. */
function orFail<T>(parse: (raw: unknown) => { ok: true; value: T } | { ok: false; reason: string }): (raw: unknown) => T {
  return (raw) => {
    const r = parse(raw);
    if (!r.ok) assert.fail(`refused a valid value: ${r.reason}`);
    return r.value;
  };
}

function roundTrip<T>(name: string, arb: fc.Arbitrary<T>, encode: (v: T) => unknown, parse: (raw: unknown) => unknown) {
  test(`fuzz messages: valid values survive ${name} unchanged`, () => {
    fc.assert(
      fc.property(arb, (v) => {
        const got = parse(overTheWire(encode(v)));
        assert.notEqual(got, undefined, `${name} refused a valid value`);
        assert.deepStrictEqual(canon(got), canon(v));
      }),
      fuzzParams(),
    );
  });
}

roundTrip('parseVersionsReply', versionsArb, encodeVersionsReply, orFail(parseVersionsReply));
roundTrip('parseCoordinateReply', coordinateReplyArb, encodeCoordinateReply, orFail(parseCoordinateReply));
roundTrip(
  'parseGossipReply',
  clusterStateArb.map((state) => ({ state, keys: undefined })),
  (v) => encodeGossipReply(v.state, v.keys),
  orFail(parseGossipReply),
);
roundTrip('parseFoldReply', foldReplyArb, (f) => encodeFoldReply(f.items, f.done), orFail(parseFoldReply));
roundTrip('parseRootsReply', rootsArb, packRoots, orFail(parseRootsReply));
roundTrip('parseLeavesReply', leavesArb, packLeaves, orFail(parseLeavesReply));
roundTrip('parseKeysReply', keyDigestsArb, packKeyDigests, orFail(parseKeysReply));
roundTrip('parseFaultsReply', wireFaultTableArb, encodeFaultsReply, orFail(parseFaultsReply));
roundTrip('parseState', clusterStateArb, packState, parseState);
roundTrip('parseFaultTable', wireFaultTableArb, packTable, parseFaultTable);

// ---------------------------------------------------------------------------------------------
// (2) Field-level mutation and (3) byte-level mutation.

test('fuzz messages: a message with fields replaced, dropped or added never makes a parser throw; what is accepted re-encodes to itself', () => {
  fc.assert(
    fc.property(messageArb, fieldEditsArb(), (message, edits) => {
      feedAll(mutateFields(message, edits));
    }),
    fuzzParams(),
  );
});

test('fuzz messages: msgpack bytes flipped, inserted, deleted or cut never make a parser throw; what is accepted re-encodes to itself', () => {
  fc.assert(
    fc.property(messageArb, byteEditsArb, (message, edits) => {
      const decoded = tryUnpack(mutateBytes(packed(message), edits));
      if (decoded !== undecodable) feedAll(decoded);
    }),
    fuzzParams(),
  );
});

// ---------------------------------------------------------------------------------------------
// The limits, exactly: the largest value accepted, one more refused.

test('fuzz messages: each limit accepts its maximum and refuses one more', () => {
  const key = (n: number) => new Uint8Array(n);
  const digest = (n = digestBytes) => new Uint8Array(n);
  const tinyVersion = (i: number): Version => ({ dot: { actor: 'a', counter: i + 1, ts: 0 }, clock: { entries: [{ actor: 'a', counter: i + 1, ts: 0 }], dots: [] }, deleted: false, contentType: '', value: new Uint8Array(0) });
  const member = (i: number) => [`m${i}`, '127.0.0.1:1', '127.0.0.1:2', 'member', 1, 0];
  const state = (members: number) => [1, 1, Array.from({ length: members }, (_, i) => member(i)), [['m0', 1, null]]];
  const fault = (i: number) => [`f${i}`, { kind: 'crash', node: 'n1' }, 0, null];
  const req = (raw: unknown) => parseRequest(raw).ok;
  const cases: { what: string; build: (n: number) => unknown; max: number; parse: (raw: unknown) => boolean }[] = [
    { what: 'read key bytes', build: (n) => ['read', key(n), null], max: keyBytesMax, parse: req },
    { what: 'fold limit', build: (n) => ['fold', 0, null, n], max: batchKeysMax, parse: req },
    { what: 'coordinate timeout', build: (n) => ['coordinate', key(1), false, key(0), '', packClock(emptyClock), 1, n], max: 600_000, parse: req },
    { what: 'coordinate value bytes', build: (n) => ['coordinate', key(1), false, new Uint8Array(n), '', packClock(emptyClock), 1, 1], max: valueBytesMax, parse: req },
    { what: 'coordinate content type bytes', build: (n) => ['coordinate', key(1), false, key(0), 'c'.repeat(n), packClock(emptyClock), 1, 1], max: contentTypeBytesMax, parse: req },
    { what: 'writeMany items', build: (n) => ['writeMany', Array.from({ length: n }, () => [key(1), 0, []])], max: batchKeysMax, parse: req },
    { what: 'readMany keys', build: (n) => ['readMany', 0, Array.from({ length: n }, () => key(1))], max: batchKeysMax, parse: req },
    { what: 'write partition + 1', build: (n) => ['write', key(1), n - 1, [], null], max: partitionsMax, parse: req },
    { what: 'aeRoots partitions', build: (n) => ['aeRoots', Array.from({ length: n }, () => 0)], max: partitionsMax, parse: req },
    { what: 'aeKeys leaves', build: (n) => ['aeKeys', 0, Array.from({ length: n }, () => 0)], max: merkleLeavesMax, parse: req },
    { what: 'aeKeys leaf + 1', build: (n) => ['aeKeys', 0, [n - 1]], max: merkleLeavesMax, parse: req },
    { what: 'write siblings', build: (n) => ['write', key(1), 0, packVersions(Array.from({ length: n }, (_, i) => tinyVersion(i))), null], max: siblingsParseMax, parse: req },
    { what: 'gossip members', build: (n) => ['gossip', state(n), null], max: membersPerMessageMax, parse: req },
    { what: 'gossip member version', build: (n) => ['gossip', [1, 1, [['m0', '127.0.0.1:1', '127.0.0.1:2', 'member', n, 0]], [['m0', 1, null]]], null], max: gossipCounterMax, parse: req },
    { what: 'gossip partition epoch', build: (n) => ['gossip', [1, 1, [member(0)], [['m0', n, null]]], null], max: gossipCounterMax, parse: req },
    { what: 'fault age ms', build: (n) => ['faults', [[['f', { kind: 'crash', node: 'n1' }, n, null]], []]], max: faultDurationMaxMs, parse: req },
    { what: 'faults in a table', build: (n) => ['faults', [Array.from({ length: n }, (_, i) => fault(i)), []]], max: faultsMax, parse: req },
    { what: 'healed ids in a table', build: (n) => ['faults', [[], Array.from({ length: n }, (_, i) => [`h${i}`, 0])]], max: healedMax, parse: req },
    { what: 'fault remaining ms', build: (n) => ['faults', [[['f', { kind: 'crash', node: 'n1' }, 0, n]], []]], max: faultDurationMaxMs, parse: req },
    { what: 'fault id length', build: (n) => ['faults', [[['f'.repeat(n), { kind: 'crash', node: 'n1' }, 0, null]], []]], max: 128, parse: req },
    { what: 'aeKeys reply entries', build: (n) => ['aeKeys', Array.from({ length: n }, () => [key(1), digest()])], max: aeKeysMax, parse: (raw) => parseKeysReply(raw).ok },
    { what: 'aeLeaves reply leaves', build: (n) => ['aeLeaves', Array.from({ length: n }, () => digest())], max: merkleLeavesMax, parse: (raw) => parseLeavesReply(raw).ok },
    { what: 'fold reply items', build: (n) => ['fold', Array.from({ length: n }, () => [key(1), 0, []]), true], max: batchKeysMax, parse: (raw) => parseFoldReply(raw).ok },
  ];
  for (const c of cases) {
    assert.equal(c.parse(overTheWire(c.build(c.max))), true, `${c.what} = ${c.max} is accepted`);
    assert.equal(c.parse(overTheWire(c.build(c.max + 1))), false, `${c.what} = ${c.max + 1} is refused`);
  }
  // A partition is owned by a member of the same state, never a stranger.
  assert.equal(parseState(overTheWire([1, 1, [member(0)], [['stranger', 1, null]]])), undefined, 'an owner that is not a member is refused');
  assert.equal(parseState(overTheWire([1, 1, [member(0), member(0)], [['m0', 1, null]]])), undefined, 'a member listed twice is refused');
  // Merkle digests are exactly 16 bytes.
  for (const n of [digestBytes - 1, digestBytes + 1]) assert.equal(parseLeavesReply(['aeLeaves', [digest(n)]]).ok, false, `a digest of ${n} bytes is refused`);
  assert.equal(parseRootsReply(['aeRoots', [[partitionsMax, digest()]]]).ok, false, 'a root for partition Q_max is refused');
});
