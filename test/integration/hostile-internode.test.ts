// Bounded before authenticated (STYLE 9: a limit on everything). Whoever can reach a node's
// internode port, token or not, may spend only a small, fixed share of the node's memory, and
// only for a few seconds: until a connection has proved it holds the cluster token (the
// handshake, net/handshake.ts), the node owes it nothing but its challenge. Found: a frame
// header announcing 63 MiB (under the 64 MiB frame limit), sent before any hello, made the
// node buffer that frame for every such connection; 1,000 of them grew it by more than 1 GB.
//
// One attack of 1,000 connections mixing six kinds of pre-authentication abuse, at most
// `openAtOnceMax` open at a time (so this process stays inside its file-descriptor limit),
// checks four things about the attacked node: its resident memory (VmRSS, sampled every
// 100 ms during the attack and for 3 s after) stays within 64 MiB of where it started; it
// stays alive; it closes every hostile connection itself, none later than a few seconds after
// it opened; and it keeps serving (PUT w=3 and GET r=3 through it, during and after, which
// needs its authenticated peer connections, and a fresh peer that proves the token gets
// its request answered). It also checks that the node sends a hostile connection nothing but
// its challenge.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { type HttpResponse, TestCluster, rssBytes, sleep, uniqueKey } from '../helpers/cluster.js';
import { connectForChallenge, decodeFrames, dialedAddress, frameKind, helloFor, helloWithWrongProof, hostPort, nonceBytes, packed, parseChallenge, welcomeProblem } from '../helpers/internode.js';

const hostileConnections = 1000;
/** Hostile sockets open at once: a new one starts when one closes. */
const openAtOnceMax = 250;
/** What kinds (a) and (c) announce: under the 64 MiB frame limit, so only a pre-auth bound stops it. */
const bigFrameBytes = 63 * 1024 * 1024;
const floodChunkBytes = 64 * 1024;
/** How long kinds (a) and (c) keep writing (as fast as the socket takes it; never past a full buffer). */
const floodMs = 1000;
/** The length kind (b) announces: a plausible hello. */
const trickleFrameBytes = 64;
const trickleIntervalMs = 100;
const garbageBytes = 4096;
/** The longest a connection that never authenticated may stay open before the node closes it. */
const preAuthLifetimeMaxMs = 8000;
/** Past this we close a hostile socket ourselves, and it counts as one the node kept open. */
const holdMaxMs = preAuthLifetimeMaxMs + 2000;
/** Every hostile connection must be refused or started within this (the attack is not stuck). */
const attackMaxMs = 30_000;
const rssSampleMs = 100;
const afterAttackSampleMs = 3000;
const rssGrowthMaxBytes = 64 * 1024 * 1024;
/** Past this growth the attack is called off, to spare the machine; the test then fails on memory. */
const rssAbortGrowthBytes = 3 * 1024 * 1024 * 1024;
const warmUpRounds = 30;
const warmUpValueBytes = 64 * 1024;
const probeTimeoutMs = 5000;
const probeIntervalMs = 250;
const peerReplyWaitMs = 3000;
/** How long after the attack the authenticated-peer check may keep retrying. */
const peerRetryAfterAttackMs = 5000;
const serveRetryMs = 10_000;
const mib = 1024 * 1024;

const cluster = new TestCluster({ nodes: 3 });
const target = 'n1';
before(() => cluster.start());

/** Every socket this file opened and not yet seen closed, with how to close it as ours. */
const openSockets = new Map<net.Socket, () => void>();
const timers = new Set<NodeJS.Timeout>();
after(async () => {
  for (const abort of [...openSockets.values()]) abort();
  for (const t of timers) clearInterval(t);
  await cluster.stop();
});

// --- the internode wire format (tcp-transport.ts, test/helpers/internode.ts) ---------------

/** A frame header alone: [u32 big-endian length]. */
const frameHead = (length: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(length);
  return b;
};

// --- memory ---------------------------------------------------------------------------

/** The resident set of a process in bytes, or undefined once it is gone. */
class RssSampler {
  max = 0;
  maxAtMs = 0;
  last = 0;
  samples = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly started = Date.now();

  constructor(
    private readonly pid: number,
    private readonly onSample: (rss: number) => void,
  ) {
    this.take();
    this.timer = setInterval(() => this.take(), rssSampleMs);
    timers.add(this.timer);
  }

  private take(): void {
    const rss = rssBytes(this.pid);
    if (rss === undefined) return;
    this.samples++;
    this.last = rss;
    if (rss > this.max) {
      this.max = rss;
      this.maxAtMs = Date.now() - this.started;
    }
    this.onSample(rss);
  }

  stop(): void {
    clearInterval(this.timer);
    timers.delete(this.timer);
    this.take();
  }
}

// --- hostile connections ----------------------------------------------------------------

interface Outcome {
  readonly kind: string;
  readonly connected: boolean;
  /** The node closed it (or reset it), not us. */
  readonly closedByNode: boolean;
  /** From connect (or from the attempt, when it never connected) to close. */
  readonly lifetimeMs: number;
  readonly bytesSent: number;
  /** Bytes the node sent after its challenge (it owes a stranger nothing more). */
  readonly bytesAfterChallenge: number;
  readonly error: string | undefined;
}

const floodChunk = Buffer.alloc(floodChunkBytes, 0x41);

/** Resolves on 'drain', on close, or at `untilMs`, whichever comes first. */
function drainedOrClosed(socket: net.Socket, untilMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    const t = setTimeout(done, Math.max(0, untilMs - Date.now()));
    socket.once('drain', done);
    socket.once('close', done);
  });
}

/** `first`, then as many 64 KiB chunks as the socket accepts for `floodMs`; never writes into a full buffer. */
async function flood(socket: net.Socket, first: Buffer): Promise<void> {
  const until = Date.now() + floodMs;
  if (!socket.write(first)) await drainedOrClosed(socket, until);
  while (Date.now() < until && !socket.destroyed) {
    if (socket.write(floodChunk)) await new Promise<void>((r) => setImmediate(r));
    else await drainedOrClosed(socket, until);
  }
}

function trickle(socket: net.Socket): void {
  socket.write(frameHead(trickleFrameBytes));
  const timer = setInterval(() => {
    if (socket.destroyed) return;
    socket.write(randomBytes(1));
  }, trickleIntervalMs);
  timers.add(timer);
  socket.once('close', () => {
    clearInterval(timer);
    timers.delete(timer);
  });
}

/**
 * The kinds of abuse. `challenge` resolves with the node's challenge nonce (undefined if the
 * connection closed first): the kinds that send a hello answer it; the others write at once,
 * without waiting for it, as a flood would.
 */
const kinds: readonly { readonly name: string; readonly run: (socket: net.Socket, challenge: Promise<Buffer | undefined>) => unknown }[] = [
  { name: '(a) a 63 MiB frame header, then 1 s of bytes', run: (s) => flood(s, frameHead(bigFrameBytes)) },
  { name: '(b) a 4-byte header, then 1 byte every 100 ms', run: (s) => trickle(s) },
  {
    name: '(c) a hello proving a wrong token, then a 63 MiB frame',
    run: async (s, challenge) => {
      const nonce = await challenge;
      if (nonce !== undefined && !s.destroyed) await flood(s, Buffer.concat([helloWithWrongProof('hostile-c', nonce, dialedAddress(s)), frameHead(bigFrameBytes)]));
    },
  },
  // Well formed in every field, its proof of the right length (so the comparison itself
  // runs), then bytes that are no frame.
  {
    name: '(d) a well-formed hello proving a wrong token, then garbage',
    run: async (s, challenge) => {
      const nonce = await challenge;
      if (nonce !== undefined && !s.destroyed) s.write(Buffer.concat([helloWithWrongProof('hostile-d', nonce, dialedAddress(s), randomBytes(16).toString('hex')), randomBytes(garbageBytes)]));
    },
  },
  { name: '(e) random garbage', run: (s) => s.write(randomBytes(garbageBytes)) },
  { name: '(f) connect and send nothing', run: () => undefined },
];

let connectedSoFar = 0;

function hostile(address: string, kind: (typeof kinds)[number]): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = Date.now();
    let connectedAt: number | undefined;
    let closedByUs = false;
    let error: string | undefined;
    const socket = net.connect(hostPort(address));
    const closeAsOurs = () => {
      closedByUs = true;
      socket.destroy();
    };
    openSockets.set(socket, closeAsOurs);
    const hold = setTimeout(closeAsOurs, holdMaxMs);
    // Read whatever the node says: its challenge, and nothing after it.
    let received: Buffer | undefined = Buffer.alloc(0);
    let afterChallenge = 0;
    let challenged: (nonce: Buffer | undefined) => void = () => {};
    const challenge = new Promise<Buffer | undefined>((r) => (challenged = r));
    socket.on('data', (d: Buffer) => {
      if (received === undefined) {
        afterChallenge += d.byteLength;
        return;
      }
      received = Buffer.concat([received, d]);
      let got: ReturnType<typeof parseChallenge>;
      try {
        got = parseChallenge(received);
      } catch (e) {
        // Not a challenge: all of it counts as said to a stranger beyond the challenge.
        error ??= (e as Error).message;
        afterChallenge += received.byteLength;
        received = undefined;
        challenged(undefined);
        return;
      }
      if (got === undefined) return;
      received = undefined;
      afterChallenge += got.rest.byteLength;
      challenged(got.nonce);
    });
    socket.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
    socket.once('connect', () => {
      connectedAt = Date.now();
      connectedSoFar++;
      void kind.run(socket, challenge);
    });
    socket.once('close', () => {
      clearTimeout(hold);
      openSockets.delete(socket);
      challenged(undefined);
      resolve({ kind: kind.name, connected: connectedAt !== undefined, closedByNode: !closedByUs, lifetimeMs: Date.now() - (connectedAt ?? started), bytesSent: socket.bytesWritten, bytesAfterChallenge: afterChallenge, error });
    });
  });
}

/** All hostile connections, at most `openAtOnceMax` open at once, in kind order round-robin. */
async function attack(address: string, stopped: () => boolean): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let next = 0;
  const lane = async () => {
    while (next < hostileConnections && !stopped()) {
      const i = next++;
      outcomes.push(await hostile(address, kinds[i % kinds.length]!));
    }
  };
  await Promise.all(Array.from({ length: openAtOnceMax }, lane));
  return outcomes;
}

/**
 * A fresh peer that proves the cluster token (the handshake: the node's challenge, our hello,
 * the node's welcome, checked) and sends one request: undefined once the node answered it (a
 * reply or a failure frame; the request bodies are internal), else why not.
 */
function authenticatedPeerAnswers(address: string, key: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect(hostPort(address));
    let received: Buffer = Buffer.alloc(0);
    let outcome: string | undefined;
    const finish = (why: string | undefined) => {
      outcome ??= why;
      socket.destroy();
    };
    openSockets.set(socket, () => finish('closed by the test'));
    const timer = setTimeout(() => finish(`no answer within ${peerReplyWaitMs} ms`), peerReplyWaitMs);
    const dialerId = 'token-holder';
    const dialerNonce = randomBytes(nonceBytes);
    let stage: 'challenge' | 'welcome' | 'reply' = 'challenge';
    let listenerNonce: Buffer = Buffer.alloc(0);
    const onFrame = (msg: unknown): string | undefined => {
      if (stage === 'challenge') {
        if (!Array.isArray(msg) || msg[0] !== frameKind.challenge || !(msg[2] instanceof Uint8Array)) return `the node's first frame is no challenge: ${JSON.stringify(msg).slice(0, 200)}`;
        listenerNonce = Buffer.from(msg[2]);
        // The request right behind the hello: the node reads them in order.
        socket.write(Buffer.concat([helloFor(cluster.token, dialerId, listenerNonce, dialedAddress(socket), { dialerNonce }), packed([frameKind.request, 1, ['read', Buffer.from(key)]])]));
        stage = 'welcome';
        return undefined;
      }
      if (stage === 'welcome') {
        stage = 'reply';
        const problem = welcomeProblem(msg, cluster.token, listenerNonce, dialerNonce, dialerId, dialedAddress(socket), target);
        return problem === undefined ? undefined : `the node's welcome: ${problem}`;
      }
      return Array.isArray(msg) && (msg[0] === frameKind.reply || msg[0] === frameKind.failure) && msg[1] === 1 ? '' : undefined;
    };
    socket.on('data', (c: Buffer) => {
      received = Buffer.concat([received, c]);
      let decoded: ReturnType<typeof decodeFrames>;
      try {
        decoded = decodeFrames(received);
      } catch {
        return finish('an undecodable frame from the node');
      }
      received = decoded.rest;
      for (const msg of decoded.frames) {
        const why = onFrame(msg);
        if (why !== undefined) return finish(why);
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => finish(`error ${e.code ?? e.message}`));
    socket.once('close', () => {
      clearTimeout(timer);
      openSockets.delete(socket);
      outcome ??= 'closed by the node before answering';
      resolve(outcome === '' ? undefined : outcome);
    });
  });
}

// --- the cluster serving ------------------------------------------------------------------

/** One PUT w=3 and GET r=3 through `node`: undefined when both worked, else what went wrong. */
async function putGetAllReplicas(node: string, timeoutMs: number): Promise<string | undefined> {
  const key = uniqueKey('hostile-probe');
  const value = `written during ${key}`;
  const describe = (what: string, res: HttpResponse) => `${what} ${res.status} ${res.body.toString('utf8').slice(0, 120)}`;
  try {
    const put = await cluster.put(node, key, value, { query: 'w=3', timeoutMs });
    if (put.status !== 204) return describe('PUT w=3', put);
    const get = await cluster.request(node, 'GET', `/kv/${key}?r=3`, { timeoutMs });
    if (get.status !== 200) return describe('GET r=3', get);
    if (get.body.toString('utf8') !== value) return `GET r=3 returned ${JSON.stringify(get.body.toString('utf8').slice(0, 80))}`;
    return undefined;
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
}

/** PUT w=3 + GET r=3 through `node`, retried for a while: a briefly suspected peer is not the point. */
async function servesAllReplicas(node: string): Promise<string | undefined> {
  const deadline = Date.now() + serveRetryMs;
  let why = await putGetAllReplicas(node, probeTimeoutMs);
  while (why !== undefined && Date.now() < deadline) {
    await sleep(500);
    why = await putGetAllReplicas(node, probeTimeoutMs);
  }
  return why;
}

const fmtMiB = (bytes: number): string => `${(bytes / mib).toFixed(0)} MiB`;

test('Bounded before authenticated: 1,000 hostile pre-auth connections to the internode port cost the node < 64 MiB, are all closed by it within seconds, and the cluster keeps serving', async (t) => {
  const pid = cluster.pid(target);
  if (!existsSync(`/proc/${pid}/status`)) {
    t.skip('needs /proc to read the resident memory of the node');
    return;
  }
  const address = (await cluster.status(target)).listeners.internode;

  // Warm-up: the node's normal working set (connections to its peers, SQLite pages, the JIT)
  // is in place before the baseline is taken.
  for (let i = 0; i < warmUpRounds; i++) {
    const key = uniqueKey('warm');
    const put = await cluster.put(target, key, randomBytes(warmUpValueBytes), { query: 'w=3' });
    assert.equal(put.status, 204, `warm-up PUT: ${put.status} ${put.body.toString('utf8')}`);
    assert.equal((await cluster.get(target, key, 'r=3')).status, 200);
  }
  const rssStart = rssBytes(pid);
  assert.ok(rssStart !== undefined, 'the node is running');

  let aborted = false;
  const sampler = new RssSampler(pid, (rss) => {
    if (rss - rssStart <= rssAbortGrowthBytes || aborted) return;
    aborted = true;
    for (const abort of [...openSockets.values()]) abort();
  });

  const attackStarted = Date.now();
  let attackEnded: number | undefined;
  const attackTimer = setTimeout(() => (aborted = true), attackMaxMs);
  const attacking = attack(address, () => aborted).finally(() => {
    attackEnded = Date.now();
    clearTimeout(attackTimer);
  });

  // During the attack: the cluster keeps serving through the attacked node...
  const probes: { atMs: number; ok: boolean; why: string | undefined }[] = [];
  const probing = (async () => {
    while (attackEnded === undefined) {
      const atMs = Date.now() - attackStarted;
      const why = await putGetAllReplicas(target, probeTimeoutMs);
      probes.push({ atMs, ok: why === undefined, why });
      if (attackEnded === undefined) await sleep(probeIntervalMs);
    }
  })();
  // ...and a fresh peer with the right token is served while the hostile ones are open.
  const peerKey = uniqueKey('peer-read');
  let peerAnsweredAtMs: number | undefined;
  let peerLastFailure: string | undefined;
  let peerAttempts = 0;
  const peering = (async () => {
    for (let i = 0; i < attackMaxMs / rssSampleMs && connectedSoFar < openAtOnceMax && attackEnded === undefined; i++) await sleep(rssSampleMs);
    while (peerAnsweredAtMs === undefined && (attackEnded === undefined || Date.now() < attackEnded + peerRetryAfterAttackMs)) {
      peerAttempts++;
      const why = await authenticatedPeerAnswers(address, peerKey);
      if (why === undefined) peerAnsweredAtMs = Date.now() - attackStarted;
      else {
        peerLastFailure = why;
        await sleep(probeIntervalMs);
      }
    }
  })();

  const outcomes = await attacking;
  const attackMs = attackEnded! - attackStarted;
  await Promise.all([probing, peering]);
  // Memory held on to after the sockets are gone counts too.
  await sleep(afterAttackSampleMs);
  sampler.stop();
  const alive = cluster.isRunning(target);
  const servesAfter = alive ? await servesAllReplicas(target) : 'the node is not running';

  const perKind = kinds.map((k) => {
    const of = outcomes.filter((o) => o.kind === k.name);
    const errors = [...new Set(of.map((o) => o.error).filter((e) => e !== undefined))];
    return `${k.name}: ${of.length} run, ${of.filter((o) => o.connected).length} connected, ${of.filter((o) => o.closedByNode).length} closed by the node, lifetime max ${Math.max(0, ...of.map((o) => o.lifetimeMs))} ms, sent ${fmtMiB(of.reduce((s, o) => s + o.bytesSent, 0))}, received after the challenge ${of.reduce((s, o) => s + o.bytesAfterChallenge, 0)} bytes${errors.length > 0 ? `, errors ${errors.join('/')}` : ''}`;
  });
  const okProbes = probes.filter((p) => p.ok);
  const summary = [
    `attack: ${outcomes.length} of ${hostileConnections} connections in ${attackMs} ms${aborted ? ' (called off early: memory or time guard)' : ''}`,
    `node RSS: start ${fmtMiB(rssStart)}, max ${fmtMiB(sampler.max)} (+${fmtMiB(sampler.max - rssStart)}) at ${sampler.maxAtMs} ms, end ${fmtMiB(sampler.last)}, ${sampler.samples} samples`,
    `probes during the attack (PUT w=3 + GET r=3): ${okProbes.length} of ${probes.length} ok${probes.length > okProbes.length ? `; failures: ${[...new Set(probes.filter((p) => !p.ok).map((p) => p.why))].slice(0, 3).join(' | ')}` : ''}`,
    `authenticated peer: ${peerAnsweredAtMs !== undefined ? `answered at ${peerAnsweredAtMs} ms (${attackEnded !== undefined && peerAnsweredAtMs + attackStarted <= attackEnded ? 'during' : 'after'} the attack)` : `never answered`} after ${peerAttempts} attempt(s)${peerLastFailure ? `; last failure: ${peerLastFailure}` : ''}`,
    `after the attack: node ${alive ? 'alive' : 'NOT running'}, serving: ${servesAfter ?? 'ok'}`,
    ...perKind,
  ].join('\n  ');
  t.diagnostic(summary);

  assert.ok(alive, `the attacked node died\n  ${summary}\n${cluster.logTail(target, 40)}`);
  assert.ok(sampler.max - rssStart <= rssGrowthMaxBytes, `the node's RSS grew by ${fmtMiB(sampler.max - rssStart)} (limit ${fmtMiB(rssGrowthMaxBytes)})\n  ${summary}`);
  assert.equal(outcomes.length, hostileConnections, `every hostile connection was tried\n  ${summary}`);
  const keptOpen = outcomes.filter((o) => !o.closedByNode);
  assert.equal(keptOpen.length, 0, `${keptOpen.length} hostile connections were still open after ${holdMaxMs} ms (we closed them)\n  ${summary}`);
  const answered = outcomes.filter((o) => o.bytesAfterChallenge > 0);
  assert.equal(answered.length, 0, `the node sent ${answered.length} hostile connections more than its challenge (a welcome or a reply to a hello that proved nothing)\n  ${summary}`);
  const longest = Math.max(...outcomes.map((o) => o.lifetimeMs));
  assert.ok(longest <= preAuthLifetimeMaxMs, `a connection that never authenticated lived ${longest} ms (limit ${preAuthLifetimeMaxMs})\n  ${summary}`);
  assert.ok(okProbes.length > 0, `no PUT w=3 + GET r=3 through ${target} succeeded during the attack\n  ${summary}`);
  assert.equal(servesAfter, undefined, `after the attack, PUT w=3 + GET r=3 through ${target}\n  ${summary}`);
  assert.ok(peerAnsweredAtMs !== undefined, `a peer presenting the cluster token was never answered\n  ${summary}`);
});

// --- a stranger on a member's old address ----------------------------------------------------

/** What a fake listener saw: every byte, and the frames of each connection. */
interface FakeListener {
  readonly bytes: () => Buffer;
  readonly connections: { frames: unknown[]; undecodable: boolean }[];
  /** Dialer ids of the hellos received, in order. */
  readonly hellosFrom: string[];
  close(): Promise<void>;
}

/**
 * A plain TCP server on `address` that plays a Gyre listener as far as a stranger can: it sends
 * a valid-looking challenge (a fresh 32-byte nonce), and answers a hello with a welcome whose
 * proof it cannot make (32 random bytes, under `claimedId`). It records everything it receives.
 */
async function fakeListener(address: string, claimedId: string): Promise<FakeListener> {
  const chunks: Buffer[] = [];
  const connections: FakeListener['connections'] = [];
  const hellosFrom: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const conn = { frames: [] as unknown[], undecodable: false };
    connections.push(conn);
    let pending: Buffer = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.write(packed([frameKind.challenge, 2, randomBytes(nonceBytes)]));
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      if (conn.undecodable) return;
      pending = Buffer.concat([pending, d]);
      let decoded: ReturnType<typeof decodeFrames>;
      try {
        decoded = decodeFrames(pending);
      } catch {
        conn.undecodable = true;
        return;
      }
      pending = decoded.rest;
      for (const msg of decoded.frames) {
        conn.frames.push(msg);
        if (Array.isArray(msg) && msg[0] === frameKind.hello) {
          hellosFrom.push(String(msg[2]));
          socket.write(packed([frameKind.welcome, claimedId, randomBytes(32)]));
        }
      }
    });
  });
  const { host, port } = hostPort(address);
  // The dead node's port is free at once (its listening socket died with it); retried in case.
  for (let attempt = 0; ; attempt++) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw e;
      await sleep(250);
    }
  }
  return {
    bytes: () => Buffer.concat(chunks),
    connections,
    hellosFrom,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** PUT w=2 through `writer`, GET r=2 through `reader` (503s retried): undefined when both worked. */
async function servesWithoutVictim(writer: string, reader: string): Promise<string | undefined> {
  const key = uniqueKey('without-victim');
  const value = `written while a stranger held ${key}'s old port`;
  const deadline = Date.now() + serveRetryMs;
  for (;;) {
    const put = await cluster.put(writer, key, value, { query: 'w=2', timeoutMs: probeTimeoutMs }).catch((e: Error) => e);
    const get = put instanceof Error || put.status !== 204 ? undefined : await cluster.request(reader, 'GET', `/kv/${key}?r=2`, { timeoutMs: probeTimeoutMs }).catch((e: Error) => e);
    const why = put instanceof Error ? put.message : put.status !== 204 ? `PUT w=2 ${put.status}` : get instanceof Error ? get.message : get!.status !== 200 ? `GET r=2 ${get!.status}` : get!.body.toString('utf8') !== value ? 'GET r=2 returned another value' : undefined;
    if (why === undefined || Date.now() > deadline) return why;
    await sleep(500);
  }
}

// A member's internode address outlives it: its peers keep dialing the address gossip gave them
// (to probe it, to hand it requests and hints). Whoever binds that port once the member is gone
// gets those dials. Under protocol 1 a dialer's first frame was [hello, 1, id, token], the
// token in clear, with its queued requests right behind it: this fake listener would have
// recorded both. Under protocol 2 it gets a proof bound to its own nonce, and no request, since
// it cannot prove the token back in its welcome.
const fakeWaitMs = 20_000;
/** After the first hello, how long the fake keeps listening for what a dialer sends behind it. */
const afterHelloMs = 1500;

test('a fake listener on a member\'s internode address never sees the token', async (t) => {
  const victim = 'n3';
  const [writer, reader] = ['n1', 'n2'];
  const address = (await cluster.status(victim)).listeners.internode;
  await cluster.kill(victim);
  const fake = await fakeListener(address, victim);
  let closed = false;
  const closeFake = async () => {
    if (closed) return;
    closed = true;
    await fake.close();
  };
  t.after(closeFake);

  // Peers dial the fake on their own (gossip every second); writes whose preference list holds
  // the victim make them dial too. Until both peers have said hello, or the wait is over.
  const deadline = Date.now() + fakeWaitMs;
  let firstHelloAt: number | undefined;
  let serving: string | undefined;
  while (Date.now() < deadline && !(new Set(fake.hellosFrom).size >= 2 && firstHelloAt !== undefined && Date.now() - firstHelloAt >= afterHelloMs)) {
    if (firstHelloAt === undefined && fake.hellosFrom.length > 0) firstHelloAt = Date.now();
    serving = (await servesWithoutVictim(writer, reader)) ?? serving;
    await sleep(250);
  }
  if (firstHelloAt !== undefined) await sleep(Math.max(0, firstHelloAt + afterHelloMs - Date.now()));
  await closeFake();

  const bytes = fake.bytes();
  const seen = `the fake got ${fake.connections.length} connection(s), ${bytes.byteLength} bytes, hellos from ${JSON.stringify(fake.hellosFrom)}; frame kinds per connection ${JSON.stringify(fake.connections.map((c) => c.frames.map((f) => (Array.isArray(f) ? f[0] : typeof f))))}`;
  t.diagnostic(seen);
  assert.ok(fake.hellosFrom.length > 0, `no member dialed the fake listener within ${fakeWaitMs} ms (the test checks nothing without a dial): ${seen}\n${cluster.logTails([writer, reader])}`);
  assert.ok(!bytes.includes(Buffer.from(cluster.token, 'utf8')), `the fake listener received the cluster token (as text): ${seen}`);
  assert.ok(!bytes.includes(Buffer.from(cluster.token, 'hex')), `the fake listener received the cluster token (as its hex bytes): ${seen}`);
  const requests = fake.connections.flatMap((c) => c.frames).filter((f) => Array.isArray(f) && f[0] === frameKind.request);
  assert.equal(requests.length, 0, `a member sent ${requests.length} request(s) to a listener that never proved the token: ${JSON.stringify(requests).slice(0, 300)}; ${seen}`);
  assert.ok(fake.connections.every((c) => !c.undecodable && c.frames.every((f) => Array.isArray(f) && f[0] === frameKind.hello && f[1] === 2)), `a dialer sent the fake something other than protocol 2 hellos: ${seen}`);

  // The others kept serving without the victim, and do now.
  assert.equal(serving, undefined, `while the fake held ${victim}'s port, PUT w=2 via ${writer} + GET r=2 via ${reader}`);
  assert.equal(await servesWithoutVictim(writer, reader), undefined, `after the fake, PUT w=2 via ${writer} + GET r=2 via ${reader}`);
  assert.ok(cluster.isRunning(writer) && cluster.isRunning(reader), 'the other nodes are alive');

  // Leave the cluster whole for the rest of the file: the victim comes back on a new internode port.
  cluster.restart(victim);
  await cluster.waitUntilUp();
});

// A relay on a dead member's address: it takes a live node's challenge (connecting to it as a
// dialer would), hands that nonce to whichever member dials the dead address, and passes the
// member's hello (and a request) on to the live node. If the hello's proof did not name the
// address the member meant to reach, the live node would take the relay for that member. It
// names it, and the live node's own address differs: the relayed hello is dropped.
test('a hello relayed from a dead member\'s address to a live node is refused: the proof names the address the dialer meant', async (t) => {
  const victim = 'n3';
  const live = 'n1';
  const address = (await cluster.status(victim)).listeners.internode;
  const liveAddress = (await cluster.status(live)).listeners.internode;
  await cluster.kill(victim);
  const outcomes: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((dialer) => {
    sockets.add(dialer);
    dialer.on('error', () => {});
    void (async () => {
      const upstream = await connectForChallenge(liveAddress).catch(() => undefined);
      if (!upstream) return;
      sockets.add(upstream.socket);
      upstream.socket.on('error', () => {});
      dialer.write(packed([frameKind.challenge, 2, upstream.nonce]));
      let pending: Buffer = Buffer.alloc(0);
      dialer.on('data', (d: Buffer) => {
        pending = Buffer.concat([pending, d]);
        const { frames, rest } = decodeFrames(pending);
        pending = rest;
        for (const msg of frames) {
          if (!Array.isArray(msg) || msg[0] !== frameKind.hello || msg[2] === live) continue;
          // Pass the member's hello and a read on to the live node; see what comes back.
          let back: Buffer = Buffer.alloc(0);
          upstream.socket.on('data', (b: Buffer) => (back = Buffer.concat([back, b])));
          upstream.socket.once('close', () => outcomes.push(`closed after ${decodeFrames(back).frames.map((f) => (Array.isArray(f) ? f[0] : '?')).join(',') || 'nothing'}`));
          upstream.socket.resume();
          upstream.socket.write(Buffer.concat([packed(msg), packed([frameKind.request, 1, ['read', Buffer.from('k')]])]));
          setTimeout(() => {
            if (!upstream.socket.destroyed) outcomes.push(`still open after ${decodeFrames(back).frames.map((f) => (Array.isArray(f) ? f[0] : '?')).join(',') || 'nothing'}`);
          }, 1500);
        }
      });
    })();
  });
  const { host, port } = hostPort(address);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, () => resolve()));
  let relayClosed: Promise<void> | undefined;
  const closeRelay = () =>
    (relayClosed ??= new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }));
  t.after(closeRelay);
  const deadline = Date.now() + fakeWaitMs;
  while (Date.now() < deadline && outcomes.length === 0) {
    await servesWithoutVictim('n1', 'n2');
    await sleep(250);
  }
  await sleep(1600);
  assert.ok(outcomes.length > 0, `no member's hello reached the relay within ${fakeWaitMs} ms (the test checks nothing without one)`);
  assert.ok(outcomes.every((o) => o === 'closed after nothing'), `the live node answered a relayed hello: ${JSON.stringify(outcomes)}`);
  assert.ok(cluster.isRunning('n1') && cluster.isRunning('n2'));
  // The victim comes back on its own internode port (--port + 1000), which the relay holds.
  await closeRelay();
  cluster.restart(victim);
  await cluster.waitUntilUp();
});
