// Durability under SIGKILL (CONTRACT.md: "204 once W replicas have it durably", "Nothing
// acknowledged is dropped silently", "A node restarted with the same --id and --dir comes
// back with its data"). Concurrent writers run against a real 3-node cluster (N=3, W=2)
// while one node is SIGKILLed by pid; after it is restarted, every acknowledged write is
// checked on the replicas (GET /replicas) and through r=3 reads.
//
// Each writer owns its keys and chains its writes: an overwrite carries the context
// returned by that key's last acknowledged PUT. So for every key, if L is its last
// acknowledged write, every later attempt (unacknowledged, maybe applied) descends from L,
// and every earlier acknowledged write is an ancestor of L. Values of one key have distinct
// lengths, so the `size` in GET /replicas tells which value a replica holds.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type HttpResponse, type ReplicasJson, TestCluster, header, parseSiblings, siblingValues, sleep } from '../helpers/cluster.js';

interface Attempt {
  readonly value: string;
  readonly via: string;
  acked: boolean;
}

interface KeyHistory {
  readonly key: string;
  readonly attempts: Attempt[];
  /** Context of the last acknowledged PUT: the next write of this key carries it. */
  context: string | undefined;
}

interface StreamOptions {
  readonly prefix: string;
  /** Per writer, the nodes it sends to in order; it moves to the next when one refuses connections. */
  readonly writers: readonly (readonly string[])[];
  readonly keysPerWriter: number;
  readonly opsPerWriter: number;
  readonly victim: string;
  /** The victim is killed once this many writes were acknowledged. */
  readonly killAfterAcks: number;
  readonly durationMsMax: number;
  /** How the victim is stopped; SIGKILL unless said otherwise. */
  readonly signal?: NodeJS.Signals;
}

interface StreamResult {
  readonly keys: KeyHistory[];
  readonly killedAtAcks: number;
  readonly ackedAfterKill: number;
  readonly ackedViaVictimBeforeKill: number;
  readonly errors: number;
}

function valueFor(key: string, seq: number, writer: number): string {
  // Length grows with seq: distinct lengths within a key identify the value by its size.
  const head = `${key}#${seq}#w${writer}#`;
  return head + '.'.repeat(8 + seq * 5);
}

async function runWriteStream(cluster: TestCluster, o: StreamOptions): Promise<StreamResult> {
  const keys: KeyHistory[] = [];
  let acks = 0;
  let killed = false;
  let killedAtAcks = -1;
  let ackedAfterKill = 0;
  let ackedViaVictimBeforeKill = 0;
  let errors = 0;
  const deadline = Date.now() + o.durationMsMax;

  const writer = async (w: number, targets: readonly string[]): Promise<void> => {
    const mine: KeyHistory[] = [];
    for (let j = 0; j < o.keysPerWriter; j++) {
      const h: KeyHistory = { key: `${o.prefix}-w${w}-k${j}`, attempts: [], context: undefined };
      mine.push(h);
      keys.push(h);
    }
    let t = 0;
    for (let op = 0; op < o.opsPerWriter && Date.now() < deadline; op++) {
      const h = mine[op % mine.length]!;
      const via = targets[Math.min(t, targets.length - 1)]!;
      const attempt: Attempt = { value: valueFor(h.key, h.attempts.length, w), via, acked: false };
      h.attempts.push(attempt);
      try {
        const res = await cluster.put(via, h.key, attempt.value, { context: h.context, timeoutMs: 8000 });
        if (res.status === 204) {
          const ctx = header(res, 'x-gyre-context');
          assert.ok(ctx, `204 without X-Gyre-Context for ${h.key}`);
          attempt.acked = true;
          h.context = ctx;
          acks++;
          if (killed) ackedAfterKill++;
          else if (via === o.victim) ackedViaVictimBeforeKill++;
        } else {
          // 503 and friends: not acknowledged; the write may or may not have been applied.
          errors++;
          assert.ok(res.status === 503, `unexpected ${res.status} for ${h.key} via ${via}: ${res.body.toString('utf8')}`);
        }
      } catch (e) {
        errors++;
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ECONNREFUSED' && t < targets.length - 1) t++;
        await sleep(10); // a dead target refuses at once: do not spin
      }
    }
  };

  const killer = async (): Promise<void> => {
    for (let i = 0; i < 4000 && Date.now() < deadline; i++) {
      if (acks >= o.killAfterAcks) break;
      await sleep(5);
    }
    killedAtAcks = acks;
    killed = true;
    await cluster.kill(o.victim, o.signal ?? 'SIGKILL');
  };

  await Promise.all([killer(), ...o.writers.map((targets, w) => writer(w, targets))]);
  return { keys, killedAtAcks, ackedAfterKill, ackedViaVictimBeforeKill, errors };
}

/** Sizes (in bytes) of the values that may stand for the last acknowledged write of a key. */
function acceptableAfterLast(h: KeyHistory): { last: number; sizes: Set<number> } | undefined {
  let last = -1;
  h.attempts.forEach((a, i) => {
    if (a.acked) last = i;
  });
  if (last < 0) return undefined;
  return { last, sizes: new Set(h.attempts.slice(last).map((a) => Buffer.byteLength(a.value))) };
}

// A peer that has only just seen the restarted node again may still fail a request or two
// to it (a 503 for r=3, `reachable: false`); that says nothing about the data, so these
// reads are retried a few times. A replica that stays unreachable still fails the test.
const retriesMax = 10;
const retryPauseMs = 300;

async function replicasAllReachable(cluster: TestCluster, via: string, key: string): Promise<ReplicasJson> {
  let rep = await cluster.replicas(via, key);
  for (let i = 0; i < retriesMax && rep.replicas.some((r) => !r.reachable); i++) {
    await sleep(retryPauseMs);
    rep = await cluster.replicas(via, key);
  }
  return rep;
}

async function readAllReplicas(cluster: TestCluster, via: string, key: string): Promise<HttpResponse> {
  let res = await cluster.get(via, key, 'r=3', { accept: 'application/json' });
  for (let i = 0; i < retriesMax && res.status === 503; i++) {
    await sleep(retryPauseMs);
    res = await cluster.get(via, key, 'r=3', { accept: 'application/json' });
  }
  return res;
}

/**
 * The checks shared by the tests below, run after the victim is back:
 * 1. On GET /replicas, each acknowledged write (or a later attempt descending from it) is
 *    held by at least W=2 replicas, and no replica holds a value never sent for that key.
 *    Done before any read, so read repair cannot have filled the gaps.
 * 2. An r=3 read returns the last acknowledged value (or a later attempt), only values that
 *    were sent, and none of the earlier acknowledged values its context chain superseded.
 */
async function checkAcknowledgedWrites(cluster: TestCluster, keys: readonly KeyHistory[]): Promise<number> {
  const readers = ['n1', 'n2', 'n3'];
  let checked = 0;
  const problems: string[] = [];
  for (const h of keys) {
    const ok = acceptableAfterLast(h);
    const sentSizes = new Set(h.attempts.map((a) => Buffer.byteLength(a.value)));
    const rep = await replicasAllReachable(cluster, readers[checked % 3]!, encodeURIComponent(h.key));
    for (const r of rep.replicas) {
      if (!r.reachable) problems.push(`${h.key}: replica ${r.node} unreachable`);
      for (const v of r.versions) {
        if (v.deleted) problems.push(`${h.key}: ${r.node} holds a tombstone nobody wrote`);
        if (!sentSizes.has(v.size)) problems.push(`${h.key}: ${r.node} holds a ${v.size}-byte value; sizes sent: ${[...sentSizes].join(',')}`);
      }
    }
    if (!ok) continue;
    checked++;
    const holders = rep.replicas.filter((r) => r.versions.some((v) => ok.sizes.has(v.size))).map((r) => r.node);
    if (holders.length < 2) problems.push(`${h.key}: acknowledged write #${ok.last} (via ${h.attempts[ok.last]!.via}) held by ${holders.length} replica(s) [${holders.join(',')}], W=2`);
  }
  for (const [i, h] of keys.entries()) {
    const ok = acceptableAfterLast(h);
    if (!ok) continue;
    const res = await readAllReplicas(cluster, readers[i % 3]!, encodeURIComponent(h.key));
    if (res.status !== 200 && res.status !== 300) {
      problems.push(`${h.key}: r=3 GET gave ${res.status} ${res.body.toString('utf8').slice(0, 200)}`);
      continue;
    }
    const values = siblingValues(parseSiblings(res));
    const sent = new Set(h.attempts.map((a) => a.value));
    const allowed = new Set(h.attempts.slice(ok.last).map((a) => a.value));
    const superseded = new Set(h.attempts.slice(0, ok.last).filter((a) => a.acked).map((a) => a.value));
    for (const v of values) {
      if (!sent.has(v)) problems.push(`${h.key}: r=3 read returned a value nobody wrote: ${JSON.stringify(v.slice(0, 80))}`);
      if (superseded.has(v)) problems.push(`${h.key}: r=3 read returned an acknowledged value that a later acknowledged write superseded`);
    }
    if (!values.some((v) => allowed.has(v))) problems.push(`${h.key}: acknowledged write #${ok.last} lost: r=3 read returned ${values.length} sibling(s), none of them it or a later write`);
  }
  assert.deepEqual(problems, [], `${problems.length} problem(s):\n${problems.slice(0, 30).join('\n')}`);
  return checked;
}

/**
 * Restarts the victim while every other node is paused (SIGSTOP), reads what the victim
 * itself holds (its own entry of GET /replicas is a local read), then resumes the others
 * and waits until all are up. Isolation matters: anti-entropy and hinted handoff would
 * otherwise refill a victim that lost acknowledged writes from its peers within a second,
 * hiding the loss. For each key in `from`, the victim coordinated and acknowledged write
 * #from after committing it locally, and (its writers having stopped with it) nothing later
 * reached it, so it must hold that write or a later attempt it committed just before dying.
 */
async function restartInIsolationAndCheckOwnWrites(cluster: TestCluster, victim: string, keys: readonly KeyHistory[], from: Map<string, number>): Promise<void> {
  const others = cluster.nodes.map((n) => n.id).filter((id) => id !== victim);
  const problems: string[] = [];
  for (const id of others) cluster.signal(id, 'SIGSTOP');
  try {
    cluster.restart(victim);
    let serving = false;
    for (let i = 0; i < 100 && !serving; i++) {
      try {
        await cluster.status(victim, 1000);
        serving = true;
      } catch {
        await sleep(100);
      }
    }
    assert.ok(serving, `${victim} serves HTTP after its restart`);
    const checks = keys
      .filter((h) => from.has(h.key))
      .map(async (h) => {
        const first = from.get(h.key)!;
        const sizes = new Set(h.attempts.slice(first).map((a) => Buffer.byteLength(a.value)));
        const rep = await cluster.replicas(victim, encodeURIComponent(h.key));
        const own = rep.replicas.find((r) => r.node === victim);
        if (!own?.reachable) problems.push(`${h.key}: ${victim} cannot read its own replica (${JSON.stringify(rep).slice(0, 300)})`);
        else if (!own.versions.some((v) => sizes.has(v.size))) {
          problems.push(`${h.key}: ${victim} acknowledged write #${first} as coordinator but after its restart holds neither it nor a later one (sizes held: ${own.versions.map((v) => v.size).join(',') || 'none'})`);
        }
      });
    await Promise.all(checks);
  } finally {
    for (const id of others) cluster.signal(id, 'SIGCONT');
  }
  await cluster.waitUntilUp();
  assert.deepEqual(problems, [], `${problems.length} acknowledged write(s) missing on the restarted coordinator:\n${problems.slice(0, 30).join('\n')}`);
}

/** For each key, the index of the last write that `node` acknowledged as coordinator. */
function lastAckedVia(keys: readonly KeyHistory[], node: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const h of keys) {
    h.attempts.forEach((a, i) => {
      if (a.acked && a.via === node) out.set(h.key, i);
    });
  }
  return out;
}

async function startCluster(t: { after(fn: () => Promise<void>): void }): Promise<TestCluster> {
  const cluster = new TestCluster({ nodes: 3, args: ['--partitions', '16', '--log-level', 'warn'] });
  t.after(() => cluster.stop());
  await cluster.start();
  return cluster;
}

test('Dynamo 4.5 durability: SIGKILL a node in the middle of a write stream (N=3, W=2): every acknowledged write survives its restart', async (t) => {
  const cluster = await startCluster(t);
  const victim = 'n3';
  const result = await runWriteStream(cluster, {
    prefix: `kill-mid-${Date.now().toString(36)}`,
    writers: [['n1'], ['n2'], ['n3'], ['n1'], ['n2'], ['n3']],
    keysPerWriter: 8,
    opsPerWriter: 70,
    victim,
    killAfterAcks: 100,
    durationMsMax: 20_000,
  });
  const acked = result.keys.reduce((n, h) => n + h.attempts.filter((a) => a.acked).length, 0);
  t.diagnostic(`acked ${acked} writes (${result.ackedAfterKill} after the kill at ${result.killedAtAcks}), ${result.ackedViaVictimBeforeKill} via the victim before it, ${result.errors} errors`);
  assert.ok(result.killedAtAcks >= 50, `the victim was killed mid-stream (after ${result.killedAtAcks} acks)`);
  assert.ok(result.ackedViaVictimBeforeKill >= 10, 'the victim coordinated acknowledged writes before it was killed');
  assert.ok(result.ackedAfterKill >= 20, `writes went on being acknowledged with the victim down (W=2 of 3): ${result.ackedAfterKill}`);

  assert.equal(cluster.isRunning(victim), false);
  // The writers through the victim stopped getting acks at the kill, and their keys are
  // their own: the victim, which committed each of those writes locally before its 204,
  // must hold the last one after its restart (SQLite WAL commits survive SIGKILL).
  const ackedByVictim = lastAckedVia(result.keys, victim);
  assert.ok(ackedByVictim.size >= 5, `${victim} acknowledged writes to ${ackedByVictim.size} keys`);
  await restartInIsolationAndCheckOwnWrites(cluster, victim, result.keys, ackedByVictim);
  for (const id of ['n1', 'n2']) assert.ok(cluster.isRunning(id), `${id} still running`);
  const checked = await checkAcknowledgedWrites(cluster, result.keys);
  assert.ok(checked >= 40, `checked ${checked} keys with acknowledged writes`);
});

test('Dynamo 4.5 durability: SIGKILL the coordinator during a write stream: the writes it acknowledged are readable with r=3 after its restart', async (t) => {
  const cluster = await startCluster(t);
  const victim = 'n1';
  // Every writer goes through n1; when n1 refuses connections they fail over to n2.
  const result = await runWriteStream(cluster, {
    prefix: `kill-coord-${Date.now().toString(36)}`,
    writers: [
      ['n1', 'n2'],
      ['n1', 'n2'],
      ['n1', 'n2'],
      ['n1', 'n2'],
    ],
    keysPerWriter: 10,
    opsPerWriter: 70,
    victim,
    killAfterAcks: 120,
    durationMsMax: 20_000,
  });
  const ackedByVictim = result.keys.reduce((n, h) => n + h.attempts.filter((a) => a.acked && a.via === victim).length, 0);
  // A 204 from the victim was sent before it died, so all of these were acknowledged before the kill.
  t.diagnostic(`${ackedByVictim} writes acknowledged by ${victim} before the kill at ${result.killedAtAcks} acks, ${result.ackedAfterKill} acknowledged by n2 after it, ${result.errors} errors`);
  assert.ok(ackedByVictim >= 50, `the coordinator acknowledged writes before it was killed: ${ackedByVictim}`);

  // The coordinator commits locally before it acknowledges, and n1 was down for every later
  // write, so after its restart n1 itself must still hold the last write it acknowledged for
  // each key (or an attempt after it that it committed just before dying).
  const lastAckedByVictim = lastAckedVia(result.keys, victim);
  t.diagnostic(`${lastAckedByVictim.size} keys with a write acknowledged by ${victim}`);
  assert.ok(lastAckedByVictim.size >= 30, `${victim} acknowledged writes to ${lastAckedByVictim.size} keys`);
  await restartInIsolationAndCheckOwnWrites(cluster, victim, result.keys, lastAckedByVictim);
  const checked = await checkAcknowledgedWrites(cluster, result.keys);
  assert.ok(checked >= 30, `checked ${checked} keys with acknowledged writes`);
});

test('CONTRACT clean shutdown: SIGTERM during a write stream exits 0 and the node comes back with every write it acknowledged', async (t) => {
  const cluster = await startCluster(t);
  const victim = 'n2';
  const result = await runWriteStream(cluster, {
    prefix: `term-${Date.now().toString(36)}`,
    writers: [['n2'], ['n2'], ['n1'], ['n3']],
    keysPerWriter: 8,
    opsPerWriter: 50,
    victim,
    killAfterAcks: 60,
    durationMsMax: 20_000,
    signal: 'SIGTERM',
  });
  assert.deepEqual(cluster.node(victim).exited, { code: 0, signal: null }, 'SIGTERM is a clean shutdown: exit code 0');
  const ackedByVictim = lastAckedVia(result.keys, victim);
  assert.ok(ackedByVictim.size >= 10, `${victim} acknowledged writes to ${ackedByVictim.size} keys before SIGTERM`);
  await restartInIsolationAndCheckOwnWrites(cluster, victim, result.keys, ackedByVictim);
  const checked = await checkAcknowledgedWrites(cluster, result.keys);
  assert.ok(checked >= 25, `checked ${checked} keys with acknowledged writes`);
});
