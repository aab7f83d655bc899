// The load generator's connections: one RESP or HTTP/1.1 keep-alive connection each, sending
// GETs and SETs/PUTs and telling each caller, in order, how its request ended.
//
// Written by hand, not with ioredis or node:http: a load generator must cost far less CPU than
// the server it measures, and on a 2-core machine every cycle it spends is taken from the
// server. General clients parse every header and reply field into objects; these only find
// where each reply ends and what kind it is (measured in docs/performance.md against
// redis-benchmark and wrk on the same servers).

import net from 'node:net';

/** How a request ended: `ok`, `not_found`, or an error kind (`http_503`, `resp_UNAVAILABLE`, `closed`...). */
export type Done = (kind: string) => void;

export interface Channel {
  read(key: string, done: Done): void;
  update(key: string, value: Buffer, done: Done): void;
  /** Requests sent and not yet answered. */
  readonly outstanding: number;
  close(): void;
}

export interface Endpoint {
  readonly protocol: 'resp' | 'http';
  readonly host: string;
  readonly port: number;
  readonly token?: string | undefined;
}

const CR = 0x0d;
const LF = 0x0a;

function connect(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, noDelay: true });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Callers waiting for replies in order; a dead connection ends them all as `closed`. */
class Pending {
  private readonly q: Done[] = [];
  private head = 0;

  push(d: Done): void {
    this.q.push(d);
  }

  shift(kind: string): void {
    const d = this.q[this.head++];
    if (this.head > 1024) {
      this.q.splice(0, this.head);
      this.head = 0;
    }
    d?.(kind);
  }

  get size(): number {
    return this.q.length - this.head;
  }

  failAll(kind: string): void {
    while (this.size > 0) this.shift(kind);
  }
}

/** A RESP connection: `GET key` and `SET key value`, replies scanned for their ends only. */
export class RespChannel implements Channel {
  private readonly pending = new Pending();
  private rest: Buffer | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.pending.failAll('closed'));
  }

  static async open(ep: Endpoint): Promise<RespChannel> {
    const c = new RespChannel(await connect(ep.host, ep.port));
    if (ep.token !== undefined) {
      const kind = await new Promise<string>((resolve) => {
        c.pending.push(resolve);
        c.socket.write(command(['AUTH', ep.token!]));
      });
      if (kind !== 'ok') throw new Error(`AUTH refused (${kind})`);
    }
    return c;
  }

  get outstanding(): number {
    return this.pending.size;
  }

  read(key: string, done: Done): void {
    this.pending.push(done);
    this.socket.write(command(['GET', key]));
  }

  update(key: string, value: Buffer, done: Done): void {
    this.pending.push(done);
    this.socket.write(command(['SET', key], value));
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      const end = replyEnd(buf, pos);
      if (end < 0) break;
      this.pending.shift(replyKind(buf, pos));
      pos = end;
    }
    this.rest = pos < buf.length ? buf.subarray(pos) : undefined;
  }
}

/** A command as a RESP array of bulk strings; `value` (bytes) goes last. */
function command(words: readonly string[], value?: Buffer): Buffer {
  let head = `*${words.length + (value ? 1 : 0)}\r\n`;
  for (const w of words) head += `$${Buffer.byteLength(w)}\r\n${w}\r\n`;
  if (!value) return Buffer.from(head);
  head += `$${value.length}\r\n`;
  const out = Buffer.allocUnsafe(Buffer.byteLength(head) + value.length + 2);
  const n = out.write(head, 'latin1');
  value.copy(out, n);
  out[out.length - 2] = CR;
  out[out.length - 1] = LF;
  return out;
}

/** Where the reply at `pos` ends, or -1 if it has not all arrived (arrays are not expected here). */
function replyEnd(buf: Buffer, pos: number): number {
  if (pos >= buf.length) return -1;
  const lineEnd = buf.indexOf(LF, pos);
  if (lineEnd < 0) return -1;
  if (buf[pos] !== 0x24) return lineEnd + 1; // + - : lines
  const len = Number(buf.toString('latin1', pos + 1, lineEnd - 1));
  if (len < 0) return lineEnd + 1;
  const end = lineEnd + 1 + len + 2;
  return end <= buf.length ? end : -1;
}

function replyKind(buf: Buffer, pos: number): string {
  const t = buf[pos];
  if (t === 0x2d) {
    const space = buf.indexOf(0x20, pos);
    const lineEnd = buf.indexOf(CR, pos);
    return `resp_${buf.toString('latin1', pos + 1, space > 0 && space < lineEnd ? space : lineEnd)}`;
  }
  if (t === 0x24 && buf[pos + 1] === 0x2d) return 'not_found';
  return 'ok';
}

/**
 * An HTTP/1.1 keep-alive connection to the key-value API: `GET /kv/key` and `PUT /kv/key`.
 * A PUT carries the context the connection's target last returned for its key (shared by
 * every connection to the target), as a read-modify-write client does; a server that sends
 * no X-Gyre-Context (the bare comparison server) gets none.
 */
export class HttpChannel implements Channel {
  private readonly pending = new Pending();
  private rest: Buffer | undefined;
  private readonly keys: string[] = [];
  private readonly fixedHeaders: string;

  private constructor(
    private readonly socket: net.Socket,
    ep: Endpoint,
    private readonly contexts: Map<string, string>,
  ) {
    this.fixedHeaders = `Host: ${ep.host}:${ep.port}\r\n${ep.token ? `Authorization: Bearer ${ep.token}\r\n` : ''}`;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.pending.failAll('closed'));
  }

  static async open(ep: Endpoint, contexts: Map<string, string>): Promise<HttpChannel> {
    return new HttpChannel(await connect(ep.host, ep.port), ep, contexts);
  }

  get outstanding(): number {
    return this.pending.size;
  }

  read(key: string, done: Done): void {
    this.pending.push(done);
    this.keys.push(key);
    this.socket.write(`GET /kv/${encodeURIComponent(key)} HTTP/1.1\r\n${this.fixedHeaders}\r\n`, 'latin1');
  }

  update(key: string, value: Buffer, done: Done): void {
    this.pending.push(done);
    this.keys.push(key);
    const ctx = this.contexts.get(key);
    const head = `PUT /kv/${encodeURIComponent(key)} HTTP/1.1\r\n${this.fixedHeaders}Content-Length: ${value.length}\r\n${ctx ? `X-Gyre-Context: ${ctx}\r\n` : ''}\r\n`;
    const out = Buffer.allocUnsafe(head.length + value.length);
    out.write(head, 'latin1');
    value.copy(out, head.length);
    this.socket.write(out);
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    let pos = 0;
    while (pos < buf.length) {
      const headEnd = buf.indexOf('\r\n\r\n', pos, 'latin1');
      if (headEnd < 0) break;
      const head = buf.toString('latin1', pos, headEnd);
      const lengthMatch = /\r\ncontent-length: *(\d+)/i.exec(head);
      const bodyLen = lengthMatch ? Number(lengthMatch[1]) : 0;
      const end = headEnd + 4 + bodyLen;
      if (end > buf.length) break;
      const status = Number(head.slice(9, 12));
      const key = this.keys.shift()!;
      const ctx = /\r\nx-gyre-context: *([^\r]*)/i.exec(head);
      if (ctx && ctx[1]) this.contexts.set(key, ctx[1]);
      this.pending.shift(status >= 200 && status < 300 ? 'ok' : status === 404 ? 'not_found' : status === 300 ? 'ok' : `http_${status}`);
      pos = end;
    }
    this.rest = pos < buf.length ? buf.subarray(pos) : undefined;
  }
}

export function openChannel(ep: Endpoint, contexts: Map<string, string>): Promise<Channel> {
  return ep.protocol === 'resp' ? RespChannel.open(ep) : HttpChannel.open(ep, contexts);
}
