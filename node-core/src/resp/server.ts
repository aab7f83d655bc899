// The RESP front end: a TCP server speaking RESP2 to redis-cli, redis-benchmark, ioredis,
// redis-py and the like, over the same coordinator as the HTTP API (commands.ts says what each
// command does, protocol.ts parses and encodes).
//
// Per connection:
// - Pipelining: commands run as soon as they are parsed, several at once, and their replies
//   are written in the order the commands came. Two commands touching the same key run one
//   after the other, in order (a pipelined SET then GET of a key reads the SET); commands on
//   different keys overlap, as requests from different clients do.
// - One write per tick: the replies ready in one turn of the event loop go out in one write.
// - Bounded: at most `respCommandsInFlightMax` commands running; reading stops while the
//   socket holds more than `respReplyBytesQueuedMax` unsent bytes (a client that does not read
//   its replies stops being read), and while the node-wide byte budget is full.
// Node-wide: a budget of declared argument bytes (`respBytesInFlightMax`), reserved as each
// bulk's header arrives, before its bytes are buffered. A command that holds nothing waits for
// room (its connection is not read meanwhile); one that already holds part of the budget and
// cannot get more is refused and its connection closed, so two half-received commands never
// wait on each other. A command must arrive whole within `respCommandReceiveMs`.

import { roleOf, type Credentials } from '../node/secrets.js';
import net from 'node:net';
import tls from 'node:tls';
import { type RespNode, type RespSession, type TokenCheck, closesConnection, commandKeys, commandName, runCommand } from './commands.js';
import { type RespCommand, RespParser, RespProtocolError, errorReply } from './protocol.js';
import { atEndOfTurn } from '../runtime/end-of-turn.js';

export const respConnectionsMax = 1024;
export const respCommandsInFlightMax = 128;
export const respReplyBytesQueuedMax = 1024 * 1024;
/** A connection holding more unsent reply bytes than this is closed (Redis's client-output-buffer-limit). */
export const respReplyBytesQueuedHardMax = 64 * 1024 * 1024;
/** Unsent reply bytes node-wide past which no connection starts another command. */
export const respReplyBytesQueuedNodeMax = 256 * 1024 * 1024;
export const respBytesInFlightMax = 64 * 1024 * 1024;
/** Time a client has to send the rest of a command it started. */
export const respCommandReceiveMs = 60_000;
/** How often the server looks for commands that stalled mid-way (one sweep, not a timer per connection). */
const stallSweepMs = 5000;

/** What the server is told of each command, for metrics and the console's op windows. */
export type CommandObserver = (name: string, reply: Buffer, ms: number) => void;

export interface RespServerOptions {
  /** AUTH takes the cluster token or the admin token (RESP has no admin commands); without a cluster token none is needed. */
  readonly credentials: Credentials;
  /** TLS for every connection (the node's certificate); plain TCP without. */
  readonly tls?: tls.TlsOptions | undefined;
  readonly observe?: CommandObserver;
}

/** The node-wide budget of argument bytes held by commands being received or run. */
class ByteBudget {
  held = 0;
  private readonly waiting = new Set<Connection>();

  constructor(private readonly max: number) {}

  /** 'ok' (taken), 'wait' (nothing held by the command: try again once bytes are released) or 'refuse'. */
  take(bytes: number, commandHolds: number, conn: Connection): 'ok' | 'wait' | 'refuse' {
    if (this.held + bytes <= this.max || this.held === 0) {
      this.held += bytes;
      return 'ok';
    }
    if (commandHolds > 0) return 'refuse';
    this.waiting.add(conn);
    return 'wait';
  }

  /** Counts bytes already in memory (an inline command, a command's headers): never refused. */
  force(bytes: number): void {
    this.held += bytes;
  }

  release(bytes: number): void {
    if (bytes === 0) return;
    this.held -= bytes;
    // Wake the waiters: each tries again and may go back to waiting.
    const waiters = [...this.waiting];
    this.waiting.clear();
    for (const c of waiters) c.wake();
  }

  forget(conn: Connection): void {
    this.waiting.delete(conn);
  }
}

interface Slot {
  reply: Buffer | undefined;
  /** The connection closes once this reply is written (QUIT, a protocol error). */
  closes: boolean;
}

class Connection {
  private readonly parser: RespParser;
  private readonly slots: Slot[] = [];
  private inFlight = 0;
  /** Budget bytes held by the command being received (moved to the command once it is whole). */
  private receivingBytes = 0;
  private waitingBudget = false;
  private flushScheduled = false;
  private closing = false;
  /** Per key (latin1 of its bytes): the end of the last command of this connection touching it. */
  private readonly keyTails = new Map<string, Promise<void>>();
  /** When the command now being received began arriving (for the stall sweep). */
  partialSinceMs: number | undefined;
  /** This connection's share of the node's unsent reply bytes, as of its last write or drain. */
  private queued = 0;

  constructor(
    readonly socket: net.Socket,
    private readonly session: RespSession,
    private readonly server: RespFrontEnd,
  ) {
    this.parser = new RespParser((bytes, commandHolds) => this.admit(bytes, commandHolds));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.parser.feed(chunk);
      this.pump();
    });
    socket.on('drain', () => {
      this.noteQueued();
      this.pump();
      this.server.wakeOutputWaiters();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.closed());
  }

  private admit(bytes: number, commandHolds: number): boolean {
    const got = this.server.budget.take(bytes, commandHolds, this);
    if (got === 'ok') {
      this.receivingBytes += bytes;
      this.waitingBudget = false;
      return true;
    }
    if (got === 'refuse') throw new RespProtocolError(`overloaded: arguments in flight on this node would exceed ${respBytesInFlightMax} bytes; retry shortly`);
    this.waitingBudget = true;
    return false;
  }

  /** The budget (or the node's reply queue) has room again. */
  wake(): void {
    this.waitingBudget = false;
    this.pump();
  }

  /** Parses and starts every command it can, within the limits. */
  private pump(): void {
    let parsed = false;
    while (!this.blocked()) {
      let cmd: RespCommand | undefined;
      try {
        cmd = this.parser.next();
      } catch (e) {
        // Anything else would be a bug of ours; it still costs this connection, never the node.
        this.refuse(e instanceof RespProtocolError ? e.message : `unparsable input (${String(e)})`);
        break;
      }
      if (!cmd) break;
      parsed = true;
      this.start(cmd);
    }
    // The stall clock runs while bytes are buffered and no command got parsed from them: it
    // restarts with every command parsed.
    this.partialSinceMs = !this.parser.midCommand ? undefined : parsed || this.partialSinceMs === undefined ? Date.now() : this.partialSinceMs;
    this.updateReading();
  }

  /** A protocol error: answered after the replies before it, then the connection closes (as Redis does). */
  refuse(message: string): void {
    this.closing = true;
    this.slots.push({ reply: errorReply('ERR', `Protocol error: ${message}`), closes: true });
    this.scheduleFlush();
  }

  private start(cmd: RespCommand): void {
    const slot: Slot = { reply: undefined, closes: false };
    this.slots.push(slot);
    this.inFlight++;
    // The whole command counts while it runs: its bulks were reserved as they came, the rest
    // (headers, or an inline line) is in memory already.
    const bytes = Math.max(cmd.wireBytes, this.receivingBytes);
    this.server.budget.force(bytes - this.receivingBytes);
    this.receivingBytes = 0;
    const name = commandName(cmd.args[0]!);
    if (closesConnection(cmd.args)) {
      slot.closes = true;
      this.closing = true;
    }
    const startedMs = performance.now();
    const run = () => runCommand(this.server.node, cmd.args, this.session, this.server.tokenOk);
    const keys = commandKeys(cmd.args).map((k) => k.toString('latin1'));
    const prior = keys.flatMap((k) => this.keyTails.get(k) ?? []);
    const reply = prior.length === 0 ? run() : Promise.all(prior).then(run);
    const done = reply.then(
      (r) => this.finish(slot, r, bytes, name, startedMs),
      (e: unknown) => this.finish(slot, errorReply('ERR', `internal error: ${String(e)}`), bytes, name, startedMs),
    );
    for (const k of keys) {
      this.keyTails.set(k, done);
      void done.then(() => {
        if (this.keyTails.get(k) === done) this.keyTails.delete(k);
      });
    }
  }

  private finish(slot: Slot, reply: Buffer, bytes: number, name: string, startedMs: number): void {
    slot.reply = reply;
    this.inFlight--;
    this.server.budget.release(bytes);
    this.server.observe?.(name, reply, performance.now() - startedMs);
    this.scheduleFlush();
    if (!this.closing) this.pump();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    atEndOfTurn(() => this.flush());
  }

  /** Writes the replies ready at the head of the queue, in order, in one write. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.socket.destroyed) return;
    let n = 0;
    let closes = false;
    while (n < this.slots.length && this.slots[n]!.reply !== undefined) {
      closes = this.slots[n]!.closes;
      n++;
      if (closes) break;
    }
    if (n === 0) return;
    const ready = this.slots.splice(0, n);
    this.socket.write(n === 1 ? ready[0]!.reply! : Buffer.concat(ready.map((s) => s.reply!)));
    this.noteQueued();
    if (this.socket.writableLength > respReplyBytesQueuedHardMax) {
      // A client this far behind reading its replies is dropped, as Redis drops it.
      this.closing = true;
      this.socket.destroy();
      return;
    }
    if (closes) {
      this.slots.length = 0;
      this.socket.end();
      return;
    }
    this.updateReading();
  }

  /**
   * Whether the connection may start no command now, and so is not read either: closing,
   * waiting for the byte budget, at its limit of commands running, or its client (or the
   * node's clients together) not reading replies. Commands already read wait too: starting
   * them would only pile more replies into the queues.
   */
  private blocked(): boolean {
    return this.closing || this.waitingBudget || this.inFlight >= respCommandsInFlightMax || this.socket.writableLength > respReplyBytesQueuedMax || !this.server.outputRoom(this);
  }

  private updateReading(): void {
    const stop = this.blocked();
    if (stop && !this.socket.isPaused()) this.socket.pause();
    else if (!stop && this.socket.isPaused()) this.socket.resume();
  }

  private noteQueued(): void {
    const now = this.socket.destroyed ? 0 : this.socket.writableLength;
    this.server.queuedOutput += now - this.queued;
    this.queued = now;
  }

  private closed(): void {
    this.closing = true;
    this.server.queuedOutput -= this.queued;
    this.queued = 0;
    this.server.outputWaiters.delete(this);
    this.server.budget.forget(this);
    // The command being received will never run: its bytes go back. Running ones release theirs as they end.
    this.server.budget.release(this.receivingBytes);
    this.receivingBytes = 0;
    this.server.connections.delete(this);
  }
}

/** The server and what its connections share. */
class RespFrontEnd {
  readonly budget = new ByteBudget(respBytesInFlightMax);
  readonly connections = new Set<Connection>();
  readonly tokenOk: TokenCheck | undefined;
  readonly observe: CommandObserver | undefined;
  private nextId = 1;

  constructor(
    readonly node: RespNode,
    opts: RespServerOptions,
  ) {
    const c = opts.credentials;
    this.tokenOk = c.cluster === undefined ? undefined : (candidate) => roleOf(c, candidate) !== undefined;
    this.observe = opts.observe;
  }

  /** Unsent reply bytes of all connections. */
  queuedOutput = 0;
  /** Connections that stopped starting commands because the node's reply queue was full. */
  readonly outputWaiters = new Set<Connection>();

  /** Whether `conn` may start another command as far as the node's reply queue goes. */
  outputRoom(conn: Connection): boolean {
    if (this.queuedOutput <= respReplyBytesQueuedNodeMax) return true;
    this.outputWaiters.add(conn);
    return false;
  }

  wakeOutputWaiters(): void {
    if (this.queuedOutput > respReplyBytesQueuedNodeMax || this.outputWaiters.size === 0) return;
    const waiting = [...this.outputWaiters];
    this.outputWaiters.clear();
    for (const c of waiting) c.wake();
  }

  accept(socket: net.Socket): void {
    const session: RespSession = { id: this.nextId++, authenticated: false, name: '' };
    this.connections.add(new Connection(socket, session, this));
  }

  /** Closes connections whose command stalled part-way. */
  sweep(nowMs: number): void {
    for (const c of this.connections) {
      if (c.partialSinceMs !== undefined && nowMs - c.partialSinceMs > respCommandReceiveMs) {
        c.refuse(`the command did not arrive whole within ${respCommandReceiveMs / 1000} s`);
        c.partialSinceMs = undefined;
      }
    }
  }
}

export interface RespServer {
  readonly server: net.Server;
  /** Connections open now. */
  connectionCount(): number;
  close(): Promise<void>;
}

export function createRespServer(node: RespNode, opts: RespServerOptions): RespServer {
  const front = new RespFrontEnd(node, opts);
  const server = opts.tls ? tls.createServer(opts.tls, (socket) => front.accept(socket)) : net.createServer((socket) => front.accept(socket));
  server.maxConnections = respConnectionsMax;
  const sweep = setInterval(() => front.sweep(Date.now()), stallSweepMs);
  sweep.unref();
  return {
    server,
    connectionCount: () => front.connections.size,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(sweep);
        for (const c of front.connections) c.socket.destroy();
        server.close(() => resolve());
      }),
  };
}
