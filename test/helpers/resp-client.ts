// A small raw RESP2 client for the integration tests, over node:net: it sends commands (one at
// a time, or many in one socket write), sends arbitrary bytes (hostile input), and parses every
// reply type, error replies and nested arrays included. Independent of the server's own
// protocol.ts on purpose: a test that parsed with the code under test could not catch its bugs.
//
//   const c = await RespClient.connect(status.listeners.resp, { token });
//   assert.equal(await c.command('PING'), 'PONG');
//
// Every wait is bounded in time (`replyTimeoutMs`), so a server that never answers fails the
// test with a message instead of hanging it.

import net from 'node:net';

export const replyTimeoutMs = 15_000;

/** An error reply (`-CODE message`); `code` is its first word, as clients read it. */
export class RespError {
  readonly code: string;
  constructor(readonly line: string) {
    this.code = line.split(' ', 1)[0] ?? '';
  }
}

/**
 * A parsed reply: simple string -> string, error -> RespError, integer -> number,
 * bulk -> Buffer, null bulk or null array -> null, array -> RespReply[].
 */
export type RespReply = string | number | Buffer | RespError | null | RespReply[];

export type RespArg = string | Buffer;

/** The multibulk encoding of one command. */
export function encodeCommand(args: readonly RespArg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const bytes = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

const CRLF = Buffer.from('\r\n');
/** A reply line (not a bulk) longer than this is the server's bug, not a reply still arriving. */
const lineBytesMax = 64 * 1024;

/** One reply at `pos`: the value and where it ends, or undefined if it is not all here yet. Throws on bytes no RESP2 server sends. */
export function parseReply(buf: Buffer, pos: number): { value: RespReply; end: number } | undefined {
  if (pos >= buf.length) return undefined;
  const lineEnd = buf.indexOf(CRLF, pos);
  if (lineEnd < 0) {
    if (buf.length - pos > lineBytesMax) throw new Error(`a reply line over ${lineBytesMax} bytes`);
    return undefined;
  }
  const type = String.fromCharCode(buf[pos]!);
  const line = buf.subarray(pos + 1, lineEnd).toString('latin1');
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new RespError(line), end: next };
    case ':':
      if (!/^-?\d+$/.test(line)) throw new Error(`bad integer reply ${JSON.stringify(line)}`);
      return { value: Number(line), end: next };
    case '$': {
      const len = lengthOf(line);
      if (len < 0) return { value: null, end: next };
      if (buf.length < next + len + 2) return undefined;
      if (buf[next + len] !== 0x0d || buf[next + len + 1] !== 0x0a) throw new Error('a bulk reply not ended by CRLF');
      return { value: Buffer.from(buf.subarray(next, next + len)), end: next + len + 2 };
    }
    case '*': {
      const count = lengthOf(line);
      if (count < 0) return { value: null, end: next };
      const items: RespReply[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, at);
        if (!item) return undefined;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new Error(`not a RESP2 reply: type byte ${JSON.stringify(type)} in ${JSON.stringify(buf.subarray(pos, pos + 40).toString('latin1'))}`);
  }
}

function lengthOf(line: string): number {
  if (!/^(-1|\d+)$/.test(line)) throw new Error(`bad length ${JSON.stringify(line)}`);
  return Number(line);
}

interface Waiter {
  readonly count: number;
  readonly resolve: (replies: RespReply[]) => void;
  readonly reject: (e: Error) => void;
}

export class RespClient {
  private buf: Buffer = Buffer.alloc(0);
  private readonly replies: RespReply[] = [];
  private waiter: Waiter | undefined;
  private failure: Error | undefined;
  private ended = false;
  /** Resolves once the server has closed the connection (or it failed). */
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', (e) => this.fail(e));
    socket.on('end', () => {
      this.ended = true;
      this.fail(new Error('the server closed the connection'));
    });
  }

  /** Connects to `address` ("host:port"); with `token`, sends AUTH first and requires +OK. */
  static async connect(address: string, opts: { token?: string } = {}): Promise<RespClient> {
    const [host, port] = splitAddress(address);
    const socket = net.connect({ host, port });
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('error', reject);
      }),
      `connecting to ${address}`,
    );
    const client = new RespClient(socket);
    if (opts.token !== undefined) {
      const ok = await client.command('AUTH', opts.token);
      if (ok !== 'OK') throw new Error(`AUTH answered ${describe(ok)}`);
    }
    return client;
  }

  /** Sends one command and waits for its reply. */
  async command(...args: RespArg[]): Promise<RespReply> {
    const [reply] = await this.pipeline([args]);
    return reply!;
  }

  /** Sends every command in one socket write; the replies, in order. */
  pipeline(commands: readonly (readonly RespArg[])[]): Promise<RespReply[]> {
    this.write(Buffer.concat(commands.map(encodeCommand)));
    return this.read(commands.length);
  }

  /** Writes bytes as they are (hostile input, half a command). */
  write(bytes: Buffer): boolean {
    return this.socket.write(bytes);
  }

  /** The next `count` replies. */
  read(count: number): Promise<RespReply[]> {
    if (this.waiter) throw new Error('one read at a time');
    const p = new Promise<RespReply[]>((resolve, reject) => {
      this.waiter = { count, resolve, reject };
    });
    // Wrapped before settling: a failure already known rejects a promise that has a handler.
    const out = withTimeout(p, () => `${count} replies (${this.replies.length} arrived, the server ${this.ended ? 'closed the connection' : 'kept it open'})`, () => {
      this.waiter = undefined;
    });
    this.settle();
    return out;
  }

  /** Waits until the server closes the connection; fails if it has not within the timeout. */
  async waitClosed(): Promise<void> {
    await withTimeout(this.closed, 'the server closing the connection');
  }

  /** Whether the server has ended the connection. */
  get serverEnded(): boolean {
    return this.ended;
  }

  /** Replies that arrived and were not read yet. */
  get unread(): number {
    return this.replies.length;
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let pos = 0;
    try {
      for (let r = parseReply(this.buf, pos); r; r = parseReply(this.buf, pos)) {
        this.replies.push(r.value);
        pos = r.end;
      }
    } catch (e) {
      this.fail(e as Error);
      this.socket.destroy();
      return;
    }
    this.buf = this.buf.subarray(pos);
    this.settle();
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.settle();
  }

  private settle(): void {
    const w = this.waiter;
    if (!w) return;
    if (this.replies.length >= w.count) {
      this.waiter = undefined;
      w.resolve(this.replies.splice(0, w.count));
    } else if (this.failure) {
      this.waiter = undefined;
      w.reject(new Error(`${this.failure.message} after ${this.replies.length} of ${w.count} replies${this.replies.length > 0 ? ` (last: ${describe(this.replies[this.replies.length - 1]!)})` : ''}`));
    }
  }
}

/** A short printable form of a reply, for assertion messages. */
export function describe(r: RespReply): string {
  if (r === null) return 'null';
  if (r instanceof RespError) return `-${r.line}`;
  if (Buffer.isBuffer(r)) return `$${r.length}:${JSON.stringify(r.subarray(0, 60).toString('latin1'))}`;
  if (Array.isArray(r)) return `[${r.slice(0, 8).map(describe).join(', ')}${r.length > 8 ? ', ...' : ''}]`;
  return typeof r === 'string' ? `+${r}` : `:${r}`;
}

/** A bulk reply as a string (utf8), failing if the reply is something else. */
export function bulkText(r: RespReply): string {
  if (!Buffer.isBuffer(r)) throw new Error(`expected a bulk reply, got ${describe(r)}`);
  return r.toString('utf8');
}

export function splitAddress(address: string): [string, number] {
  const m = /^(.+):(\d+)$/.exec(address);
  if (!m) throw new Error(`not host:port: ${JSON.stringify(address)}`);
  return [m[1]!, Number(m[2])];
}

function withTimeout<T>(p: Promise<T>, what: string | (() => string), onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`timed out after ${replyTimeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`));
    }, replyTimeoutMs);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
