// Internode transport over TCP: one persistent connection per peer (we dial out; peers dial
// in), requests multiplexed by id, frames of [u32 length][msgpack], size-limited, with
// reconnect and exponential backoff. Written by hand because no maintained library does
// exactly "multiplexed msgpack RPC over one socket" small enough to audit; socket.io is
// kept for the control plane (issue 5), where its browser support matters.
//
// Frames (msgpack arrays):
//   [challenge, protocolVersion, nonce]   the listener's first frame
//   [hello, protocolVersion, nodeId, nonce, proof]   the dialer's answer
//   [welcome, nodeId, proof]   the listener's proof; only then does the dialer send requests
//   [request, id, body]   [reply, id, body]   [failure, id, code, message]
// The handshake (handshake.ts) proves the cluster token both ways without sending it.

import net from 'node:net';
import tls from 'node:tls';
import { atEndOfTurn } from '../runtime/end-of-turn.js';
import { randomBytes } from 'node:crypto';
import { Packr } from 'msgpackr';
import { type RequestHandler, type Transport, TransportError, noReplyCode } from './transport.js';
import { msgpackProblem } from './msgpack-guard.js';
import { dialerProof, frameChallenge, frameWelcome, isNonce, listenerProof, nonceBytes, proofMatches } from './handshake.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

const frameHello = 0;
const frameRequest = 1;
const frameReply = 2;
const frameFailure = 3;
/** 2: the challenge-response handshake (1 sent the token in the hello). */
const protocolVersion = 2;
/** The u32 length before each frame's body. */
const frameHeaderBytes = 4;

/** Largest frame accepted or sent: a sibling set of a few 1 MiB values plus framing. */
export const frameBytesMax = 64 * 1024 * 1024;
/** Requests waiting on one connection (sent or queued) before new ones are refused. */
export const requestsInFlightMax = 8192;
/** Requests from one connection served at once; later ones wait their turn in order. */
export const servingPerConnectionMax = 64;
/** Requests read from one connection and waiting; past this we stop reading it (TCP backpressure). */
export const queuedPerConnectionMax = 1024;
/** Unsent reply bytes on one connection past which we serve nothing more until it drains. */
export const replyBufferBytesMax = 16 * 1024 * 1024;
export const reconnectBackoffMinMs = 50;
export const reconnectBackoffMaxMs = 5000;
export const connectTimeoutMs = 2000;
/** A connection that has not sent a valid hello by then is closed. */
export const helloTimeoutMs = 2000;
/** The largest frame read from a connection before its hello: a hello is a few hundred bytes. */
export const helloFrameBytesMax = 1024;
/** The longest node id a hello may give, in UTF-16 code units (String.length). */
const helloNodeIdCharsMax = 256;
/** Connections not yet authenticated, at most; a new one past this closes the oldest. */
export const preAuthConnectionsMax = 64;
/**
 * Bytes of inbound frames this node holds at once over all connections: frames being received
 * (reserved in full once their header announces them), requests queued and being served.
 * A connection whose next frame does not fit waits, unread (TCP pushes back on the sender).
 */
export const inboundBytesMax = 256 * 1024 * 1024;
/** Bytes one connection may hold of that budget: one peer cannot take all of it. */
export const inboundBytesPerConnectionMax = 96 * 1024 * 1024;
/** A frame must arrive in full this long after its header, or its connection is dropped (slow senders hold budget). */
export const frameReceiveTimeoutMs = 30_000;

export interface TcpTransportOptions {
  readonly host: string;
  /** The host peers reach this node at (announced in gossip, bound into the handshake); default host. */
  readonly advertise?: string | undefined;
  readonly port: number;
  readonly nodeId: string;
  readonly token?: string | undefined;
  readonly log?: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
  /** Jitter source for backoff; injected so tests can pin it. */
  readonly random?: () => number;
  /** TLS on the listener and every dial (start/tls.ts makes these); plain TCP without. */
  readonly tls?: TransportTls;
}

export interface TransportTls {
  serverOptions(): tls.TlsOptions;
  clientOptions(): tls.ConnectionOptions;
  /** Told of the listener, so renewed certificates reach it. */
  onServer?(server: tls.Server, options: () => tls.TlsOptions): void;
}

/** What both ends of one TLS session share and a relay between two sessions cannot: the handshake's proofs cover it. */
function channelBinding(socket: net.Socket): Buffer | undefined {
  return socket instanceof tls.TLSSocket ? socket.exportKeyingMaterial(32, 'EXPORTER-gyre-internode', Buffer.alloc(0)) : undefined;
}

/**
 * Splits a byte stream into frames; throws on an oversized or zero-length frame. Chunks are
 * kept as they arrive and joined once per frame, so a large frame costs linear time.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private maxBytes = frameBytesMax) {}

  /** Raises (or lowers) the largest frame accepted from now on: a hello is small, later frames are not. */
  setLimit(maxBytes: number): void {
    this.maxBytes = maxBytes;
  }

  /** Bytes held, of frames not yet returned. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** The length of the frame being received, once its header is in; undefined between frames. */
  announced(): number | undefined {
    return this.buffered >= frameHeaderBytes ? this.peekLength() : undefined;
  }

  private peekLength(): number {
    const head = Buffer.alloc(frameHeaderBytes);
    let got = 0;
    for (const c of this.chunks) {
      const n = Math.min(frameHeaderBytes - got, c.byteLength);
      c.copy(head, got, 0, n);
      got += n;
      if (got === frameHeaderBytes) break;
    }
    return head.readUInt32BE(0);
  }

  /** Adds bytes; frames come out of `next`. */
  append(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
  }

  /**
   * The next whole frame, or undefined until more bytes come. One at a time, so a limit set
   * after a frame (the hello) applies to the frames behind it in the same chunk.
   */
  next(): Buffer | undefined {
    if (this.buffered < frameHeaderBytes) return undefined;
    const len = this.peekLength();
    if (len === 0 || len > this.maxBytes) throw new TransportError('too_large', `frame of ${len} bytes (limit ${this.maxBytes})`);
    if (this.buffered < frameHeaderBytes + len) return undefined;
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    const rest = all.subarray(frameHeaderBytes + len);
    this.chunks = rest.byteLength > 0 ? [rest] : [];
    this.buffered = rest.byteLength;
    return all.subarray(frameHeaderBytes, frameHeaderBytes + len);
  }

  /** Adds bytes and returns every whole frame they complete. */
  push(chunk: Buffer): Buffer[] {
    this.append(chunk);
    const frames: Buffer[] = [];
    for (let f = this.next(); f !== undefined; f = this.next()) frames.push(f);
    return frames;
  }
}

export function encodeFrame(payload: unknown): Buffer {
  const [head, body] = encodeFrameParts(payload);
  return Buffer.concat([head, body]);
}

/** A frame as its 4-byte header and its body, to be written one after the other (no copy). */
export function encodeFrameParts(payload: unknown): [Buffer, Buffer] {
  const body = packr.pack(payload);
  if (body.byteLength > frameBytesMax) throw new TransportError('too_large', `message of ${body.byteLength} bytes exceeds ${frameBytesMax}`);
  const head = Buffer.alloc(frameHeaderBytes);
  head.writeUInt32BE(body.byteLength);
  return [head, body];
}

/**
 * Writes a frame, coalescing every frame written to the socket in the same turn of the event
 * loop into one syscall: a coordinator fans requests out to N-1 peers and a replica answers
 * many requests per turn. The socket is uncorked at the end of the turn (runtime/end-of-turn.ts),
 * after every I/O callback of the turn and the continuations they ran: a nextTick uncork ran
 * before most continuations and coalesced little.
 */
function writeCoalesced(socket: net.Socket, ...parts: Buffer[]): void {
  if (socket.writableCorked === 0) {
    socket.cork();
    atEndOfTurn(() => socket.uncork());
  }
  for (const p of parts) socket.write(p);
}

/** Inbound internode connections served at once; more are refused by the kernel backlog. */
export const inboundConnectionsMax = 1024;

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** Our outgoing connection to one peer. */
class Connection {
  private socket: net.Socket | undefined;
  private state: 'idle' | 'connecting' | 'handshake' | 'open' | 'backoff' = 'idle';
  /** The nonces of the handshake in progress (ours is set once the challenge came). */
  private handshake: { listenerNonce: Uint8Array; dialerNonce: Buffer } | undefined;
  /** Why the last connection closed, when it was the handshake's doing. */
  private refusal: string | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private queued: Buffer[] = [];
  private failures = 0;
  private retryAt = 0;

  constructor(
    private readonly address: string,
    private readonly owner: TcpTransport,
  ) {}

  request(body: unknown, timeoutMs: number): Promise<unknown> {
    if (this.state === 'backoff' && Date.now() < this.retryAt) {
      return Promise.reject(new TransportError('unreachable', `${this.address} unreachable (retrying in ${this.retryAt - Date.now()} ms)`));
    }
    if (this.pending.size >= requestsInFlightMax) {
      return Promise.reject(new TransportError('overloaded', `${requestsInFlightMax} requests already in flight to ${this.address}`));
    }
    let frame: Buffer;
    const id = this.nextId++;
    try {
      frame = encodeFrame([frameRequest, id, body]);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TransportError('timeout', `no reply from ${this.address} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      if (this.state === 'open') writeCoalesced(this.socket!, frame);
      else {
        this.queued.push(frame);
        // A dial already under way (connecting or in its handshake) will carry it.
        if (this.state !== 'connecting' && this.state !== 'handshake') this.connect();
      }
    });
  }

  private connect(): void {
    this.state = 'connecting';
    const [host, portText] = splitAddress(this.address);
    const t = this.owner.tlsOptions;
    const socket = t ? tls.connect({ host, port: Number(portText), ...t.clientOptions() }) : net.connect({ host, port: Number(portText) });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    const connectTimer = setTimeout(() => socket.destroy(new Error('connect timeout')), connectTimeoutMs);
    const reader = new FrameReader();
    socket.on(t ? 'secureConnect' : 'connect', () => {
      clearTimeout(connectTimer);
      // Nothing is sent until the listener's challenge and welcome: see handshake.ts.
      this.state = 'handshake';
      this.handshake = undefined;
      this.refusal = undefined;
      const handshakeTimer = setTimeout(() => this.refuse(socket, `${this.address} did not complete the handshake within ${helloTimeoutMs} ms`), helloTimeoutMs);
      socket.once('close', () => clearTimeout(handshakeTimer));
      this.handshakeTimer = handshakeTimer;
    });
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = reader.push(chunk);
      } catch (e) {
        socket.destroy(e as Error);
        return;
      }
      for (const f of frames) {
        // A frame after this socket was refused or replaced is nobody's.
        if (socket.destroyed || this.socket !== socket) return;
        this.onFrame(f, socket);
      }
    });
    socket.on('error', () => {
      /* reported through 'close' */
    });
    socket.on('close', () => {
      clearTimeout(connectTimer);
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.failures++;
      const backoff = Math.min(reconnectBackoffMaxMs, reconnectBackoffMinMs * 2 ** Math.min(this.failures - 1, 10));
      this.retryAt = Date.now() + backoff * (0.5 + 0.5 * this.owner.random());
      this.state = 'backoff';
      const err = new TransportError(this.refusal ? 'unauthorized' : 'unreachable', this.refusal ?? `connection to ${this.address} closed`);
      for (const [, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(err);
      }
      this.pending.clear();
      this.queued = [];
    });
  }

  private onFrame(frame: Buffer, socket: net.Socket): void {
    let msg: unknown;
    try {
      const problem = msgpackProblem(frame);
      if (problem) throw new Error(problem);
      msg = packr.unpack(frame);
    } catch {
      socket.destroy(new Error('undecodable frame'));
      return;
    }
    if (this.state === 'handshake') {
      try {
        this.onHandshakeFrame(msg, socket);
      } catch (e) {
        // A hostile listener's frame must never throw out of the socket's 'data' handler.
        this.refuse(socket, `${this.address}: handshake failed (${(e as Error).message})`);
      }
      return;
    }
    if (!Array.isArray(msg) || typeof msg[1] !== 'number') {
      socket.destroy(new Error('malformed frame'));
      return;
    }
    const p = this.pending.get(msg[1]);
    if (!p) return; // a reply after its timeout: the caller has already moved on
    this.pending.delete(msg[1]);
    clearTimeout(p.timer);
    if (msg[0] === frameReply) p.resolve(msg[2]);
    // Only strings are shown: String() of a hostile map ({toString: 1}) would throw here.
    else if (msg[0] === frameFailure) p.reject(new TransportError('remote', `${typeof msg[2] === 'string' ? msg[2].slice(0, 64) : 'error'}: ${typeof msg[3] === 'string' ? msg[3].slice(0, 1024) : 'no message'}`));
    else p.reject(new TransportError('remote', 'unexpected frame kind'));
  }

  private handshakeTimer: NodeJS.Timeout | undefined;

  /** The challenge (answered with our hello and proof), then the welcome (checked): the connection opens. */
  private onHandshakeFrame(msg: unknown, socket: net.Socket): void {
    const token = this.owner.token;
    if (!Array.isArray(msg)) return this.refuse(socket, `${this.address} sent a malformed handshake frame`);
    if (this.handshake === undefined) {
      if (msg[0] !== frameChallenge || msg[1] !== protocolVersion || !isNonce(msg[2])) return this.refuse(socket, `${this.address} is not a Gyre node of protocol ${protocolVersion} (no valid challenge)`);
      const dialerNonce = randomBytes(nonceBytes);
      this.handshake = { listenerNonce: msg[2], dialerNonce };
      socket.write(encodeFrame([frameHello, protocolVersion, this.owner.nodeId, dialerNonce, dialerProof(token, msg[2], dialerNonce, this.owner.nodeId, this.address, channelBinding(socket))]));
      return;
    }
    const { listenerNonce, dialerNonce } = this.handshake;
    const listenerId = msg[1];
    if (msg[0] !== frameWelcome || typeof listenerId !== 'string' || listenerId.length > helloNodeIdCharsMax) return this.refuse(socket, `${this.address} sent no valid welcome`);
    if (!proofMatches(listenerProof(token, listenerNonce, dialerNonce, this.owner.nodeId, this.address, listenerId, channelBinding(socket)), msg[2])) {
      return this.refuse(socket, `${this.address} (calling itself ${JSON.stringify(listenerId.slice(0, 64))}) could not prove it holds the cluster token: not a member of this cluster`);
    }
    clearTimeout(this.handshakeTimer);
    this.handshake = undefined;
    this.state = 'open';
    this.failures = 0;
    for (const f of this.queued) socket.write(f);
    this.queued = [];
  }

  /** Ends a connection whose handshake failed; its requests fail with the reason. */
  private refuse(socket: net.Socket, why: string): void {
    this.refusal = why;
    this.owner.log('warn', 'internode handshake failed', { address: this.address, why });
    socket.destroy();
  }

  close(): void {
    this.state = 'idle';
    this.socket?.destroy();
  }
}

export function splitAddress(address: string): [string, string] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i).replace(/^\[|\]$/g, ''), address.slice(i + 1)];
}

/** A request read from an inbound connection, with the inbound budget it holds until served. */
interface QueuedRequest {
  readonly id: number;
  readonly body: unknown;
  readonly bytes: number;
}

/** What TcpTransport keeps for one inbound connection. */
interface Inbound {
  readonly socket: net.Socket;
  /** The peer's socket address, for the log. */
  readonly remote: string;
  readonly reader: FrameReader;
  /** The node id its hello proved; undefined while it is a stranger. */
  peer: string | undefined;
  /** This connection's challenge (handshake.ts). */
  readonly nonce: Buffer;
  /** Requests handed to the handler and not yet settled. */
  serving: number;
  /** Budget this connection holds: its frame in progress (reserved in full), queued and served requests. */
  held: number;
  /** Budget reserved for the frame in progress; 0 between frames. */
  reservedForFrame: number;
  /** Set while the connection waits in `starved` for budget. */
  waiting: (() => void) | undefined;
  /** Requests read and waiting to be served, oldest first. */
  readonly queue: QueuedRequest[];
  /** Replies waiting for the socket to drain (see `sendReply`). */
  readonly outbox: unknown[][];
}

/** A frame's msgpack array, or why not; msgpackProblem walks the bytes before msgpackr sees them. */
function decodeFrame(frame: Buffer): { ok: true; msg: readonly unknown[] } | { ok: false; why: string } {
  let msg: unknown;
  try {
    const problem = msgpackProblem(frame);
    if (problem) throw new Error(problem);
    msg = packr.unpack(frame);
  } catch (e) {
    return { ok: false, why: `undecodable frame: ${(e as Error).message}` };
  }
  if (!Array.isArray(msg)) return { ok: false, why: 'frame is not an array' };
  return { ok: true, msg };
}

export class TcpTransport implements Transport {
  private readonly server: net.Server;
  private readonly connections = new Map<string, Connection>();
  private readonly inbound = new Set<net.Socket>();
  private handler: RequestHandler = async () => {
    throw new Error('no handler');
  };
  readonly nodeId: string;
  readonly token: string | undefined;
  readonly random: () => number;
  readonly tlsOptions: TransportTls | undefined;
  private boundAddress = '';
  /** The IP address the listener is bound to, as the kernel reports it (protected mode judges it). */
  boundIp = '';

  private constructor(private readonly opts: TcpTransportOptions) {
    this.nodeId = opts.nodeId;
    this.token = opts.token;
    this.random = opts.random ?? Math.random;
    this.tlsOptions = opts.tls;
    const t = opts.tls;
    if (t) {
      // A TLS handshake must end as soon as a hello must arrive: a stranger cannot hold a connection longer by not finishing it.
      const server = tls.createServer({ ...t.serverOptions(), handshakeTimeout: helloTimeoutMs }, (s) => this.serve(s));
      // A failed TLS handshake (no certificate, another CA, plain TCP) is the stranger's problem: logged, never thrown.
      server.on('tlsClientError', (e, s) => this.log('warn', 'internode TLS handshake refused', { remote: `${s.remoteAddress}:${s.remotePort}`, why: e.message }));
      t.onServer?.(server, () => t.serverOptions());
      this.server = server;
    } else this.server = net.createServer((s) => this.serve(s));
    this.server.maxConnections = inboundConnectionsMax;
    this.sweepTimer = setInterval(() => this.sweep(), 250);
    this.sweepTimer.unref();
  }

  static async listen(opts: TcpTransportOptions): Promise<TcpTransport> {
    const t = new TcpTransport(opts);
    await new Promise<void>((resolve, reject) => {
      t.server.once('error', reject);
      t.server.listen(opts.port, opts.host, () => resolve());
    });
    const a = t.server.address() as net.AddressInfo;
    t.boundAddress = `${opts.advertise ?? opts.host}:${a.port}`;
    t.boundIp = a.address;
    return t;
  }

  get address(): string {
    return this.boundAddress;
  }

  log(level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>): void {
    this.opts.log?.(level, msg, fields);
  }

  setHandler(handler: RequestHandler): void {
    this.handler = handler;
  }

  request(to: string, body: unknown, timeoutMs: number): Promise<unknown> {
    let c = this.connections.get(to);
    if (!c) {
      c = new Connection(to, this);
      this.connections.set(to, c);
    }
    return c.request(body, timeoutMs);
  }

  /** Inbound bytes held over all connections (see inboundBytesMax). */
  private inboundHeld = 0;
  /** Connections waiting for budget to read their next frame, oldest first. */
  private starved: (() => void)[] = [];
  /** Connections that have not authenticated yet, in order of arrival, with when they came. */
  private readonly preAuth = new Map<net.Socket, number>();
  /** When each connection's frame in progress was announced (for frameReceiveTimeoutMs). */
  private readonly receiving = new Map<net.Socket, number>();
  private sweepTimer: NodeJS.Timeout | undefined;

  /** Bytes of the inbound budget in use. */
  get inboundBytesHeld(): number {
    return this.inboundHeld;
  }

  private release(bytes: number): void {
    this.inboundHeld -= bytes;
    if (bytes <= 0 || this.starved.length === 0) return;
    // Wake every waiter once, oldest first; those that still do not fit queue up again.
    const waiting = this.starved;
    this.starved = [];
    for (const wake of waiting) wake();
  }

  /** Four times a second: strangers past their hello deadline and frames past theirs are dropped. */
  private sweep(): void {
    const now = Date.now();
    for (const [socket, since] of this.preAuth) if (now - since > helloTimeoutMs) socket.destroy();
    for (const [socket, since] of this.receiving) if (now - since > frameReceiveTimeoutMs) socket.destroy();
  }

  // Inbound connections. `serve` wires a socket's events to the steps below: a stranger is
  // admitted (pre-auth), frames are read within the byte budget and accepted (a hello first,
  // then requests), requests are dispatched to the handler in order, replies leave through the
  // outbox, and teardown returns what the connection held.

  private serve(socket: net.Socket): void {
    this.inbound.add(socket);
    socket.setNoDelay(true);
    this.admitStranger(socket);
    const c: Inbound = {
      socket,
      remote: `${socket.remoteAddress}:${socket.remotePort}`,
      reader: new FrameReader(helloFrameBytesMax),
      peer: undefined,
      nonce: randomBytes(nonceBytes),
      serving: 0,
      held: 0,
      reservedForFrame: 0,
      waiting: undefined,
      queue: [],
      outbox: [],
    };
    socket.write(encodeFrame([frameChallenge, protocolVersion, c.nonce]));
    socket.on('data', (chunk: Buffer) => this.readFrames(c, chunk));
    socket.on('drain', () => this.pump(c));
    // An error is followed by 'close', where teardown runs.
    socket.on('error', () => {});
    socket.on('close', () => this.teardown(c));
  }

  /** Before its hello a connection is a stranger: few, small and short-lived. */
  private admitStranger(socket: net.Socket): void {
    if (this.preAuth.size >= preAuthConnectionsMax) {
      const [oldest] = this.preAuth.keys();
      if (oldest) {
        this.preAuth.delete(oldest);
        oldest.destroy();
      }
    }
    this.preAuth.set(socket, Date.now());
  }

  private dropInbound(c: Inbound, why: string): void {
    this.opts.log?.('warn', 'internode connection dropped', { remote: c.remote, peer: c.peer, why });
    c.socket.destroy();
  }

  private takeBudget(c: Inbound, bytes: number): void {
    c.held += bytes;
    this.inboundHeld += bytes;
  }

  private giveBudget(c: Inbound, bytes: number): void {
    c.held -= bytes;
    this.release(bytes);
  }

  private readable(c: Inbound): boolean {
    return c.waiting === undefined && c.queue.length <= queuedPerConnectionMax;
  }

  /** Reserves the frame whose header is in; if it does not fit, stops reading until `release` wakes us. */
  private reserve(c: Inbound): void {
    const announced = c.reader.announced();
    if (announced === undefined || c.reservedForFrame > 0 || c.socket.destroyed) return;
    if (this.inboundHeld + announced <= inboundBytesMax && c.held + announced <= inboundBytesPerConnectionMax) {
      c.reservedForFrame = announced;
      this.takeBudget(c, announced);
      this.receiving.set(c.socket, Date.now());
      return;
    }
    // One frame is at most frameBytesMax, below both budgets: it fits once others finish.
    c.socket.pause();
    const wake = () => {
      c.waiting = undefined;
      this.reserve(c);
      if (this.readable(c) && c.socket.isPaused()) c.socket.resume();
    };
    c.waiting = wake;
    this.starved.push(wake);
  }

  /** Accepts every whole frame the bytes complete, then reserves the next one and serves what came. */
  private readFrames(c: Inbound, chunk: Buffer): void {
    c.reader.append(chunk);
    for (;;) {
      let frame: Buffer | undefined;
      try {
        frame = c.reader.next();
      } catch (e) {
        this.dropInbound(c, (e as Error).message);
        return;
      }
      if (frame === undefined) break;
      if (c.socket.destroyed) return;
      if (!this.acceptFrame(c, frame)) return;
    }
    this.reserve(c);
    if (!this.readable(c)) c.socket.pause();
    this.pump(c);
  }

  /** Takes one whole frame: the hello, or a request to queue. False when it dropped the connection. */
  private acceptFrame(c: Inbound, frame: Buffer): boolean {
    // The frame's reservation now belongs to the request it carries (a frame whose header
    // and body came in one chunk was never reserved: count it now).
    const bytes = c.reservedForFrame > 0 ? c.reservedForFrame : frame.byteLength + frameHeaderBytes;
    if (c.reservedForFrame === 0) this.takeBudget(c, bytes);
    c.reservedForFrame = 0;
    this.receiving.delete(c.socket);
    const decoded = decodeFrame(frame);
    if (!decoded.ok) {
      this.giveBudget(c, bytes);
      this.dropInbound(c, decoded.why);
      return false;
    }
    const msg = decoded.msg;
    if (c.peer === undefined) {
      this.giveBudget(c, bytes);
      return this.acceptHello(c, msg);
    }
    if (msg[0] !== frameRequest || typeof msg[1] !== 'number') {
      this.giveBudget(c, bytes);
      this.dropInbound(c, 'unexpected frame');
      return false;
    }
    c.queue.push({ id: msg[1], body: msg[2], bytes });
    return true;
  }

  /** The first frame must be a hello of our protocol proving the cluster token: then the stranger is a peer, and we prove it back. */
  private acceptHello(c: Inbound, msg: readonly unknown[]): boolean {
    const [kind, version, nodeId, dialerNonce, proof] = msg;
    if (kind !== frameHello || version !== protocolVersion || typeof nodeId !== 'string' || nodeId.length > helloNodeIdCharsMax || !isNonce(dialerNonce)) {
      this.dropInbound(c, 'first frame is not a valid hello');
      return false;
    }
    const binding = channelBinding(c.socket);
    // The address the dialer meant is ours, as we announce it (gossip and /status carry this string).
    if (!proofMatches(dialerProof(this.token, c.nonce, dialerNonce, nodeId, this.boundAddress, binding), proof)) {
      this.dropInbound(c, 'hello does not prove the cluster token');
      return false;
    }
    c.peer = nodeId;
    this.preAuth.delete(c.socket);
    c.reader.setLimit(frameBytesMax);
    c.socket.write(encodeFrame([frameWelcome, this.nodeId, listenerProof(this.token, c.nonce, dialerNonce, nodeId, this.boundAddress, this.nodeId, binding)]));
    return true;
  }

  // Requests are served in order, a bounded number at a time, and only while the peer is
  // reading our replies: a peer that stops reading stops being served, not our memory.
  private pump(c: Inbound): void {
    const { socket } = c;
    while (c.outbox.length > 0 && socket.writableLength < replyBufferBytesMax && !socket.destroyed) this.reply(socket, c.outbox.shift()!);
    while (c.queue.length > 0 && c.outbox.length === 0 && c.serving < servingPerConnectionMax && socket.writableLength < replyBufferBytesMax && !socket.destroyed) {
      this.dispatch(c, c.queue.shift()!);
    }
    if (this.readable(c) && socket.isPaused() && !socket.destroyed) socket.resume();
  }

  /** Hands one request to the handler; its budget comes back when the handler settles. */
  private dispatch(c: Inbound, { id, body, bytes }: QueuedRequest): void {
    c.serving++;
    const from = c.peer!;
    const done = () => {
      c.serving--;
      this.giveBudget(c, bytes);
      this.pump(c);
    };
    this.handler(body, from).then(
      (reply) => {
        this.sendReply(c, [frameReply, id, reply]);
        done();
      },
      (err: unknown) => {
        const e = err as { code?: unknown; message?: unknown };
        if (e.code !== noReplyCode) this.sendReply(c, [frameFailure, id, typeof e.code === 'string' ? e.code : 'error', String(e.message ?? err)]);
        done();
      },
    );
  }

  // Replies that find the socket's buffer full wait in the outbox unencoded (one copy, not two)
  // and go out as it drains; while any wait, nothing new is served. So a peer that stops reading
  // holds at most replyBufferBytesMax in the socket plus the replies already being made.
  private sendReply(c: Inbound, frame: unknown[]): void {
    if (c.outbox.length > 0 || c.socket.writableLength >= replyBufferBytesMax) c.outbox.push(frame);
    else this.reply(c.socket, frame);
  }

  private teardown(c: Inbound): void {
    this.preAuth.delete(c.socket);
    this.receiving.delete(c.socket);
    this.inbound.delete(c.socket);
    if (c.waiting) this.starved = this.starved.filter((w) => w !== c.waiting);
    c.waiting = undefined;
    // What this connection held: its partial frame and requests never served. Requests
    // being served give theirs back when they finish.
    const unserved = c.queue.reduce((n, q) => n + q.bytes, 0);
    c.queue.length = 0;
    c.outbox.length = 0;
    const rest = c.reservedForFrame + unserved;
    c.reservedForFrame = 0;
    this.giveBudget(c, rest);
  }

  private reply(socket: net.Socket, frame: unknown[]): void {
    if (socket.destroyed) return;
    let parts: [Buffer, Buffer];
    try {
      parts = encodeFrameParts(frame);
    } catch (e) {
      parts = encodeFrameParts([frameFailure, frame[1], 'too_large', (e as Error).message]);
    }
    writeCoalesced(socket, ...parts);
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    for (const c of this.connections.values()) c.close();
    for (const s of this.inbound) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
