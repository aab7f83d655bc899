// The HTTP budget (STYLE 9: a limit on everything). A node takes on only so many client
// requests and so many request-body bytes at once (about 64 MiB, node-wide); a request past
// that gets 503 {"error": "overloaded"} straight away instead of being buffered, so a flood
// cannot grow the node without bound, nor leave it unable to serve once the flood is over.
// Nothing acknowledged is lost on the way: every PUT that got 204 reads back exactly.
//
// Two floods against one node, on raw sockets (so an early answer is seen while the body is
// still being sent, and a connection the node resets is told apart from an answer):
//   - 400 concurrent PUTs of 1 MiB: every header is sent first, then every body at once, so
//     400 MiB is announced to the node together;
//   - 200 PUTs that announce 1 MiB and then trickle their bodies, holding their place, while
//     other clients send ordinary 1 MiB PUTs; then the slow ones hang up.

import { type TestContext, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { TestCluster, rssBytes, sleep, uniqueKey } from '../helpers/cluster.js';

const mib = 1024 * 1024;
const valueBytes = mib;
/** What the node is expected to admit at once, in request-body bytes. */
const budgetBytes = 64 * mib;
/** Slack over `budgetBytes` for requests the node holds at once (accounting granularity). */
const budgetSlack = 1.5;
const floodPuts = 400;
const trickledPuts = 200;
const trickleChunkBytes = 1024;
const trickleIntervalMs = 250;
/** How long the slow requests hold their place (counted from the last of their headers). */
const trickleHoldMs = 5000;
/** Ordinary 1 MiB PUTs sent while the slow ones hold the budget. */
const putsDuringHold = 20;
/** A shed request gets its 503 within this of sending its headers: well under the 3 s quorum timeout. */
const shedPromptMs = 2000;
const rssGrowthMaxBytes = 256 * mib;
const rssSampleMs = 100;
const afterFloodSampleMs = 3000;
/** The client gives up on one request after this (it then counts as unanswered). */
const requestDeadlineMs = 30_000;
/** After a flood the node serves a 1 MiB PUT within this (in-flight work finishes, the budget is released). */
const recoverMaxMs = 5000;
const retryIntervalMs = 200;
const readBackConcurrency = 8;
const bodyChunkBytes = 64 * 1024;
const warmUpRounds = 20;
const warmUpConcurrentPuts = 16;

const target = 'n1';
/** Each test floods a cluster of its own, so one flood's leftovers (memory, replication backlog) cannot blur the next. */
let cluster: TestCluster;
const clusters: TestCluster[] = [];
async function freshCluster(t: TestContext): Promise<void> {
  cluster = new TestCluster({ nodes: 3 });
  clusters.push(cluster);
  const mine = cluster;
  t.after(() => mine.stop());
  await mine.start();
}

/** Every socket this file opened and has not seen closed. */
const openSockets = new Set<net.Socket>();
const timers = new Set<NodeJS.Timeout>();
after(async () => {
  for (const s of [...openSockets]) s.destroy();
  for (const t of timers) clearInterval(t);
  for (const c of clusters) await c.stop();
});

/** A key's value: 1 MiB made of the key itself, so every acknowledged write can be checked byte for byte. */
const valueOf = (key: string): Buffer => Buffer.alloc(valueBytes, `${key}|`);

// --- memory ---------------------------------------------------------------------------

class RssSampler {
  readonly start: number;
  max: number;
  last: number;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.start = rssBytes(pid) ?? Number.NaN;
    this.max = this.start;
    this.last = this.start;
    this.timer = setInterval(() => this.take(), rssSampleMs);
    timers.add(this.timer);
  }

  private take(): void {
    const rss = rssBytes(this.pid);
    if (rss === undefined) return;
    this.last = rss;
    this.max = Math.max(this.max, rss);
  }

  stop(): void {
    clearInterval(this.timer);
    timers.delete(this.timer);
    this.take();
  }

  get grown(): number {
    return this.max - this.start;
  }
}

// --- a raw HTTP/1.1 PUT -------------------------------------------------------------------

interface PutResult {
  readonly key: string;
  /** The HTTP status, or undefined when no answer came (then `failure` says what happened). */
  readonly status: number | undefined;
  /** The `error` field of a JSON error body. */
  readonly error: string | undefined;
  /** Ms from sending the headers to the end of the answer. */
  readonly answeredMs: number | undefined;
  /** Body bytes handed to the socket before the answer. */
  readonly bodyBytesSent: number;
  readonly failure: string | undefined;
}

interface RawPut {
  readonly key: string;
  readonly done: Promise<PutResult>;
  /** True once the headers are written. */
  headersSent(): boolean;
  /** True once an answer (or a failure) is in. */
  settled(): boolean;
  /** Hangs up (a client that goes away mid-body). */
  hangUp(): void;
}

const hungUp = 'we hung up';

/** Resolves on 'drain' or on close, whichever comes first. */
function drainedOrClosed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.once('drain', done);
    socket.once('close', done);
  });
}

/**
 * PUT /kv/{key} with Content-Length: 1 MiB. The body waits for `bodyGate`; `trickle` sends
 * it `trickleChunkBytes` at a time every `trickleIntervalMs` and never finishes it.
 */
function rawPut(port: number, key: string, opts: { bodyGate: Promise<void>; trickle: boolean }): RawPut {
  const socket = net.connect({ host: '127.0.0.1', port });
  openSockets.add(socket);
  let headersAt: number | undefined;
  let result: PutResult | undefined;
  let bodyBytesSent = 0;
  let received = Buffer.alloc(0);
  let head: { status: number; contentLength: number | undefined } | undefined;
  let resolveDone: (r: PutResult) => void = () => {};
  const done = new Promise<PutResult>((r) => (resolveDone = r));
  const settle = (status: number | undefined, body: Buffer, failure: string | undefined) => {
    if (result) return;
    let error: string | undefined;
    if (status !== undefined && body.byteLength > 0) {
      try {
        const parsed = JSON.parse(body.toString('utf8')) as unknown;
        if (typeof parsed === 'object' && parsed !== null && 'error' in parsed && typeof parsed.error === 'string') error = parsed.error;
      } catch {
        error = `not JSON: ${body.toString('utf8').slice(0, 80)}`;
      }
    }
    result = { key, status, error, answeredMs: headersAt === undefined ? undefined : Date.now() - headersAt, bodyBytesSent, failure };
    clearTimeout(deadline);
    socket.destroy();
    resolveDone(result);
  };
  const deadline = setTimeout(() => settle(undefined, Buffer.alloc(0), `no answer within ${requestDeadlineMs} ms`), requestDeadlineMs);
  socket.on('data', (c: Buffer) => {
    received = Buffer.concat([received, c]);
    if (!head) {
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = received.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 'NaN');
      const cl = lines.find((l) => /^content-length:/i.test(l));
      head = { status, contentLength: cl === undefined ? undefined : Number(cl.slice(cl.indexOf(':') + 1).trim()) };
      received = received.subarray(end + 4);
    }
    const bodyless = head.status === 204 || head.status === 304 || (head.status >= 100 && head.status < 200);
    if (bodyless) settle(head.status, Buffer.alloc(0), undefined);
    else if (head.contentLength !== undefined && received.byteLength >= head.contentLength) settle(head.status, received.subarray(0, head.contentLength), undefined);
  });
  socket.on('error', (e: NodeJS.ErrnoException) => settle(undefined, Buffer.alloc(0), e.code ?? e.message));
  socket.once('close', () => {
    openSockets.delete(socket);
    // An answer without Content-Length ends with the connection.
    if (head && head.contentLength === undefined) settle(head.status, received, undefined);
    else settle(undefined, Buffer.alloc(0), head ? 'closed in the middle of the answer' : 'closed without an answer');
  });
  socket.once('connect', () => {
    const headers = [`PUT /kv/${key} HTTP/1.1`, 'host: 127.0.0.1', `authorization: Bearer ${cluster.token}`, 'content-type: application/octet-stream', `content-length: ${valueBytes}`, 'connection: close', '', ''].join('\r\n');
    socket.write(headers);
    headersAt = Date.now();
    void (async () => {
      await opts.bodyGate;
      const value = valueOf(key);
      if (opts.trickle) {
        const timer = setInterval(() => {
          if (result || socket.destroyed || bodyBytesSent + trickleChunkBytes >= valueBytes) return;
          socket.write(value.subarray(bodyBytesSent, bodyBytesSent + trickleChunkBytes));
          bodyBytesSent += trickleChunkBytes;
        }, trickleIntervalMs);
        timers.add(timer);
        void done.then(() => {
          clearInterval(timer);
          timers.delete(timer);
        });
        return;
      }
      while (bodyBytesSent < valueBytes && !result && !socket.destroyed) {
        const chunk = value.subarray(bodyBytesSent, bodyBytesSent + bodyChunkBytes);
        bodyBytesSent += chunk.byteLength;
        if (!socket.write(chunk)) await drainedOrClosed(socket);
      }
    })();
  });
  return {
    key,
    done,
    headersSent: () => headersAt !== undefined,
    settled: () => result !== undefined,
    hangUp: () => settle(undefined, Buffer.alloc(0), hungUp),
  };
}

/** Waits (bounded) until `cond` holds; false if it never did. */
async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  for (let i = 0; i < Math.ceil(timeoutMs / retryIntervalMs) && !cond(); i++) await sleep(retryIntervalMs);
  return cond();
}

// --- checks ---------------------------------------------------------------------------------

const fmtMiB = (bytes: number): string => `${(bytes / mib).toFixed(0)} MiB`;

function tally(results: readonly PutResult[]): string {
  const counts = new Map<string, number>();
  for (const r of results) {
    const k = r.status === undefined ? `no answer (${r.failure})` : `${r.status}${r.error ? ` ${r.error}` : ''}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n} x ${k}`).join(', ');
}

function timing(results: readonly PutResult[]): string {
  const ms = results.map((r) => r.answeredMs ?? Number.NaN).filter((m) => !Number.isNaN(m)).sort((a, b) => a - b);
  if (ms.length === 0) return 'none';
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!;
  return `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${ms[ms.length - 1]} ms`;
}

const isShed = (r: PutResult): boolean => r.status === 503 && r.error === 'overloaded';

/** A 1 MiB PUT and its read-back through `node`, retried on 503 until `recoverMaxMs`: undefined once both worked. */
async function servesNormally(node: string): Promise<string | undefined> {
  const deadline = Date.now() + recoverMaxMs;
  let why: string | undefined = 'not tried';
  while (why !== undefined) {
    const key = uniqueKey('after-flood');
    try {
      const put = await cluster.put(node, key, valueOf(key), { contentType: 'application/octet-stream', timeoutMs: recoverMaxMs });
      if (put.status !== 204) why = `PUT ${put.status} ${put.body.toString('utf8').slice(0, 120)}`;
      else {
        const get = await cluster.get(node, key);
        why = get.status !== 200 ? `GET ${get.status} ${get.body.toString('utf8').slice(0, 120)}` : get.body.equals(valueOf(key)) ? undefined : 'GET returned another value';
      }
    } catch (e) {
      why = (e as Error).message.split('\n')[0];
    }
    if (why === undefined || Date.now() >= deadline) break;
    await sleep(retryIntervalMs);
  }
  return why;
}

/** Reads back every key that got 204: the keys whose value is missing or wrong. */
async function unreadable(node: string, keys: readonly string[]): Promise<string[]> {
  const bad: string[] = [];
  let next = 0;
  const lane = async () => {
    while (next < keys.length) {
      const key = keys[next++]!;
      let res = await cluster.get(node, key);
      for (let i = 0; i < 5 && res.status === 503; i++) {
        await sleep(retryIntervalMs);
        res = await cluster.get(node, key);
      }
      if (res.status !== 200 || !res.body.equals(valueOf(key))) bad.push(`${key}: ${res.status}${res.status === 200 ? ' (another value)' : ''}`);
    }
  };
  await Promise.all(Array.from({ length: readBackConcurrency }, lane));
  return bad;
}

/**
 * Ordinary traffic before the baseline is taken: one-at-a-time PUTs and GETs, then a round
 * of a few concurrent ones, so the baseline includes the allocator's working set for normal
 * concurrent load (measured on this code: the first round of 64 concurrent 1 MiB PUTs grows
 * a node that has only seen sequential ones by 100-240 MiB, and the next such round by <50).
 */
async function warmUp(): Promise<void> {
  const putOne = async () => {
    const key = uniqueKey('warm');
    const put = await cluster.put(target, key, valueOf(key), { contentType: 'application/octet-stream' });
    assert.equal(put.status, 204, `warm-up PUT: ${put.status} ${put.body.toString('utf8')}`);
    assert.equal((await cluster.get(target, key)).status, 200);
  };
  for (let i = 0; i < warmUpRounds; i++) await putOne();
  await Promise.all(Array.from({ length: warmUpConcurrentPuts }, putOne));
}

test('A flood of 400 concurrent 1 MiB PUTs past the HTTP budget sheds prompt 503s, memory stays bounded, every 204 reads back exactly, and the node serves normally afterwards', async (t) => {
  if (!existsSync('/proc/self/status')) {
    t.skip('needs /proc to read the resident memory of the node');
    return;
  }
  await freshCluster(t);
  const pid = cluster.pid(target);
  await warmUp();
  const rss = new RssSampler(pid);
  const started = Date.now();
  let openBodies: () => void = () => {};
  const bodyGate = new Promise<void>((r) => (openBodies = r));
  const port = cluster.node(target).port;
  const puts = Array.from({ length: floodPuts }, () => rawPut(port, uniqueKey('flood'), { bodyGate, trickle: false }));
  // Every header first: the node is told of 400 MiB at once, however fast it works.
  const allHeaders = await until(() => puts.every((p) => p.headersSent() || p.settled()), 10_000);
  openBodies();
  const results = await Promise.all(puts.map((p) => p.done));
  const floodMs = Date.now() - started;
  await sleep(afterFloodSampleMs);
  rss.stop();
  const alive = cluster.isRunning(target);
  const afterwards = alive ? await servesNormally(target) : 'the node is not running';
  const acked = results.filter((r) => r.status === 204).map((r) => r.key);
  const lost = alive ? await unreadable(target, acked) : acked;

  const shed = results.filter(isShed);
  const slowSheds = shed.filter((r) => (r.answeredMs ?? Infinity) > shedPromptMs);
  const unexpected = results.filter((r) => r.status !== 204 && !isShed(r));
  const summary = [
    `${floodPuts} PUTs of ${fmtMiB(valueBytes)}${allHeaders ? '' : ' (not every header was sent within 10 s)'} answered in ${floodMs} ms: ${tally(results)}`,
    `answer times: 204 ${timing(results.filter((r) => r.status === 204))}; 503 overloaded ${timing(shed)}; others ${timing(unexpected)}`,
    `node RSS: start ${fmtMiB(rss.start)}, max ${fmtMiB(rss.max)} (+${fmtMiB(rss.grown)}), end ${fmtMiB(rss.last)}`,
    `after the flood: node ${alive ? 'alive' : 'NOT running'}, 1 MiB PUT + GET: ${afterwards ?? 'ok'}; ${acked.length - lost.length} of ${acked.length} acknowledged values read back exactly`,
  ].join('\n  ');
  t.diagnostic(summary);

  assert.ok(alive, `the node died\n  ${summary}\n${cluster.logTail(target, 40)}`);
  assert.ok(rss.grown <= rssGrowthMaxBytes, `the node's RSS grew by ${fmtMiB(rss.grown)} (limit ${fmtMiB(rssGrowthMaxBytes)})\n  ${summary}`);
  assert.ok(shed.length > 0, `no PUT was shed with 503 overloaded although ${fmtMiB(floodPuts * valueBytes)} was announced at once (budget ${fmtMiB(budgetBytes)})\n  ${summary}`);
  assert.ok(acked.length > 0, `no PUT was admitted\n  ${summary}`);
  assert.equal(unexpected.length, 0, `every PUT gets 204 or 503 overloaded, none another status, a reset or no answer\n  ${summary}`);
  assert.equal(slowSheds.length, 0, `${slowSheds.length} 503s came later than ${shedPromptMs} ms after their headers\n  ${summary}`);
  assert.equal(afterwards, undefined, `after the flood the node serves a 1 MiB PUT and GET within ${recoverMaxMs} ms\n  ${summary}`);
  assert.deepEqual(lost, [], `every PUT that got 204 reads back with its exact value\n  ${summary}`);
});

test('200 PUTs that announce 1 MiB and trickle their bodies hold at most the budget; others get prompt answers meanwhile; once they hang up the node serves normally', async (t) => {
  if (!existsSync('/proc/self/status')) {
    t.skip('needs /proc to read the resident memory of the node');
    return;
  }
  await freshCluster(t);
  const pid = cluster.pid(target);
  await warmUp();
  const rss = new RssSampler(pid);
  const port = cluster.node(target).port;
  const slow = Array.from({ length: trickledPuts }, () => rawPut(port, uniqueKey('trickle'), { bodyGate: Promise.resolve(), trickle: true }));
  const allHeaders = await until(() => slow.every((p) => p.headersSent() || p.settled()), 10_000);
  const holdStarted = Date.now();
  // Past `shedPromptMs` every slow request the node will not hold has had its 503.
  await until(() => Date.now() - holdStarted >= shedPromptMs, shedPromptMs + 1000);
  const others = Array.from({ length: putsDuringHold }, () => rawPut(port, uniqueKey('during-hold'), { bodyGate: Promise.resolve(), trickle: false }));
  const otherResults = await Promise.all(others.map((p) => p.done));
  await until(() => Date.now() - holdStarted >= trickleHoldMs, trickleHoldMs + 1000);
  const held = slow.filter((p) => !p.settled());
  const heldCount = held.length;
  for (const p of held) p.hangUp();
  const slowResults = await Promise.all(slow.map((p) => p.done));
  const answeredSlow = slowResults.filter((r) => r.failure !== hungUp);
  const afterwards = cluster.isRunning(target) ? await servesNormally(target) : 'the node is not running';
  rss.stop();
  const acked = otherResults.filter((r) => r.status === 204).map((r) => r.key);
  const lost = cluster.isRunning(target) ? await unreadable(target, acked) : acked;

  const admittedMax = Math.ceil((budgetBytes * budgetSlack) / valueBytes);
  // Every slow request we did not hang up on ourselves was answered by the node: with a prompt 503.
  const slowWrong = slowResults.filter((r) => r.failure !== hungUp && !(isShed(r) && (r.answeredMs ?? Infinity) <= shedPromptMs));
  const othersWrong = otherResults.filter((r) => !(r.status === 204 || (isShed(r) && (r.answeredMs ?? Infinity) <= shedPromptMs)));
  const summary = [
    `${trickledPuts} slow PUTs${allHeaders ? '' : ' (not every header was sent within 10 s)'}: ${heldCount} still held by the node after ${trickleHoldMs} ms (limit ${admittedMax}); answered by the node: ${answeredSlow.length > 0 ? tally(answeredSlow) : 'none'} (${timing(answeredSlow)})`,
    `${putsDuringHold} ordinary PUTs meanwhile: ${tally(otherResults)} (${timing(otherResults)})`,
    `node RSS: start ${fmtMiB(rss.start)}, max ${fmtMiB(rss.max)} (+${fmtMiB(rss.grown)}), end ${fmtMiB(rss.last)}`,
    `after the slow clients hung up: 1 MiB PUT + GET: ${afterwards ?? 'ok'}; ${acked.length - lost.length} of ${acked.length} acknowledged values read back exactly`,
  ].join('\n  ');
  t.diagnostic(summary);

  assert.ok(cluster.isRunning(target), `the node died\n  ${summary}\n${cluster.logTail(target, 40)}`);
  assert.ok(heldCount <= admittedMax, `the node held ${heldCount} slow 1 MiB requests at once (${fmtMiB(heldCount * valueBytes)} announced; budget ${fmtMiB(budgetBytes)})\n  ${summary}`);
  assert.equal(slowWrong.length, 0, `a slow request the node does not hold gets 503 overloaded within ${shedPromptMs} ms: ${tally(slowWrong)}\n  ${summary}`);
  assert.equal(othersWrong.length, 0, `while the budget is held, other PUTs get 204 or a prompt 503 overloaded: ${tally(othersWrong)}\n  ${summary}`);
  assert.ok(rss.grown <= rssGrowthMaxBytes, `the node's RSS grew by ${fmtMiB(rss.grown)} (limit ${fmtMiB(rssGrowthMaxBytes)})\n  ${summary}`);
  assert.equal(afterwards, undefined, `once the slow clients are gone the budget is free again: a 1 MiB PUT and GET within ${recoverMaxMs} ms\n  ${summary}`);
  assert.deepEqual(lost, [], `every PUT that got 204 reads back with its exact value\n  ${summary}`);
});
