// Fuzzing what the control plane (node-core/src/control/) reads from outside: a traced request
// from a Socket.IO client or POST /admin/trace (runTrace validates it before anything is
// coordinated), and each peer's snapshot reply, which ControlServer folds into the cluster
// snapshot every console sees. The node behind them is a stub with just what they touch.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fc from 'fast-check';
import { runTrace } from '../../node-core/src/control/trace-request.js';
import { ControlServer } from '../../node-core/src/control/server.js';
import type { ClusterSnapshot, FaultView, MemberView, NodeSnapshot, OpWindow } from '../../node-core/src/wire/control.js';
import type { GyreNode } from '../../node-core/src/node/node.js';
import type { ClusterState } from '../../node-core/src/core/gossip.js';
import { contentTypeBytesMax, keyBytesMax, valueBytesMax } from '../../node-core/src/core/codec.js';
import { byteEditsArb, fieldEditsArb, fuzzParams, jsWeirdArb, mutateBytes, mutateFields, overTheWire, packed, show, tryUnpack, undecodable } from './fuzz.js';

const cfg = { id: 'n1', n: 3, r: 2, w: 2, requestTimeoutMs: 3000, partitions: 4, token: undefined };

/** What the coordinator was asked to do. */
interface Asked {
  readonly op: 'get' | 'put';
  readonly key: Buffer;
  readonly quorum: number;
  readonly timeoutMs: number;
  readonly deleted?: boolean;
  readonly value?: Uint8Array;
  readonly contentType?: string;
}

/** A node with just what runTrace touches: its config, context keys (none: every context is refused, see core/context.ts), env and coordinator. */
function traceNode(asked: Asked[]): GyreNode {
  let t = 0;
  const stub = {
    config: cfg,
    contextKeys: () => ({ keys: [] }),
    checkContext: async () => ({ ok: false, reason: 'the stub accepts no context' }),
    env: { now: () => t++, random: () => 0.5, setTimer: () => ({ cancel() {} }) },
    coordinator: {
      get: async (key: Buffer, r: number, timeoutMs: number) => {
        asked.push({ op: 'get', key, quorum: r, timeoutMs });
        return { status: 404, versions: [], context: undefined, replied: r };
      },
      put: async (req: { key: Buffer; payload: { deleted: boolean; value: Uint8Array; contentType: string }; w: number; timeoutMs: number }) => {
        asked.push({ op: 'put', key: req.key, quorum: req.w, timeoutMs: req.timeoutMs, deleted: req.payload.deleted, value: req.payload.value, contentType: req.payload.contentType });
        return { status: 503, error: 'unavailable', message: 'stub' };
      },
    },
  };
  return stub as unknown as GyreNode;
}

interface ValidTrace {
  readonly req: Record<string, unknown>;
  readonly want: Asked;
}

const textArb = (minBytes: number, maxBytes: number) => fc.string({ unit: 'grapheme', minLength: minBytes, maxLength: Math.min(maxBytes, 40) }).filter((s) => Buffer.byteLength(s) >= minBytes && Buffer.byteLength(s) <= maxBytes);

const keyReqArb = fc.oneof(
  textArb(1, keyBytesMax).map((s) => ({ fields: { key: s } as Record<string, unknown>, bytes: Buffer.from(s) })),
  fc.tuple(textArb(1, keyBytesMax), fc.constant('utf8')).map(([s, e]) => ({ fields: { key: s, keyEncoding: e } as Record<string, unknown>, bytes: Buffer.from(s) })),
  fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.constant(new Uint8Array(keyBytesMax).fill(7))).map((b) => ({ fields: { key: Buffer.from(b).toString('base64'), keyEncoding: 'base64' } as Record<string, unknown>, bytes: Buffer.from(b) })),
);

const valueReqArb = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => ({ fields: { value: Buffer.from(b).toString('base64'), valueEncoding: 'base64' } as Record<string, unknown>, bytes: Buffer.from(b) })) },
  { weight: 4, arbitrary: textArb(0, 100).map((s) => ({ fields: { value: s } as Record<string, unknown>, bytes: Buffer.from(s) })) },
  { weight: 1, arbitrary: fc.constant({ fields: {} as Record<string, unknown>, bytes: Buffer.alloc(0) }) },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(valueBytesMax, 1)).map((b) => ({ fields: { value: b.toString('base64'), valueEncoding: 'base64' } as Record<string, unknown>, bytes: b })) },
);

/** Valid trace requests as a client sends them (JSON), with what the coordinator must be asked. */
const validTraceArb: fc.Arbitrary<ValidTrace> = fc
  .tuple(
    fc.constantFrom('get', 'put', 'delete'),
    keyReqArb,
    valueReqArb,
    fc.option(fc.oneof(textArb(0, contentTypeBytesMax), fc.constant('c'.repeat(contentTypeBytesMax))), { nil: undefined }),
    fc.option(fc.integer({ min: 1, max: cfg.n }), { nil: undefined }),
    fc.option(fc.integer({ min: 1, max: cfg.n }), { nil: undefined }),
    fc.option(fc.oneof(fc.integer({ min: 1, max: 60_000 }), fc.constantFrom(1, 60_000)), { nil: undefined }),
    fc.constantFrom(undefined, null, ''),
  )
  .map(([op, key, value, contentType, r, w, timeoutMs, context]) => {
    const req: Record<string, unknown> = { op, ...key.fields, ...(op === 'put' ? value.fields : {}) };
    if (contentType !== undefined) req.contentType = contentType;
    if (r !== undefined) req.r = r;
    if (w !== undefined) req.w = w;
    if (timeoutMs !== undefined) req.timeoutMs = timeoutMs;
    if (context !== undefined) req.context = context;
    const timeout = timeoutMs ?? cfg.requestTimeoutMs;
    // A delete without a context reads first and deletes what it saw: the stub has nothing, so it stops at the read.
    const want: Asked =
      op === 'put'
        ? { op: 'put', key: key.bytes, quorum: w ?? cfg.w, timeoutMs: timeout, deleted: false, value: value.bytes, contentType: contentType ?? 'application/octet-stream' }
        : { op: 'get', key: key.bytes, quorum: r ?? cfg.r, timeoutMs: timeout };
    return { req, want };
  });

test('fuzz control: a valid traced request reaches the coordinator with exactly its key, value, content type, quorum and timeout', async () => {
  await fc.assert(
    fc.asyncProperty(validTraceArb, async ({ req, want }) => {
      const asked: Asked[] = [];
      const out = await runTrace(traceNode(asked), JSON.parse(JSON.stringify(req)));
      assert.ok(out.ok, `refused a valid request: ${out.ok ? '' : out.message}`);
      assert.equal(asked.length, 1);
      const got = asked[0]!;
      assert.equal(got.op, want.op);
      assert.ok(got.key.equals(want.key), 'the key bytes');
      assert.equal(got.quorum, want.quorum);
      assert.equal(got.timeoutMs, want.timeoutMs);
      if (want.op === 'put') {
        assert.equal(got.deleted, false);
        assert.ok(Buffer.from(got.value!).equals(Buffer.from(want.value!)), 'the value bytes');
        assert.equal(got.contentType, want.contentType);
      }
    }),
    fuzzParams(),
  );
});

/** What the coordinator may rely on, whatever the client sent. */
function askedProblem(a: Asked): string | undefined {
  if (!Buffer.isBuffer(a.key) || a.key.byteLength < 1 || a.key.byteLength > keyBytesMax) return `key of ${String(a.key?.byteLength)} bytes`;
  if (!Number.isSafeInteger(a.quorum) || a.quorum < 1 || a.quorum > cfg.n) return `quorum ${String(a.quorum)}`;
  if (!Number.isSafeInteger(a.timeoutMs) || a.timeoutMs < 1 || a.timeoutMs > 60_000) return `timeout ${String(a.timeoutMs)}`;
  if (a.op === 'put') {
    if (!(a.value instanceof Uint8Array) || a.value.byteLength > valueBytesMax) return 'value';
    if (typeof a.contentType !== 'string' || Buffer.byteLength(a.contentType) > contentTypeBytesMax) return `content type ${show(a.contentType)}`;
    if (typeof a.deleted !== 'boolean') return 'deleted';
  }
  return undefined;
}

/** The same operation, asked again as a client would (base64 key and value): it must be asked the same. */
function askedAgain(a: Asked): Record<string, unknown> {
  const base = { key: a.key.toString('base64'), keyEncoding: 'base64', timeoutMs: a.timeoutMs };
  if (a.op === 'get') return { op: 'get', ...base, r: a.quorum };
  return { op: a.deleted ? 'delete' : 'put', ...base, w: a.quorum, value: Buffer.from(a.value!).toString('base64'), valueEncoding: 'base64', contentType: a.contentType };
}

async function checkTrace(raw: unknown): Promise<void> {
  const asked: Asked[] = [];
  let out;
  try {
    out = await runTrace(traceNode(asked), raw);
  } catch (e) {
    assert.fail(`runTrace rejected (the client gets "internal") with ${String(e)} on ${show(raw)}`);
  }
  if (!out.ok) {
    assert.equal(asked.length, 0, 'a refused request reached the coordinator');
    assert.ok(typeof out.error === 'string' && typeof out.message === 'string');
    return;
  }
  for (const a of asked) {
    const p = askedProblem(a);
    assert.equal(p, undefined, `the coordinator was asked something out of bounds (${p}) for ${show(raw)}`);
    const again: Asked[] = [];
    const second = await runTrace(traceNode(again), askedAgain(a));
    assert.ok(second.ok && again.length === 1, `what was accepted is refused when asked again: ${show(askedAgain(a))}`);
    const b = again[0]!;
    assert.ok(b.key.equals(a.key) && b.quorum === a.quorum && b.timeoutMs === a.timeoutMs && b.contentType === a.contentType, 'asked again, the same');
  }
}

const traceStartArb = validTraceArb.map((v) => v.req);

test('fuzz control: a traced request with fields replaced, dropped or added is refused or asks the coordinator only what is in bounds, and runTrace never rejects', async () => {
  await fc.assert(
    fc.asyncProperty(traceStartArb, fieldEditsArb(jsWeirdArb), async (req, edits) => checkTrace(mutateFields(req, edits))),
    fuzzParams(),
  );
});

test('fuzz control: a traced request whose JSON text is edited is refused or in bounds, and runTrace never rejects', async () => {
  await fc.assert(
    fc.asyncProperty(traceStartArb, byteEditsArb, async (req, edits) => {
      let raw: unknown;
      try {
        raw = JSON.parse(mutateBytes(Buffer.from(JSON.stringify(req)), edits).toString('utf8'));
      } catch {
        return; // the HTTP route answers 400 before runTrace
      }
      await checkTrace(raw);
    }),
    fuzzParams(),
  );
});

// ---------------------------------------------------------------------------------------------
// Peer snapshots.

const statuses = ['up', 'suspect', 'down', 'joining', 'leaving'] as const;
const states = ['joining', 'member', 'leaving', 'left'] as const;

function view(id: string): MemberView {
  return { id, address: `127.0.0.1:${id === 'n1' ? 7070 : 7071}`, status: 'up', state: 'member', phi: 0, heartbeatAgeMs: 0, partitions: 2 };
}

const natArb = fc.oneof({ weight: 8, arbitrary: fc.nat({ max: 10_000 }) }, { weight: 1, arbitrary: fc.maxSafeNat() });
const msArb = fc.option(fc.double({ min: 0, max: 60_000, noNaN: true }), { nil: null });
const opWindowArb: fc.Arbitrary<OpWindow> = fc.tuple(natArb, natArb, msArb, msArb, msArb, msArb, natArb, natArb).map(([lastSecond, total, p50, p99, p999, max, errors, unavailable]) => ({ lastSecond, total, p50, p99, p999, max, errors, unavailable }));
const memberViewArb: fc.Arbitrary<MemberView> = fc
  .tuple(fc.constantFrom('n1', 'n2', 'n3'), fc.constantFrom(...statuses), fc.constantFrom(...states), fc.option(fc.double({ min: 0, max: 100, noNaN: true }), { nil: null }), fc.option(natArb, { nil: null }), natArb)
  .map(([id, status, state, phi, heartbeatAgeMs, partitions]) => ({ id, address: '127.0.0.1:7072', status, state, phi, heartbeatAgeMs, partitions }));
const faultViewArb: fc.Arbitrary<FaultView> = fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.constantFrom('partition', 'pause'), natArb, fc.option(natArb, { nil: null })).map(([id, kind, startedAt, remainingMs]) => ({ id, kind, description: kind, startedAt, remainingMs }));

/** A valid snapshot of peer n2, as NodeSnapshot describes it. */
const nodeSnapshotArb: fc.Arbitrary<NodeSnapshot> = fc
  .record(
    {
      at: fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 }),
      uptimeMs: natArb,
      members: fc.array(memberViewArb, { maxLength: 3 }),
      // Hint targets are node ids, and 'constructor' or 'toString' is a valid one (core/ids.ts).
      byTarget: fc.array(fc.tuple(fc.constantFrom('n1', 'n3', 'constructor', 'toString'), natArb), { maxLength: 2 }),
      counts: fc.array(natArb, { minLength: 11, maxLength: 11 }),
      sample: fc.array(fc.string({ maxLength: 12 }), { maxLength: 4 }),
      ops: fc.tuple(opWindowArb, opWindowArb, opWindowArb),
      merkle: fc.option(fc.array(fc.tuple(fc.constantFrom('0', '1', '2', '3'), fc.constantFrom('00ff', 'ab12')), { maxLength: 4 }), { nil: null }),
      faults: fc.array(faultViewArb, { maxLength: 2 }),
      events: fc.array(fc.tuple(natArb, natArb).map(([seq, at]) => ({ type: 'hints-delivered' as const, target: 'n1', count: 1, seq, at, node: 'n2' })), { maxLength: 3 }),
    },
    { noNullPrototype: true },
  )
  .map((r) => {
    const c = r.counts;
    return {
      id: 'n2',
      at: r.at,
      address: '127.0.0.1:7071',
      uptimeMs: r.uptimeMs,
      members: r.members,
      hints: { byTarget: Object.fromEntries(r.byTarget), delivered: c[0]! },
      antiEntropy: { exchanges: c[1]!, keysRepaired: c[2]! },
      transfers: { active: c[3]!, completed: c[4]!, keysReceived: c[5]! },
      conflicts: { keysWithSiblings: c[6]!, sample: r.sample, siblingsCreated: c[7]!, siblingsResolved: c[8]!, readRepairs: c[9]! },
      ops: { get: r.ops[0], put: r.ops[1], delete: r.ops[2] },
      storage: { keys: c[10]!, bytes: c[0]! },
      merkle: r.merkle === null ? null : Object.fromEntries(r.merkle),
      faults: r.faults,
      events: r.events,
      lastEventSeq: c[1]!,
    };
  });

function ownSnapshot(): NodeSnapshot {
  const idle: OpWindow = { lastSecond: 0, total: 0, p50: null, p99: null, p999: null, max: null, errors: 0, unavailable: 0 };
  return {
    id: 'n1',
    at: 1_750_000_000_000,
    address: '127.0.0.1:7070',
    uptimeMs: 1000,
    members: [view('n1'), view('n2')],
    hints: { byTarget: {}, delivered: 0 },
    antiEntropy: { exchanges: 0, keysRepaired: 0 },
    transfers: { active: 0, completed: 0, keysReceived: 0 },
    conflicts: { keysWithSiblings: 0, sample: [], siblingsCreated: 0, siblingsResolved: 0, readRepairs: 0 },
    ops: { get: idle, put: idle, delete: idle },
    storage: { keys: 0, bytes: 0 },
    merkle: { '0': '00ff', '1': '00ff', '2': '00ff', '3': '00ff' },
    faults: [],
    events: [],
    lastEventSeq: 0,
  };
}

/** A node with just what ControlServer.clusterSnapshot touches; n2 answers with `reply()`. */
function controlNode(reply: () => unknown): GyreNode {
  const state: ClusterState = {
    partitions: 4,
    n: 2,
    members: new Map(['n1', 'n2'].map((id) => [id, { id, http: `127.0.0.1:${id === 'n1' ? 7070 : 7071}`, internode: '127.0.0.1:0', state: 'member' as const, version: 1, heartbeat: 1 }])),
    ring: ['n1', 'n2', 'n1', 'n2'].map((owner) => ({ owner, epoch: 1, pendingTo: undefined })),
  };
  const stub = {
    config: { ...cfg, n: 2 },
    clusterState: () => state,
    memberViews: () => [view('n1'), view('n2')],
    snapshot: () => ownSnapshot(),
    call: async () => reply(),
    env: { now: () => 1_750_000_000_000, random: () => 0.5, setTimer: () => ({ cancel() {} }) },
    faults: { list: () => [] },
    log: { warn() {}, info() {}, error() {}, debug() {} },
  };
  return stub as unknown as GyreNode;
}

const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
const isNumOrNull = (v: unknown) => v === null || isNum(v);

/** Whether a node's report, as the console receives it in `nodes`, has the shape NodeSnapshot promises. */
function nodeProblem(x: unknown): string | undefined {
  const s = x as Record<string, unknown> & Partial<NodeSnapshot>;
  if (typeof s !== 'object' || s === null || typeof s.id !== 'string') return 'not an object with an id';
  if ('unreachable' in s) return typeof s.unreachable === 'string' ? undefined : 'unreachable is not a string';
  for (const k of ['at', 'uptimeMs', 'lastEventSeq'] as const) if (!isNum(s[k])) return `${k} ${show(s[k])}`;
  if (typeof s.address !== 'string') return 'address';
  if (!Array.isArray(s.members) || !s.members.every((m) => typeof m === 'object' && m !== null && typeof m.id === 'string' && statuses.includes(m.status) && isNumOrNull(m.phi) && isNumOrNull(m.heartbeatAgeMs) && isNum(m.partitions)))
    return `members ${show(s.members)}`;
  if (typeof s.hints !== 'object' || s.hints === null || !Object.values(s.hints.byTarget ?? { x: 'missing' }).every(isNum) || !isNum(s.hints.delivered)) return `hints ${show(s.hints)}`;
  if (!isNum(s.antiEntropy?.exchanges) || !isNum(s.antiEntropy?.keysRepaired)) return `antiEntropy ${show(s.antiEntropy)}`;
  if (!isNum(s.transfers?.active) || !isNum(s.transfers?.completed) || !isNum(s.transfers?.keysReceived)) return `transfers ${show(s.transfers)}`;
  const c = s.conflicts;
  if (!c || !isNum(c.keysWithSiblings) || !isNum(c.siblingsCreated) || !isNum(c.siblingsResolved) || !isNum(c.readRepairs) || !Array.isArray(c.sample) || !c.sample.every((k) => typeof k === 'string')) return `conflicts ${show(c)}`;
  for (const op of ['get', 'put', 'delete'] as const) {
    const w = s.ops?.[op];
    if (!w || !isNum(w.lastSecond) || !isNum(w.total) || !isNum(w.errors) || !isNum(w.unavailable) || !isNumOrNull(w.p50) || !isNumOrNull(w.p99) || !isNumOrNull(w.p999) || !isNumOrNull(w.max)) return `ops.${op} ${show(w)}`;
  }
  if (!isNum(s.storage?.keys) || !isNum(s.storage?.bytes)) return `storage ${show(s.storage)}`;
  if (!Array.isArray(s.faults) || !s.faults.every((f) => typeof f === 'object' && f !== null && typeof f.id === 'string' && typeof f.kind === 'string')) return `faults ${show(s.faults)}`;
  return undefined;
}

/** Whether the cluster snapshot every console gets is what ClusterSnapshot promises. */
function snapshotProblem(s: ClusterSnapshot, events: readonly unknown[]): string | undefined {
  for (const n of s.nodes) {
    const p = nodeProblem(n);
    if (p) return `nodes[${n.id}]: ${p}`;
  }
  if (!s.matrix.status.every((row) => row.every((x) => x === null || statuses.includes(x)))) return `matrix ${show(s.matrix.status)}`;
  if (!Object.values(s.hints.byTarget).every(isNum) || !isNum(s.hints.total) || !isNum(s.hints.drainPerSecond)) return `hints ${show(s.hints)}`;
  if (!isNum(s.antiEntropy.exchanges) || !isNum(s.antiEntropy.keysRepaired) || !isNum(s.antiEntropy.repairedPerSecond)) return `antiEntropy ${show(s.antiEntropy)}`;
  const c = s.conflicts;
  if (!isNum(c.keysWithSiblings) || !c.sample.every((k) => typeof k === 'string') || !isNum(c.createdPerSecond) || !isNum(c.resolvedPerSecond) || !isNum(c.readRepairsPerSecond)) return `conflicts ${show(c)}`;
  for (const op of ['get', 'put', 'delete'] as const) {
    const o = s.ops[op];
    if (!isNum(o.perSecond) || !isNum(o.errors) || !isNum(o.unavailable) || !isNumOrNull(o.p50) || !isNumOrNull(o.p99) || !isNumOrNull(o.p999)) return `ops.${op} ${show(o)}`;
  }
  if (!isNum(s.storage.keys) || !isNum(s.storage.bytes)) return `storage ${show(s.storage)}`;
  if (!s.partitions.every((p) => p.merkleAgree === null || typeof p.merkleAgree === 'boolean')) return 'merkleAgree';
  for (const e of events) {
    const ev = e as { seq?: unknown; at?: unknown; node?: unknown; type?: unknown } | null;
    if (typeof ev !== 'object' || ev === null || !isNum(ev.seq) || !isNum(ev.at) || typeof ev.node !== 'string' || typeof ev.type !== 'string') return `event ${show(e)}`;
  }
  return undefined;
}

async function withControl<T>(reply: () => unknown, f: (c: ControlServer) => Promise<T>): Promise<T> {
  const server = http.createServer();
  const control = new ControlServer(controlNode(reply), server);
  try {
    return await f(control);
  } finally {
    await control.close();
  }
}

test('fuzz control: a valid peer snapshot reaches the cluster snapshot as sent', async () => {
  await fc.assert(
    fc.asyncProperty(nodeSnapshotArb, async (snap) => {
      const wireReply = overTheWire(['snapshot', snap]);
      await withControl(
        () => wireReply,
        async (control) => {
          const { snapshot, events } = await control.clusterSnapshot(true);
          const n2 = snapshot.nodes.find((x) => x.id === 'n2');
          assert.ok(n2 && !('unreachable' in n2), `a valid peer snapshot was taken as unreachable: ${show(n2)}`);
          assert.deepStrictEqual(JSON.parse(JSON.stringify(n2)), JSON.parse(JSON.stringify({ ...snap, merkle: null, events: [] })));
          const problem = snapshotProblem(snapshot, events);
          assert.equal(problem, undefined, `a valid peer snapshot gave a malformed cluster snapshot: ${problem}`);
          assert.equal(snapshot.hints.total, Object.values(snap.hints.byTarget).reduce((a, b) => a + b, 0), 'hints.total is the sum of the hints reported');
          assert.equal(snapshot.storage.keys, snap.storage.keys);
          assert.equal(events.length, snap.events.length);
        },
      );
    }),
    fuzzParams(),
  );
});

async function checkPeerReply(reply: unknown): Promise<void> {
  await withControl(
    () => reply,
    async (control) => {
      let out: Awaited<ReturnType<ControlServer['clusterSnapshot']>>;
      try {
        out = await control.clusterSnapshot(true);
      } catch (e) {
        assert.fail(`one peer's reply made the whole cluster snapshot fail (no console gets one): ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}; reply ${show(reply)}`);
      }
      const p = snapshotProblem(out.snapshot, out.events);
      assert.equal(p, undefined, `a peer's reply put a malformed value into the cluster snapshot: ${p}; reply ${show(reply)}`);
    },
  );
}

test('fuzz control: a peer snapshot with fields replaced, dropped or added never breaks the cluster snapshot or puts malformed values in it', async () => {
  await fc.assert(
    fc.asyncProperty(nodeSnapshotArb, fieldEditsArb(), async (snap, edits) => checkPeerReply(mutateFields(['snapshot', snap], edits))),
    fuzzParams(),
  );
});

test('fuzz control: a peer snapshot with its msgpack bytes edited never breaks the cluster snapshot or puts malformed values in it', async () => {
  await fc.assert(
    fc.asyncProperty(nodeSnapshotArb, byteEditsArb, async (snap, edits) => {
      const decoded = tryUnpack(mutateBytes(packed(['snapshot', snap]), edits));
      if (decoded !== undecodable) await checkPeerReply(decoded);
    }),
    fuzzParams(),
  );
});
