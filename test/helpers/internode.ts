// The internode wire format (node-core/src/net/tcp-transport.ts), for tests that speak it by
// hand: [u32 big-endian length][msgpack array] frames, and the challenge-response handshake of
// protocol 2 (node-core/src/net/handshake.ts):
//
//   listener -> dialer   [challenge, 2, nL]                   sent by the listener on accept
//   dialer -> listener   [hello, 2, dialerId, nD, proofD]     proofD = dialerProof(token, nL, nD, dialerId, address)
//   listener -> dialer   [welcome, listenerId, proofL]        proofL = listenerProof(token, nL, nD, dialerId, address, listenerId)
// (address: the listener's internode address, as the dialer meant to reach it)
//
// then [request, id, body] one way and [reply, id, body] / [failure, id, code, message] back.

import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Packr } from 'msgpackr';
import { dialerProof, listenerProof } from '../../node-core/src/net/handshake.js';

/** The transport's msgpack settings. Its `pack` returns a view of a reused buffer: copy before the next pack. */
export const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export const frameKind = { hello: 0, request: 1, reply: 2, failure: 3, challenge: 4, welcome: 5 } as const;
export const protocolVersion = 2;
export const nonceBytes = 32;

/** A frame around `body`: its u32 big-endian length, then the bytes (copied). */
export function frame(body: Uint8Array): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.byteLength);
  return Buffer.concat([head, body]);
}

/** `value` packed as msgpack, framed. */
export function packed(value: unknown): Buffer {
  return frame(packr.pack(value));
}

export function hostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

/** Splits a byte stream into decoded frames (at most `max`); `rest` is the unfinished tail. Throws on undecodable msgpack. */
export function decodeFrames(buf: Buffer, max = 10_000): { frames: unknown[]; rest: Buffer } {
  const frames: unknown[] = [];
  let at = 0;
  while (frames.length < max && at + 4 <= buf.byteLength) {
    const len = buf.readUInt32BE(at);
    if (at + 4 + len > buf.byteLength) break;
    frames.push(packr.unpack(buf.subarray(at + 4, at + 4 + len)));
    at += 4 + len;
  }
  return { frames, rest: buf.subarray(at) };
}

export interface Challenge {
  /** The listener's nonce nL. */
  readonly nonce: Buffer;
  /** Bytes received after the challenge frame (in the same chunk). */
  readonly rest: Buffer;
}

/**
 * The challenge at the start of `received`: undefined until its frame is whole; throws when the
 * first frame is not a protocol-2 challenge with a 32-byte nonce.
 */
export function parseChallenge(received: Buffer): Challenge | undefined {
  if (received.byteLength < 4) return undefined;
  const len = received.readUInt32BE(0);
  if (len === 0 || len > 1024) throw new Error(`the listener's first frame announces ${len} bytes: not a challenge`);
  if (received.byteLength < 4 + len) return undefined;
  const msg: unknown = packr.unpack(received.subarray(4, 4 + len));
  if (!Array.isArray(msg) || msg[0] !== frameKind.challenge || msg[1] !== protocolVersion || !(msg[2] instanceof Uint8Array) || msg[2].byteLength !== nonceBytes) {
    throw new Error(`the listener's first frame is not a protocol ${protocolVersion} challenge: ${JSON.stringify(msg)}`);
  }
  return { nonce: Buffer.from(msg[2]), rest: Buffer.from(received.subarray(4 + len)) };
}

/**
 * Waits for the listener's challenge on `socket` (connecting or connected). Resolves with the
 * socket PAUSED and none of our listeners left on it: later bytes wait in the socket until the
 * caller resumes it (`rest` holds any that came with the challenge). Rejects when the socket
 * closes or errors first, or after `timeoutMs`.
 */
export function readChallenge(socket: net.Socket, timeoutMs = 5000): Promise<Challenge> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const cleanUp = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
    };
    const fail = (e: Error) => {
      cleanUp();
      reject(e);
    };
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      let challenge: Challenge | undefined;
      try {
        challenge = parseChallenge(received);
      } catch (e) {
        fail(e as Error);
        return;
      }
      if (challenge === undefined) return;
      cleanUp();
      socket.pause();
      resolve(challenge);
    };
    const onClose = () => fail(new Error(`the connection closed before the listener's challenge (${received.byteLength} bytes received)`));
    const onError = (e: Error) => fail(e);
    const timer = setTimeout(() => fail(new Error(`no challenge from the listener within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onError);
  });
}

/** Connects to an internode address and reads its challenge; the socket comes back paused (see readChallenge). */
export async function connectForChallenge(address: string, timeoutMs = 5000): Promise<Challenge & { socket: net.Socket }> {
  const socket = net.connect(hostPort(address));
  try {
    return { socket, ...(await readChallenge(socket, timeoutMs)) };
  } catch (e) {
    socket.destroy();
    throw e;
  }
}

export interface HelloOptions {
  /** The protocol version the hello claims (default 2). The proof does not cover it. */
  readonly version?: number;
  /** The dialer's nonce nD (default: 32 fresh random bytes); keep it to check the welcome. */
  readonly dialerNonce?: Uint8Array;
}

/** The hello frame answering the challenge `challengeNonce`, proving `token` (undefined: the empty key of a tokenless node). */
export function helloFor(token: string | undefined, nodeId: string, challengeNonce: Uint8Array, to: string, opts: HelloOptions = {}): Buffer {
  const dialerNonce = opts.dialerNonce ?? randomBytes(nonceBytes);
  return packed([frameKind.hello, opts.version ?? protocolVersion, nodeId, dialerNonce, dialerProof(token, challengeNonce, dialerNonce, nodeId, to)]);
}

/** The internode address a socket dialled, as "host:port" (what a dialer's proof names). */
export function dialedAddress(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}

/**
 * A hello that is well formed in every field but whose proof is wrong: made with `wrongToken`
 * instead of the cluster token (a stranger guessing). The proof still has the right length.
 */
export function helloWithWrongProof(nodeId: string, challengeNonce: Uint8Array, to: string, wrongToken = 'not-the-token', opts: HelloOptions = {}): Buffer {
  return helloFor(wrongToken, nodeId, challengeNonce, to, opts);
}

/**
 * Why `msg` is not the welcome a listener holding `token` owes the dialer `dialerId` of this
 * handshake (nonces nL, nD), or undefined when it is. `listenerId`, when given, must match too.
 */
export function welcomeProblem(msg: unknown, token: string | undefined, listenerNonce: Uint8Array, dialerNonce: Uint8Array, dialerId: string, to: string, listenerId?: string): string | undefined {
  if (!Array.isArray(msg) || msg[0] !== frameKind.welcome) return `not a welcome frame: ${JSON.stringify(msg)?.slice(0, 200)}`;
  const [, id, proof] = msg as unknown[];
  if (typeof id !== 'string') return `a welcome whose listener id is not a string: ${JSON.stringify(id)}`;
  if (listenerId !== undefined && id !== listenerId) return `a welcome from ${JSON.stringify(id)}, expected ${JSON.stringify(listenerId)}`;
  if (!(proof instanceof Uint8Array) || !Buffer.from(proof).equals(listenerProof(token, listenerNonce, dialerNonce, dialerId, to, id))) return 'a welcome whose proof is not the cluster token\'s';
  return undefined;
}
