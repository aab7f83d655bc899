// Fuzzing the internode transport (net/tcp-transport.ts) over real loopback sockets, at the
// two places it reads a peer's bytes: the server reading a client's hello and requests, and a
// client reading a peer's handshake (challenge, welcome) and replies. TCP keeps no message
// boundaries, so any cutting of a valid stream must be served; and nothing a peer sends may
// crash the process or leave a request unsettled.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import fc from 'fast-check';
import { FrameReader, TcpTransport, encodeFrame } from '../../node-core/src/net/tcp-transport.js';
import { TransportError } from '../../node-core/src/net/transport.js';
import { listenerProof } from '../../node-core/src/net/handshake.js';
import { byteEditsArb, fieldEditsArb, fuzzParams, mutateBytes, mutateFields, show, tryUnpack, wire } from './fuzz.js';
import { dialedAddress, frameKind, helloFor, nonceBytes, readChallenge, welcomeProblem } from '../helpers/internode.js';

const frameRequest = frameKind.request;
const frameReply = frameKind.reply;
const frameFailure = frameKind.failure;

/** Cuts `stream` at the given points. */
function chunked(stream: Buffer, cuts: readonly number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (stream.byteLength + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of at) {
    if (c > from) out.push(stream.subarray(from, c));
    from = c;
  }
  if (from < stream.byteLength) out.push(stream.subarray(from));
  return out;
}

/** Request bodies: small ones, and ones past a hello's 1 KiB (a gossip state of a few hundred partitions). */
const bodyArb = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.constant('snapshot'), fc.nat()) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 64 * 1024 }).map((n) => ['gossip', new Uint8Array(n)]) },
);

test('fuzz transport: a client\'s hello and requests, however TCP cuts them, are all answered', async () => {
  // No token: the handshake runs under the empty key (handshake.ts).
  const server = await TcpTransport.listen({ host: '127.0.0.1', port: 0, nodeId: 'server' });
  server.setHandler(async (body) => ['echo', body]);
  const [host, port] = [server.address.slice(0, server.address.lastIndexOf(':')), Number(server.address.slice(server.address.lastIndexOf(':') + 1))];
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(bodyArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 6 }), async (bodies, cuts) => {
        const dialerNonce = randomBytes(nonceBytes);
        const answered = await new Promise<number[] | string>((resolve) => {
          const socket = net.connect({ host, port });
          const reader = new FrameReader();
          const ids: number[] = [];
          let welcomed = false;
          let stream: Buffer = Buffer.alloc(0);
          let challengeNonce: Buffer = Buffer.alloc(0);
          const timer = setTimeout(() => finish(`only ${ids.length} of ${bodies.length} answered in 3 s${welcomed ? '' : ' (no welcome)'}`), 3000);
          const finish = (r: number[] | string) => {
            clearTimeout(timer);
            socket.destroy();
            resolve(r);
          };
          socket.on('error', () => {});
          // The hello answers the server's challenge: the stream is known once it came.
          readChallenge(socket, 3000).then(
            ({ nonce, rest }) => {
              challengeNonce = nonce;
              stream = Buffer.concat([helloFor(undefined, 'client', nonce, dialedAddress(socket), { dialerNonce }), ...bodies.map((b, i) => encodeFrame([frameRequest, i + 1, b]))]);
              socket.on('data', onData);
              socket.on('close', () => finish(`the server closed the connection after ${ids.length} of ${bodies.length} answers (first write ${chunked(stream, cuts)[0]!.byteLength} bytes)`));
              if (rest.byteLength > 0) onData(rest);
              socket.resume();
              // One write per chunk, as a peer's TCP stack may deliver them.
              for (const c of chunked(stream, cuts)) socket.write(c);
            },
            (e: Error) => finish(`no challenge: ${e.message}`),
          );
          const onData = (chunk: Buffer) => {
            for (const f of reader.push(chunk)) {
              const msg = wire.unpack(f) as unknown[];
              if (!welcomed) {
                // The server's first frame after our hello: its welcome, proving the (empty) token back.
                const problem = welcomeProblem(msg, undefined, challengeNonce, dialerNonce, 'client', dialedAddress(socket), 'server');
                if (problem !== undefined) return finish(`the server's welcome: ${problem}`);
                welcomed = true;
                continue;
              }
              ids.push(msg[1] as number);
              if (msg[0] !== frameReply) return finish(`request ${String(msg[1])} failed: ${show(msg)}`);
            }
            if (ids.length === bodies.length) finish(ids);
          };
        });
        assert.ok(Array.isArray(answered), String(answered));
        assert.deepStrictEqual([...answered].sort((a, b) => a - b), bodies.map((_, i) => i + 1));
      }),
      fuzzParams(),
    );
  } finally {
    await server.close();
  }
});

/** A peer's reply to request `id`, before it is broken: a reply with some body, or a failure. */
const replyArb = fc.oneof(
  fc.anything({ maxDepth: 2, withNullPrototype: false, withBoxedValues: false, withMap: false, withSet: false }).map((body) => [frameReply, body]),
  fc.tuple(fc.constantFrom('remote', 'error', 'too_large', 'bad_request'), fc.string({ maxLength: 30 })).map(([code, message]) => [frameFailure, code, message]),
);

type Breakage = { readonly how: 'fields'; readonly edits: Parameters<typeof mutateFields>[1] } | { readonly how: 'bytes'; readonly edits: Parameters<typeof mutateBytes>[1] };
const breakageArb: fc.Arbitrary<Breakage> = fc.oneof(
  fieldEditsArb().map((edits): Breakage => ({ how: 'fields', edits })),
  byteEditsArb.map((edits): Breakage => ({ how: 'bytes', edits })),
);

/** `frame` broken (fields or bytes); with `id`, a field-broken frame keeps it at [1], so the client looks at it. */
function breakFrame(frame: unknown[], b: Breakage, id?: number): Buffer {
  if (b.how === 'bytes') return u32Frame(mutateBytes(Buffer.from(wire.pack(frame)), b.edits));
  const broken = mutateFields(frame, b.edits);
  if (id !== undefined && Array.isArray(broken) && broken.length >= 2) broken[1] = id;
  let body: Buffer;
  try {
    body = Buffer.from(wire.pack(broken));
  } catch {
    body = Buffer.from(wire.pack(frame));
  }
  return u32Frame(body);
}

/** The frame a broken peer sends for request `id` (its id kept, so the client looks at it). */
function brokenFrame(reply: unknown[], b: Breakage, id: number): Buffer {
  return breakFrame([reply[0], id, ...reply.slice(1)], b, id);
}

/** Which of the peer's frames the run breaks: its challenge, its welcome, or its reply. */
type Stage = 'challenge' | 'welcome' | 'reply';
const stageArb: fc.Arbitrary<Stage> = fc.oneof({ weight: 2, arbitrary: fc.constant<Stage>('reply') }, fc.constant<Stage>('challenge'), fc.constant<Stage>('welcome'));

interface PeerRun {
  readonly stage: Stage;
  readonly reply: unknown[];
  readonly breakage: Breakage;
}

/**
 * The broken peer, as a listener: it challenges, welcomes a hello with the proof of the empty
 * token (the client has none), answers each request, then hangs up (so a reply the client
 * cannot match fails the request at once instead of at its timeout). The run's stage is sent
 * broken; the rest is what a real node would send, so a broken frame that still happens to be
 * valid leads on to a reply.
 */
function brokenPeer(run: () => PeerRun): net.Server {
  return net.createServer((socket) => {
    const { stage, reply, breakage } = run();
    const reader = new FrameReader();
    const challenge = [frameKind.challenge, 2, randomBytes(nonceBytes)];
    const challengeFrame = stage === 'challenge' ? breakFrame(challenge, breakage) : u32Frame(Buffer.from(wire.pack(challenge)));
    // The nonce the client answers: a broken challenge may still carry one (perhaps another).
    const seen = tryUnpack(challengeFrame.subarray(4));
    const listenerNonce = Array.isArray(seen) && seen[2] instanceof Uint8Array ? seen[2] : (challenge[2] as Buffer);
    socket.on('error', () => {});
    socket.write(challengeFrame);
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = reader.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const f of frames) {
        const msg = tryUnpack(f);
        if (!Array.isArray(msg)) continue;
        if (msg[0] === frameKind.hello && msg[3] instanceof Uint8Array) {
          const welcome = [frameKind.welcome, 'peer', listenerProof(undefined, listenerNonce, msg[3], String(msg[2]), `${socket.localAddress}:${socket.localPort}`, 'peer')];
          socket.write(stage === 'welcome' ? breakFrame(welcome, breakage) : u32Frame(Buffer.from(wire.pack(welcome))));
        } else if (msg[0] === frameRequest) {
          const id = msg[1] as number;
          socket.end(stage === 'reply' ? brokenFrame(reply, breakage, id) : u32Frame(Buffer.from(wire.pack([frameReply, id, 'fine']))));
        }
      }
    });
  });
}

function u32Frame(body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.byteLength);
  return Buffer.concat([head, body]);
}

test('fuzz transport: whatever a peer sends (its challenge, welcome or reply, fields or bytes broken), a request settles with a reply or a TransportError, and nothing is thrown', async () => {
  let current: PeerRun | undefined;
  const peer = brokenPeer(() => current!);
  await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${(peer.address() as net.AddressInfo).port}`;
  // An exception out of a socket handler would crash a node: here it is captured (instead of
  // ending the test run) and fails the run it happened in.
  let crashed: (e: unknown) => void = () => {};
  process.setUncaughtExceptionCaptureCallback((e) => crashed(e));
  try {
    await fc.assert(
      fc.asyncProperty(stageArb, replyArb, breakageArb, async (stage, reply, breakage) => {
        current = { stage, reply, breakage };
        const client = await TcpTransport.listen({ host: '127.0.0.1', port: 0, nodeId: 'client' });
        try {
          // A request the transport forgot (its pending entry gone, never settled) would hang: bounded here.
          let guard: NodeJS.Timeout | undefined;
          const outcome = await Promise.race([
            client.request(address, ['snapshot', 0], 2000).then(
              () => 'replied',
              (e: unknown) => e,
            ),
            new Promise((resolve) => (guard = setTimeout(() => resolve('never settled'), 3000))),
            new Promise((resolve) => (crashed = (e) => resolve({ crash: e }))),
          ]);
          clearTimeout(guard);
          const crash = (outcome as { crash?: unknown }).crash;
          if (crash !== undefined) assert.fail(`a peer's ${stage} threw out of the transport's socket handler (the process would crash): ${crash instanceof Error ? `${crash.constructor.name}: ${crash.message}\n${crash.stack ?? ''}` : String(crash)}`);
          assert.notEqual(outcome, 'never settled', 'the request never settled, not even at its timeout');
          if (outcome !== 'replied') assert.ok(outcome instanceof TransportError, `rejected with ${String(outcome)}, not a TransportError`);
          assert.ok(outcome === 'replied' || (outcome as TransportError).code !== 'timeout', 'the request waited for its timeout');
        } finally {
          await client.close();
        }
      }),
      fuzzParams(),
    );
  } finally {
    process.setUncaughtExceptionCaptureCallback(null);
    await new Promise<void>((resolve) => peer.close(() => resolve()));
  }
});
