// The Store contract (node-core/src/core/store.ts) as one model-based property (STYLE 14) that
// every store runs: MemoryStore, which the unit tests and the simulator run on, and SqliteStore,
// which production runs on. The model is plain Maps. If the two stores differ through the
// interface, what the simulator shows says nothing about production; this is where that shows.
//
// The commands: updates with every kind of updater (replace, append, delete by an empty set,
// leave unchanged, throw, unstorable, write with the partition's actor, remember a reaped
// clock), several started in one turn before any is awaited (SqliteStore commits those in
// one transaction); reads; scans of partitions and hint spaces, single pages and paged to the
// end; meta; reaped clocks and their expiry; actor ids and retireActor; the clock moving
// (also standing still and going back); and reopening: close() (with updates still pending)
// or a crash (the old instance is abandoned, never closed) and a new instance on the same
// folder, after which the store must still equal the model. Every run ends with a close and
// reopen and a comparison of everything.
//
// Preconditions the node keeps and the model keeps too: a key's partition is a function of the
// key (partitionOf), keys are at least one byte, clocks are normalized, and updaters that
// throw do not first ask for an actor (whether that actor is kept is not part of the contract).
//
// Runs: 100 for MemoryStore and 40 for SqliteStore, at most 40 commands each; GYRE_FUZZ_RUNS
// scales both up (SqliteStore by a tenth of MemoryStore's share, as each of its runs is a real
// database). A failure prints fast-check's seed and path: GYRE_FUZZ_SEED and GYRE_FUZZ_PATH
// replay exactly that run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { MemoryStore } from '../../node-core/src/store/memory-store.js';
import { SqliteStore } from '../../node-core/src/store/sqlite-store.js';
import { type Space, type Store, type StoredKey, type Updater, UnstorableError, dataSpace, hintSpace, storeMetaReserved } from '../../node-core/src/core/store.js';
import Database from 'better-sqlite3';
import { InvariantError } from '../../node-core/src/core/assert.js';
import type { Version } from '../../node-core/src/core/siblings.js';
import { type ActorId, type Entry, type VClock, maxCounter, normalize } from '../../node-core/src/core/vclock.js';
import { counterMax, encodeStored, timestampMsMax } from '../../node-core/src/core/codec.js';
import { fuzzParams, fuzzRuns } from '../fuzz/fuzz.js';

const nodeId = 'n1';
const startMs = 1_700_000_000_000;
const commandsPerRunMax = 40;
const batchUpdatesMax = 5;
const pageIterationsMax = 20;

// ---------------------------------------------------------------------------------------------
// Keys, spaces, versions.

/**
 * Byte order has traps here: partition 0 holds 00 < 61 < 61 62 < 61 62 63 (each a prefix of
 * the next but the first), partition 1 holds 61 00 < 62 < ff ff.
 */
const keyPool: readonly Buffer[] = [[0x61], [0x61, 0x00], [0x61, 0x62], [0x62], [0x00], [0xff, 0xff], [0x61, 0x62, 0x63]].map((b) => Buffer.from(b));
/** Partitions 0..3; partitions 2 and 3 never hold a key (they still get actors). */
const partitions = [0, 1, 2, 3] as const;
const hintTargets = ['n2', 'n3'] as const;
/** Meta names the node uses and one it does not. Not `lastActorMs`: SqliteStore keeps its actor high-water mark there. */
const metaNames = ['shape', 'cluster', 'x'] as const;

/** A key's partition is a function of the key, as partitionOf makes it in the node. */
function partitionOfKey(k: number): number {
  return k % 2;
}

function keyName(k: number): string {
  return `k${k}(${keyPool[k]!.toString('hex')})`;
}

/** How a key reaches the store: a fresh array, a Buffer, or a view into a larger buffer. */
type KeyForm = 'bytes' | 'buffer' | 'view';

function keyArg(k: number, form: KeyForm): Uint8Array {
  const key = keyPool[k]!;
  if (form === 'buffer') return Buffer.from(key);
  if (form === 'bytes') return new Uint8Array(key);
  const big = new Uint8Array(key.length + 4).fill(0xee);
  big.set(key, 2);
  return big.subarray(2, 2 + key.length);
}

/** Where an update goes: the data space (by default or named) or a hint space. */
type SpaceArg = 'default' | 'data' | (typeof hintTargets)[number];

function spaceOf(s: SpaceArg): Space | undefined {
  if (s === 'default') return undefined;
  return s === 'data' ? dataSpace : hintSpace(s);
}

/** The model's name for a space. */
function spaceLabel(s: SpaceArg): string {
  return s === 'default' ? 'data' : s;
}

const entryArb: fc.Arbitrary<Entry> = fc.record({
  actor: fc.constantFrom('a', 'b', 'n1.x1'),
  // The edges of what the codec accepts, so a round trip through the disk must keep them exact.
  counter: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constant(counterMax) }),
  ts: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 3000 }) }, { weight: 1, arbitrary: fc.constantFrom(0, timestampMsMax) }),
});

const versionArb: fc.Arbitrary<Version> = fc
  .record({
    dot: entryArb,
    seen: fc.array(entryArb, { maxLength: 3 }),
    deleted: fc.boolean(),
    contentType: fc.constantFrom('application/octet-stream', 'text/plain; charset=utf-8', ''),
    value: fc.uint8Array({ maxLength: 8 }),
  })
  .map(({ dot, seen, deleted, contentType, value }) => ({ dot, clock: normalize(seen, [dot]), deleted, contentType, value: deleted ? new Uint8Array(0) : value }));

const clockArb: fc.Arbitrary<VClock> = fc.array(entryArb, { minLength: 1, maxLength: 3 }).map((es) => normalize(es, []));

/** Sibling sets that parseVersions could not read back: a store must refuse them. */
const badVersionsArb: fc.Arbitrary<{ why: string; versions: Version[] }> = fc.constantFrom('counter', 'actor', 'own dot', 'content type', 'timestamp').map((why) => {
  const dot = { actor: 'a', counter: 1, ts: 0 };
  const ok: Version = { dot, clock: normalize([], [dot]), deleted: false, contentType: 'text/plain', value: new Uint8Array([1]) };
  let bad: Version;
  if (why === 'counter') {
    const d = { actor: 'a', counter: counterMax + 1, ts: 0 };
    bad = { ...ok, dot: d, clock: normalize([], [d]) };
  } else if (why === 'actor') {
    const d = { actor: 'a b', counter: 1, ts: 0 };
    bad = { ...ok, dot: d, clock: normalize([], [d]) };
  } else if (why === 'own dot') bad = { ...ok, clock: normalize([{ actor: 'b', counter: 1, ts: 0 }], []) };
  else if (why === 'content type') bad = { ...ok, contentType: 'x'.repeat(300) };
  else {
    const d = { actor: 'a', counter: 1, ts: timestampMsMax + 1 };
    bad = { ...ok, dot: d, clock: normalize([], [d]) };
  }
  return { why, versions: [ok, bad] };
});

const badClock: VClock = normalize([{ actor: 'a', counter: counterMax + 1, ts: 0 }], []);

/** The version a coordinated write by `actor` adds: the actor's next event after everything the key knows. */
function stampVersion(cur: readonly Version[], actor: ActorId, nowMs: number): Version {
  let counter = 0;
  for (const v of cur) counter = Math.max(counter, maxCounter(v.clock, actor));
  const dot = { actor, counter: counter + 1, ts: nowMs };
  return { dot, clock: normalize(cur.flatMap((v) => v.clock.entries), [dot]), deleted: false, contentType: 'text/plain', value: Buffer.from(actor) };
}

// Comparable forms: the disk hands back Buffers and normalized clocks where the caller passed
// Uint8Arrays, so versions are compared by what they say.

function showEntry(e: Entry): string {
  return `${e.actor}:${e.counter}@${e.ts}`;
}

function showClock(c: VClock | undefined): { entries: string[]; dots: string[] } | null {
  return c ? { entries: c.entries.map(showEntry), dots: c.dots.map(showEntry) } : null;
}

function show(vs: readonly Version[]): unknown[] {
  return vs.map((v) => ({ dot: showEntry(v.dot), clock: showClock(v.clock), deleted: v.deleted, contentType: v.contentType, value: Buffer.from(v.value).toString('hex') }));
}

function hex(b: Uint8Array | undefined): string | null {
  return b ? Buffer.from(b).toString('hex') : null;
}

function showRows(rows: readonly StoredKey[]): unknown[] {
  return rows.map((r) => ({ key: hex(r.key), partition: r.partition, versions: show(r.versions) }));
}

function showVersionsList(vs: readonly Version[]): string {
  return `[${vs.map((v) => showEntry(v.dot)).join(',')}]`;
}

// ---------------------------------------------------------------------------------------------
// The model and the store under test.

/** How often the runs reached the cases that matter, printed with the result (a generator that stops reaching one proves nothing). */
const reached = new Map<string, number>();

function reach(what: string): void {
  reached.set(what, (reached.get(what) ?? 0) + 1);
}

class Model {
  nowMs = startMs;
  /** Space label ('data' or a hint target) -> key index -> sibling set (never empty). */
  readonly rows = new Map<string, Map<number, readonly Version[]>>();
  readonly meta = new Map<string, Uint8Array>();
  readonly reaped = new Map<number, { readonly clock: VClock; readonly at: number }>();
  /** The actor each partition has now. */
  readonly actors = new Map<number, ActorId>();
  /** Every actor this store ever handed out: none may be handed out again. */
  readonly issued = new Set<ActorId>();
  private lastActorAtMs: number | undefined;

  space(label: string): Map<number, readonly Version[]> {
    let s = this.rows.get(label);
    if (!s) {
      s = new Map();
      this.rows.set(label, s);
    }
    return s;
  }

  /** A space's rows in key order, as a scan returns them. */
  sorted(label: string, partition?: number): StoredKey[] {
    return [...this.space(label)]
      .filter(([k]) => partition === undefined || partitionOfKey(k) === partition)
      .sort(([a], [b]) => Buffer.compare(keyPool[a]!, keyPool[b]!))
      .map(([k, versions]) => ({ key: keyPool[k]!, partition: partitionOfKey(k), versions: [...versions] }));
  }

  /**
   * The actor `partition` has: the current one, or a new one, which must be one this store
   * never handed out (so no counter is issued twice), whatever the clock did.
   */
  actorFor(partition: number, got: unknown, what: string): ActorId {
    const have = this.actors.get(partition);
    if (have !== undefined) {
      assert.equal(got, have, `${what}: partition ${partition} has actor ${have} until it is retired`);
      return have;
    }
    assert.equal(typeof got, 'string', `${what}: actorFor returned ${String(got)}`);
    const actor = got as string;
    assert.ok(actor.startsWith(`${nodeId}.`), `${what}: actor ${actor} is not one of node ${nodeId}`);
    assert.ok(!this.issued.has(actor), `${what}: actor ${actor} for partition ${partition} was handed out before (actors: ${[...this.issued].join(', ')})`);
    reach(this.lastActorAtMs === undefined ? 'first actor' : this.lastActorAtMs === this.nowMs ? 'another actor, the clock standing still' : 'another actor, the clock moved');
    this.lastActorAtMs = this.nowMs;
    this.actors.set(partition, actor);
    this.issued.add(actor);
    return actor;
  }
}

interface ChangeEvent {
  readonly key: string | null;
  readonly partition: number;
  readonly before: unknown[];
  readonly after: unknown[];
}

type ReopenHow = 'close' | 'crash';

/** A store instance on its data, and how to get a new instance on the same data. */
interface Opened {
  readonly store: Store;
  reopen(how: ReopenHow): Promise<Store>;
  dispose(): Promise<void>;
}

interface Subject {
  readonly name: string;
  readonly numRuns: number;
  /** What stats().bytes counts for one key's sibling set. */
  rowBytes(versions: readonly Version[]): number;
  open(now: () => number): Opened;
}

class Real {
  store: Store;
  readonly events: ChangeEvent[] = [];
  private readonly listening = new WeakSet<Store>();

  constructor(
    private readonly opened: Opened,
    readonly clock: { nowMs: number },
    readonly subject: Subject,
  ) {
    this.store = opened.store;
    this.listen();
  }

  /** A node registers its listeners on each store instance it opens. */
  private listen(): void {
    if (this.listening.has(this.store)) return;
    this.listening.add(this.store);
    this.store.onChange((key, partition, before, after) => this.events.push({ key: hex(key), partition, before: show(before), after: show(after) }));
  }

  async reopen(how: ReopenHow): Promise<void> {
    this.store = await this.opened.reopen(how);
    this.listen();
  }
}

const subjects: readonly Subject[] = [
  {
    name: 'MemoryStore',
    numRuns: runs(100, 20),
    rowBytes: (versions) => versions.reduce((n, v) => n + v.value.byteLength, 0),
    open(now) {
      const store = new MemoryStore(nodeId, now);
      return {
        store,
        // A MemoryStore's durability is the simulator keeping the object across restarts of the node.
        async reopen(how) {
          if (how === 'close') await store.close();
          return store;
        },
        async dispose() {
          await store.close();
        },
      };
    },
  },
  {
    name: 'SqliteStore',
    numRuns: runs(40, 200),
    rowBytes: (versions) => {
      const encoded = encodeStored(versions);
      assert.ok(encoded.ok);
      return encoded.value.byteLength;
    },
    open(now) {
      const dir = mkdtempSync(join(tmpdir(), 'gyre-store-contract-'));
      const options = { nodeId, now };
      let store = new SqliteStore(dir, options);
      const abandoned: SqliteStore[] = [];
      return {
        store,
        async reopen(how) {
          // A crash: the old instance is never closed or used again; only what it committed counts.
          if (how === 'close') await store.close();
          else abandoned.push(store);
          store = new SqliteStore(dir, options);
          return store;
        },
        async dispose() {
          try {
            for (const s of [...abandoned, store]) await s.close();
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
      };
    },
  },
];

/** `base` runs, or GYRE_FUZZ_RUNS / divisor when that is more. */
function runs(base: number, divisor: number): number {
  const raw = process.env.GYRE_FUZZ_RUNS;
  if (raw === undefined || raw === '') return base;
  return Math.max(base, Math.floor(fuzzRuns() / divisor));
}

// ---------------------------------------------------------------------------------------------
// Updates.

interface OpBase {
  readonly key: number;
  readonly keyForm: KeyForm;
  readonly space: SpaceArg;
}

type Op = OpBase &
  (
    | { readonly kind: 'put'; readonly versions: readonly Version[]; readonly reaped: VClock | undefined }
    | { readonly kind: 'append'; readonly version: Version }
    | { readonly kind: 'clear'; readonly reaped: VClock | undefined }
    | { readonly kind: 'keep'; readonly reaped: VClock | undefined }
    | { readonly kind: 'throw' }
    | { readonly kind: 'unstorable'; readonly why: string; readonly versions: readonly Version[] | undefined; readonly reaped: VClock | undefined }
    | { readonly kind: 'stamp' }
    | { readonly kind: 'actor'; readonly partition: number }
  );

/** Half the time one of three hot keys (two in partition 0), so runs delete, rewrite and scan past keys they hold. */
const keyIndexArb = fc.oneof(fc.constantFrom(0, 4, 1), fc.integer({ min: 0, max: keyPool.length - 1 }));
const keyFormArb = fc.constantFrom<KeyForm>('bytes', 'buffer', 'view');

const opBaseArb = fc.record({
  key: keyIndexArb,
  keyForm: keyFormArb,
  space: fc.oneof({ weight: 3, arbitrary: fc.constantFrom<SpaceArg>('default', 'data') }, { weight: 2, arbitrary: fc.constantFrom<SpaceArg>(...hintTargets) }),
});

const maybeClock = fc.option(clockArb, { nil: undefined, freq: 3 });

const unstorableArb = fc.oneof(
  badVersionsArb.map((bad) => ({ ...bad, reaped: undefined })),
  fc.record({ why: fc.constant('reaped clock'), versions: fc.option(fc.array(versionArb, { maxLength: 2 }), { nil: undefined }), reaped: fc.constant(badClock) }),
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(opBaseArb, fc.array(versionArb, { minLength: 1, maxLength: 3 }), maybeClock).map(([b, versions, reaped]): Op => ({ ...b, kind: 'put', versions, reaped })) },
  { weight: 3, arbitrary: fc.tuple(opBaseArb, versionArb).map(([b, version]): Op => ({ ...b, kind: 'append', version })) },
  { weight: 3, arbitrary: fc.tuple(opBaseArb, fc.option(clockArb, { nil: undefined, freq: 2 })).map(([b, reaped]): Op => ({ ...b, kind: 'clear', reaped })) },
  { weight: 2, arbitrary: fc.tuple(opBaseArb, maybeClock).map(([b, reaped]): Op => ({ ...b, kind: 'keep', reaped })) },
  { weight: 2, arbitrary: opBaseArb.map((b): Op => ({ ...b, kind: 'throw' })) },
  { weight: 1, arbitrary: fc.tuple(opBaseArb, unstorableArb).map(([b, bad]): Op => ({ ...b, kind: 'unstorable', ...bad })) },
  { weight: 2, arbitrary: opBaseArb.map((b): Op => ({ ...b, kind: 'stamp' })) },
  { weight: 2, arbitrary: fc.tuple(opBaseArb, fc.constantFrom(...partitions)).map(([b, partition]): Op => ({ ...b, kind: 'actor', partition })) },
);

function opText(op: Op): string {
  const where = `${keyName(op.key)}/${op.keyForm}@${op.space}`;
  switch (op.kind) {
    case 'put':
      return `put(${where},${showVersionsList(op.versions)}${op.reaped ? ',reaped' : ''})`;
    case 'append':
      return `append(${where},${showEntry(op.version.dot)})`;
    case 'clear':
      return `clear(${where}${op.reaped ? ',reaped' : ''})`;
    case 'keep':
      return `keep(${where}${op.reaped ? ',reaped' : ''})`;
    case 'actor':
      return `actor(${where},p${op.partition})`;
    case 'unstorable':
      return `unstorable(${where},${op.why})`;
    default:
      return `${op.kind}(${where})`;
  }
}

const failMessage = (i: number) => `updater ${i} failed`;

/** The updater an op runs; it writes down the sibling set it was given. */
function updaterOf(op: Op, i: number, nowMs: number, seen: unknown[][]): Updater<unknown> {
  return (cur, tools) => {
    seen[i] = show(cur);
    switch (op.kind) {
      case 'put':
        return { versions: op.versions, result: cur.length, reaped: op.reaped };
      case 'append':
        return { versions: [...cur, op.version], result: cur.length };
      case 'clear':
        return { versions: [], result: cur.length, reaped: op.reaped };
      case 'keep':
        return { versions: undefined, result: showClock(tools.reaped()), reaped: op.reaped };
      case 'throw':
        throw new Error(failMessage(i));
      case 'unstorable':
        return { versions: op.versions, result: 'stored', reaped: op.reaped };
      case 'stamp': {
        const actor = tools.actorFor(partitionOfKey(op.key));
        return { versions: [...cur, stampVersion(cur, actor, nowMs)], result: actor };
      }
      case 'actor':
        return { versions: undefined, result: tools.actorFor(op.partition) };
    }
  };
}

/** Equal before and after: a store may report it or not ("called after a commit changed a key"). */
function isChange(e: ChangeEvent): boolean {
  return JSON.stringify(e.before) !== JSON.stringify(e.after);
}

/**
 * Starts every op in one turn, runs `meanwhile` (a close, say) before awaiting any, then
 * checks each against the model in call order: the state its updater saw, its outcome, and
 * what it committed, the change reports and the counters.
 */
async function runBatch(m: Model, r: Real, ops: readonly Op[], meanwhile?: () => Promise<void>): Promise<void> {
  const seen: unknown[][] = [];
  const eventsBefore = r.events.length;
  const store = r.store;
  const pending = ops.map((op, i) => store.update(keyArg(op.key, op.keyForm), partitionOfKey(op.key), updaterOf(op, i, m.nowMs, seen), spaceOf(op.space)));
  // Settled from the start: a close in `meanwhile` may take several turns (the SqliteStore
  // stops its checkpoint thread), and a rejection must not wait unhandled meanwhile.
  const settled = Promise.allSettled(pending);
  if (meanwhile) await meanwhile();
  const outcomes = await settled;
  const expectedEvents: ChangeEvent[] = [];
  if (ops.length > 1) reach('updates started in one turn');
  if (new Set(ops.map((op) => `${op.key}@${spaceLabel(op.space)}`)).size < ops.length) reach('one key updated twice in one turn');
  ops.forEach((op, i) => {
    const what = `update ${i} ${opText(op)}`;
    const label = spaceLabel(op.space);
    const rows = m.space(label);
    const cur = rows.get(op.key) ?? [];
    assert.ok(seen[i] !== undefined, `${what}: its updater never ran (${outcomes[i]!.status === 'rejected' ? String((outcomes[i] as PromiseRejectedResult).reason) : 'but it resolved'})`);
    assert.deepEqual(seen[i], show(cur), `${what}: its updater was not given the key's sibling set after the updates called before it`);
    const out = outcomes[i]!;
    reach(`update: ${op.kind}`);
    let versions: readonly Version[] | undefined;
    let reaped: VClock | undefined;
    let result: unknown;
    switch (op.kind) {
      case 'throw':
        assert.equal(out.status, 'rejected', `${what}: an updater that throws rejects the update`);
        assert.equal((out as PromiseRejectedResult).reason instanceof Error ? ((out as PromiseRejectedResult).reason as Error).message : undefined, failMessage(i), `${what}: rejected with the updater's own error`);
        return;
      case 'unstorable':
        assert.equal(out.status, 'rejected', `${what}: a sibling set or reaped clock that could not be read back is refused`);
        assert.ok((out as PromiseRejectedResult).reason instanceof UnstorableError, `${what}: refused with UnstorableError, got ${String((out as PromiseRejectedResult).reason)}`);
        return;
      case 'put':
        versions = op.versions;
        reaped = op.reaped;
        result = cur.length;
        break;
      case 'append':
        versions = [...cur, op.version];
        result = cur.length;
        break;
      case 'clear':
        versions = [];
        reaped = op.reaped;
        result = cur.length;
        break;
      case 'keep':
        // Leaving the key unchanged commits nothing, a reaped clock included.
        result = showClock(label === 'data' ? m.reaped.get(op.key)?.clock : undefined);
        break;
      case 'stamp': {
        assert.equal(out.status, 'fulfilled', `${what}: ${out.status === 'rejected' ? String(out.reason) : ''}`);
        const actor = m.actorFor(partitionOfKey(op.key), (out as PromiseFulfilledResult<unknown>).value, what);
        versions = [...cur, stampVersion(cur, actor, m.nowMs)];
        result = actor;
        break;
      }
      case 'actor':
        assert.equal(out.status, 'fulfilled', `${what}: ${out.status === 'rejected' ? String(out.reason) : ''}`);
        result = m.actorFor(op.partition, (out as PromiseFulfilledResult<unknown>).value, what);
        break;
    }
    assert.deepEqual(out, { status: 'fulfilled', value: result }, `${what}: resolves with the updater's result once committed`);
    if (versions === undefined) return;
    // Reaped clocks belong to the data space: hints never remember one.
    if (reaped && label === 'data') m.reaped.set(op.key, { clock: reaped, at: m.nowMs });
    if (versions.length === 0 && cur.length > 0) reach(`delete of a held key (${label === 'data' ? 'data' : 'hint'})`);
    if (versions.length === 0) rows.delete(op.key);
    else rows.set(op.key, versions);
    if (label === 'data') expectedEvents.push({ key: hex(keyPool[op.key]), partition: partitionOfKey(op.key), before: show(cur), after: show(versions) });
  });
  const events = r.events.slice(eventsBefore);
  assert.deepEqual(events.filter(isChange), expectedEvents.filter(isChange), 'onChange reports each change of the data space, in commit order, with the sibling sets before and after (and nothing for hints or failed updates)');
  checkCounters(m, r, 'after the updates');
}

/** Which rows a scan reads: a partition of the data space, or the hints for one target. */
type ScanOf = { readonly partition: number } | { readonly target: string };

function scanText(of: ScanOf): string {
  return 'partition' in of ? `scanPartition(${of.partition}` : `scanHints(${of.target}`;
}

function scanReal(r: Real, of: ScanOf, after: Uint8Array | undefined, limit: number): StoredKey[] {
  return 'partition' in of ? r.store.scanPartition(of.partition, after, limit) : r.store.scanHints(of.target, after, limit);
}

function scanModel(m: Model, of: ScanOf): StoredKey[] {
  return 'partition' in of ? m.sorted('data', of.partition) : m.sorted(of.target);
}

const scanSpaces: readonly ScanOf[] = [...partitions.map((partition) => ({ partition })), ...hintTargets.map((target) => ({ target }))];
const scanOfArb: fc.Arbitrary<ScanOf> = fc.constantFrom(...scanSpaces);
/** After-keys no key equals: below every key, between two, above every one. */
const betweenKeys: readonly Buffer[] = [[], [0x00, 0x00], [0x61, 0x01], [0x61, 0x62, 0x00], [0xff, 0xff, 0x00]].map((b) => Buffer.from(b));

/** The counters a store keeps (cheap: SqliteStore holds them in memory, so they can drift from the rows). */
function checkCounters(m: Model, r: Real, when: string): void {
  const data = m.space('data');
  const byTarget = hintTargets.map((t) => [t, m.space(t).size] as const).filter(([, n]) => n > 0);
  assert.deepEqual(r.store.partitionsHeld(), [...new Set([...data.keys()].map(partitionOfKey))].sort((a, b) => a - b), `partitionsHeld ${when}`);
  assert.deepEqual([...r.store.hintCounts()].sort(([a], [b]) => (a < b ? -1 : 1)), byTarget, `hintCounts ${when}`);
  const stats = r.store.stats();
  let bytes = 0;
  for (const vs of data.values()) bytes += r.subject.rowBytes(vs);
  assert.deepEqual(
    { keys: stats.keys, bytes: stats.bytes, quarantined: stats.quarantined, writable: stats.writable, lastError: stats.lastError },
    { keys: data.size, bytes, quarantined: 0, writable: true, lastError: undefined },
    `stats ${when}`,
  );
}

/**
 * Everything the interface shows, against the model. Actors: the partitions that have one
 * keep it; with `everyPartition` the others are asked too, which hands them new actors (so
 * only at the end of a run), and a retired actor must not come back.
 */
async function checkAll(m: Model, r: Real, when: string, everyPartition = false): Promise<void> {
  for (const label of ['data', ...hintTargets]) {
    const space = label === 'data' ? dataSpace : hintSpace(label);
    for (let k = 0; k < keyPool.length; k++) assert.deepEqual(show(await r.store.read(keyArg(k, 'buffer'), space)), show(m.space(label).get(k) ?? []), `read ${keyName(k)}@${label} ${when}`);
  }
  // Every scan there is: from the start and after each key (held or not, and between keys), each limit.
  for (const of of scanSpaces) {
    const rows = scanModel(m, of);
    for (const after of [undefined, ...keyPool, ...betweenKeys]) {
      for (let limit = 0; limit <= keyPool.length + 1; limit++) {
        const want = rows.filter((row) => !after || Buffer.compare(row.key, after) > 0).slice(0, limit);
        assert.deepEqual(showRows(scanReal(r, of, after, limit)), showRows(want), `${scanText(of)},${after ? hex(after) : 'start'},${limit}) ${when}`);
      }
    }
  }
  for (let k = 0; k < keyPool.length; k++) assert.deepEqual(showClock(r.store.reapedClock(keyArg(k, 'bytes'))), showClock(m.reaped.get(k)?.clock), `reapedClock(${keyName(k)}) ${when}`);
  for (const name of metaNames) assert.equal(hex(r.store.getMeta(name)), hex(m.meta.get(name)), `getMeta(${name}) ${when}`);
  for (const p of partitions) {
    if (!everyPartition && !m.actors.has(p)) continue;
    const got = await r.store.update(keyPool[0]!, partitionOfKey(0), (_cur, tools) => ({ versions: undefined, result: tools.actorFor(p) }));
    m.actorFor(p, got, `actorFor(${p}) ${when}`);
  }
  checkCounters(m, r, when);
}

// ---------------------------------------------------------------------------------------------
// Commands.

type StoreCommand = fc.AsyncCommand<Model, Real>;

class BatchCommand implements StoreCommand {
  constructor(readonly ops: readonly Op[]) {}
  check = () => true;
  run = (m: Model, r: Real) => runBatch(m, r, this.ops);
  toString = () => `batch[${this.ops.map(opText).join(', ')}]`;
}

class ReadCommand implements StoreCommand {
  constructor(
    readonly key: number,
    readonly keyForm: KeyForm,
    readonly space: SpaceArg,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const want = show(m.space(spaceLabel(this.space)).get(this.key) ?? []);
    const got = await r.store.read(keyArg(this.key, this.keyForm), spaceOf(this.space));
    assert.deepEqual(show(got), want, `${this}`);
    // The caller owns what read returns: changing it changes nothing stored.
    got.push(stampVersion(got, 'z', 1));
    got.shift();
    assert.deepEqual(show(await r.store.read(keyArg(this.key, this.keyForm), spaceOf(this.space))), want, `${this}: changing what read returned changed the store`);
  }
  toString = () => `read(${keyName(this.key)}/${this.keyForm}@${this.space})`;
}

class ScanCommand implements StoreCommand {
  constructor(
    readonly of: ScanOf,
    readonly after: Uint8Array | undefined,
    readonly limit: number,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const after = this.after;
    const want = scanModel(m, this.of)
      .filter((row) => !after || Buffer.compare(row.key, after) > 0)
      .slice(0, this.limit);
    const got = scanReal(r, this.of, this.after, this.limit);
    assert.deepEqual(showRows(got), showRows(want), `${this}: the keys after afterKey in key order, at most limit`);
    if (want.length > 0 && this.after) reach('scan after a key, not empty');
    for (const row of got) row.versions.length = 0;
    assert.deepEqual(showRows(scanReal(r, this.of, this.after, this.limit)), showRows(want), `${this}: changing what a scan returned changed the store`);
  }
  toString = () => `${scanText(this.of)},${this.after ? hex(this.after) : 'start'},${this.limit})`;
}

/** A scan paged to the end the way the loops do it: the next page starts after the last key; a short page is the end. */
class PageCommand implements StoreCommand {
  constructor(
    readonly of: ScanOf,
    readonly pageSize: number,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const all: StoredKey[] = [];
    let after: Uint8Array | undefined;
    for (let i = 0; ; i++) {
      assert.ok(i < pageIterationsMax, `${this}: more pages than keys`);
      const page = scanReal(r, this.of, after, this.pageSize);
      assert.ok(page.length <= this.pageSize, `${this}: a page of ${page.length}`);
      all.push(...page);
      if (page.length < this.pageSize) break;
      after = page[page.length - 1]!.key;
    }
    assert.deepEqual(showRows(all), showRows(scanModel(m, this.of)), `${this}: pages put together are the whole space in key order`);
    if (all.length > this.pageSize) reach('scan of more than one page');
  }
  toString = () => `page(${scanText(this.of)}),${this.pageSize})`;
}

class SetMetaCommand implements StoreCommand {
  constructor(
    readonly name: string,
    readonly value: Uint8Array,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    await r.store.setMeta(this.name, new Uint8Array(this.value));
    m.meta.set(this.name, this.value);
    assert.equal(hex(r.store.getMeta(this.name)), hex(this.value), `${this}: getMeta returns what was set`);
  }
  toString = () => `setMeta(${this.name},${hex(this.value)})`;
}

class GetMetaCommand implements StoreCommand {
  constructor(readonly name: string) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    assert.equal(hex(r.store.getMeta(this.name)), hex(m.meta.get(this.name)), `${this}`);
  }
  toString = () => `getMeta(${this.name})`;
}

class ReapedClockCommand implements StoreCommand {
  constructor(
    readonly key: number,
    readonly keyForm: KeyForm,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    assert.deepEqual(showClock(r.store.reapedClock(keyArg(this.key, this.keyForm))), showClock(m.reaped.get(this.key)?.clock), `${this}`);
  }
  toString = () => `reapedClock(${keyName(this.key)}/${this.keyForm})`;
}

/**
 * Forgets reaped clocks recorded before a cut-off: now + offset, or exactly the time one of
 * them was recorded (which must be kept: "before" is strict) or a millisecond after it.
 */
type ExpireCut = { readonly offsetMs: number } | { readonly recorded: number; readonly plusMs: 0 | 1 };

class ExpireReapedCommand implements StoreCommand {
  constructor(readonly cut: ExpireCut) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const times = [...new Set([...m.reaped.values()].map((e) => e.at))].sort((a, b) => a - b);
    const chosen = 'recorded' in this.cut ? times[this.cut.recorded % Math.max(1, times.length)] : undefined;
    const beforeMs = 'offsetMs' in this.cut ? m.nowMs + this.cut.offsetMs : chosen === undefined ? m.nowMs : chosen + this.cut.plusMs;
    let n = 0;
    for (const [k, { at }] of m.reaped) {
      if (at < beforeMs) {
        m.reaped.delete(k);
        n++;
      }
    }
    assert.equal(r.store.expireReaped(beforeMs), n, `${this}: forgets exactly the clocks recorded before ${beforeMs}`);
    if (n > 0) reach(m.reaped.size > 0 ? 'expireReaped forgets some, keeps some' : 'expireReaped forgets all');
  }
  toString = () => ('offsetMs' in this.cut ? `expireReaped(now${this.cut.offsetMs < 0 ? '' : '+'}${this.cut.offsetMs})` : `expireReaped(recorded #${this.cut.recorded}+${this.cut.plusMs})`);
}

class RetireActorCommand implements StoreCommand {
  constructor(readonly partition: number) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    r.store.retireActor(this.partition);
    if (m.actors.delete(this.partition)) reach('retire an actor');
  }
  toString = () => `retireActor(${this.partition})`;
}

/** The clock moves on, stands still (actors must still differ) or is set back. */
class TickCommand implements StoreCommand {
  constructor(readonly deltaMs: number) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    m.nowMs += this.deltaMs;
    r.clock.nowMs += this.deltaMs;
  }
  toString = () => `tick(${this.deltaMs})`;
}

/**
 * Durability: a new instance on the same data equals the model. A close commits the updates
 * still queued (their callers wait for the ack) before it closes; a crash is taken only with
 * nothing in flight, as what it does to unacknowledged updates is not specified.
 */
class ReopenCommand implements StoreCommand {
  constructor(
    readonly how: ReopenHow,
    readonly pending: readonly Op[],
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    reach(`reopen: ${this.how}${this.pending.length > 0 ? ' with updates pending' : ''}`);
    if (this.pending.length > 0) await runBatch(m, r, this.pending, () => r.reopen(this.how));
    else await r.reopen(this.how);
    await checkAll(m, r, `after ${this}`);
  }
  toString = () => `reopen(${this.how}${this.pending.length > 0 ? `, pending ${this.pending.map(opText).join(', ')}` : ''})`;
}

class CheckAllCommand implements StoreCommand {
  check = () => true;
  run = (m: Model, r: Real) => checkAll(m, r, 'at a check');
  toString = () => 'checkAll';
}

const singleUpdate = fc.array(opArb, { minLength: 1, maxLength: 1 }).map((ops) => new BatchCommand(ops));
const batchOfUpdates = fc.array(opArb, { minLength: 2, maxLength: batchUpdatesMax }).map((ops) => new BatchCommand(ops));

const tick = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: -1000, max: -1 })).map((d) => new TickCommand(d));

// fc.commands picks among these evenly: updates are listed several times to be a third of a
// run, ticks twice so that reaped clocks are recorded at different times.
const commandArbs: fc.Arbitrary<StoreCommand>[] = [
  singleUpdate,
  singleUpdate,
  batchOfUpdates,
  batchOfUpdates,
  batchOfUpdates,
  fc.tuple(keyIndexArb, keyFormArb, opBaseArb.map((b) => b.space)).map(([k, form, space]) => new ReadCommand(k, form, space)),
  fc
    .tuple(
      scanOfArb,
      fc.option(fc.oneof(fc.constantFrom(...keyPool), fc.uint8Array({ maxLength: 3 })), { nil: undefined, freq: 4 }),
      fc.integer({ min: 0, max: keyPool.length + 1 }),
    )
    .map(([of, after, limit]) => new ScanCommand(of, after, limit)),
  fc.tuple(scanOfArb, fc.integer({ min: 1, max: 3 })).map(([of, size]) => new PageCommand(of, size)),
  fc.tuple(fc.constantFrom(...metaNames), fc.uint8Array({ maxLength: 6 })).map(([name, value]) => new SetMetaCommand(name, value)),
  fc.constantFrom(...metaNames).map((name) => new GetMetaCommand(name)),
  fc.tuple(keyIndexArb, keyFormArb).map(([k, form]) => new ReapedClockCommand(k, form)),
  fc
    .oneof(
      fc.integer({ min: -20_000, max: 1 }).map((offsetMs): ExpireCut => ({ offsetMs })),
      fc.record({ recorded: fc.nat({ max: 3 }), plusMs: fc.constantFrom<0 | 1>(0, 1) }),
    )
    .map((cut) => new ExpireReapedCommand(cut)),
  fc.constantFrom(...partitions).map((p) => new RetireActorCommand(p)),
  tick,
  tick,
  fc.oneof(fc.constant<ReopenHow>('crash').map((how) => new ReopenCommand(how, [])), fc.array(opArb, { maxLength: 3 }).map((ops) => new ReopenCommand('close', ops))),
  fc.constant(new CheckAllCommand()),
];

// ---------------------------------------------------------------------------------------------

for (const subject of subjects) {
  test(`Store contract (${subject.name}): every command sequence leaves the store equal to a Map model, also after it is closed and reopened`, async (t) => {
    reached.clear();
    await fc.assert(
      fc.asyncProperty(fc.commands(commandArbs, { maxCommands: commandsPerRunMax, size: 'max' }), async (cmds) => {
        const clock = { nowMs: startMs };
        const opened = subject.open(() => clock.nowMs);
        try {
          const model = new Model();
          const real = new Real(opened, clock, subject);
          await fc.asyncModelRun(() => ({ model, real }), cmds);
          await real.reopen('close');
          await checkAll(model, real, 'after the last command and a close and reopen', true);
        } finally {
          await opened.dispose();
        }
      }),
      { ...fuzzParams<[Iterable<StoreCommand>]>(), numRuns: subject.numRuns },
    );
    t.diagnostic(`${subject.numRuns} runs reached: ${[...reached].map(([what, n]) => `${what} ${n}`).join(', ')}`);
  });
}

for (const subject of subjects) {
  test(`Store contract (${subject.name}): meta names the store keeps for itself are refused, so a caller cannot make actor ids repeat`, async () => {
    const opened = subject.open(() => startMs);
    try {
      for (const name of storeMetaReserved) {
        assert.throws(() => opened.store.getMeta(name), RangeError, `getMeta(${name})`);
        await assert.rejects(opened.store.setMeta(name, Buffer.from('junk')), RangeError, `setMeta(${name})`);
      }
    } finally {
      await opened.dispose();
    }
  });
}

test('SqliteStore: an unreadable last-actor timestamp on disk does not make actor ids invalid or equal', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gyre-store-actor-'));
  try {
    const first = new SqliteStore(dir, { nodeId, now: () => startMs });
    await first.close();
    const db = new Database(join(dir, 'gyre.sqlite3'));
    db.prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)').run('lastActorMs', Buffer.from('junk'));
    db.close();
    const store = new SqliteStore(dir, { nodeId, now: () => startMs });
    const actors = await Promise.all([0, 1].map((p) => store.update(Buffer.from([p]), p, (_cur, tools) => ({ versions: undefined, result: tools.actorFor(p) }))));
    await store.close();
    assert.notEqual(actors[0], actors[1], 'two partitions, two actors');
    for (const a of actors) assert.match(a, /^n1\.[a-z0-9]+$/, `actor ${a} is well formed`);
    for (const a of actors) assert.doesNotMatch(a, /NaN/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const subject of subjects) {
  test(`Store contract (${subject.name}): an update addressed to no valid key or partition is a bug upstream: it fails with an invariant error and stores nothing`, async () => {
    const opened = subject.open(() => startMs);
    try {
      const store = opened.store;
      const bad: [string, Uint8Array, number][] = [
        ['an empty key', new Uint8Array(0), 0],
        ['a key over 1024 bytes', new Uint8Array(1025), 0],
        ['a negative partition', Buffer.from('k'), -1],
        ['a fractional partition', Buffer.from('k'), 1.5],
        ['a partition past the largest ring', Buffer.from('k'), 1 << 16],
      ];
      for (const [name, key, partition] of bad) {
        await assert.rejects(store.update(key, partition, () => ({ versions: [stampVersion([], 'n1.a', startMs)], result: undefined })), InvariantError, name);
      }
      assert.deepEqual(store.partitionsHeld(), [], 'nothing stored');
    } finally {
      await opened.dispose();
    }
  });
}

test('SqliteStore: a row whose key or partition no node could have written is quarantined by the scan that meets it, not handed on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gyre-store-address-'));
  try {
    await new SqliteStore(dir, { nodeId, now: () => startMs }).close();
    const encoded = encodeStored([stampVersion([], 'n1.a', startMs)]);
    assert.ok(encoded.ok);
    const db = new Database(join(dir, 'gyre.sqlite3'));
    const put = db.prepare('INSERT INTO kv (key, partition, data, bytes) VALUES (?, ?, ?, ?)');
    put.run(Buffer.alloc(2000, 0x61), 1, encoded.value, encoded.value.byteLength); // a key over 1024 bytes
    put.run(Buffer.from('ok-key'), 1 << 20, encoded.value, encoded.value.byteLength); // past the largest ring
    put.run(Buffer.from('fine'), 1, encoded.value, encoded.value.byteLength);
    db.close();
    const store = new SqliteStore(dir, { nodeId, now: () => startMs });
    try {
      assert.deepEqual(store.scanPartition(1, undefined, 10).map((k) => k.key.toString()), ['fine']);
      assert.deepEqual(store.scanPartition(1 << 20, undefined, 10), []);
      assert.equal(store.stats().quarantined, 2);
      assert.deepEqual(store.partitionsHeld(), [1]);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
