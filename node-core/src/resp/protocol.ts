// RESP2, the Redis serialization protocol (https://redis.io/docs/latest/develop/reference/protocol-spec/),
// as far as a server needs it: an incremental parser of client commands (multibulk arrays and
// inline lines) and encoders for the five reply types. Pure: no sockets, no clocks.
//
// Written here rather than taken from a library: the parsers on npm (redis-parser, the one in
// ioredis and node-redis) parse *replies*, the server's side of the conversation; we need the
// client's side, with limits checked on each header before any of its bytes are buffered.
//
// Every length a client declares is checked before it is believed: an array may name at most
// `respArgsMax` arguments, a bulk at most `respBulkBytesMax` bytes, a whole command at most
// `respCommandBytesMax`, an inline line at most `respInlineBytesMax`. Breaking one is a
// protocol error: the caller answers it and closes the connection, as Redis does.

import { valueBytesMax } from '../core/codec.js';

/** Arguments in one command: MSET of 1024 pairs and its name, or MGET/DEL of 2048 keys. */
export const respArgsMax = 2049;
/** One argument: a value at the value limit (keys are smaller). */
export const respBulkBytesMax = valueBytesMax;
/** One command, all its arguments together. */
export const respCommandBytesMax = 16 * 1024 * 1024;
/** An inline command (a line of text, as telnet sends), as Redis limits it. */
export const respInlineBytesMax = 64 * 1024;

const CR = 0x0d;
const LF = 0x0a;
const STAR = 0x2a; // '*'
const DOLLAR = 0x24; // '$'
/** Digits a length may have: 1 MiB needs 7, a count of 2049 needs 4. */
const lengthDigitsMax = 10;

export class RespProtocolError extends Error {}

/** A parsed command: its arguments as bytes, and the wire bytes it took (for the byte budget). */
export interface RespCommand {
  readonly args: Buffer[];
  readonly wireBytes: number;
}

/**
 * Told of each bulk's declared length as its header arrives, before its bytes are buffered;
 * `false` stops the parser there (the caller stops reading and calls `next` again later).
 */
export type BulkAdmission = (bytes: number, commandHeldBytes: number) => boolean;

/** Parses a stream of client commands; `feed` bytes as they come, then take commands with `next` until it returns undefined. */
export class RespParser {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  /** Reads not yet joined to `buf`: a bulk still arriving is joined once, when it is whole. */
  private chunks: Buffer[] = [];
  private chunkBytes = 0;
  // The command being read: its arguments so far, how many it has, and the bulk being waited for.
  private args: Buffer[] = [];
  private argc = -1;
  private bulkLen = -1;
  private commandStart = 0;
  /** Wire bytes of the current command that came before `buf` (parsed from earlier reads). */
  private carriedBytes = 0;
  private commandBytes = 0;
  /** Declared bulk bytes of the current command already admitted. */
  private admittedBytes = 0;

  constructor(private readonly admit: BulkAdmission = () => true) {}

  feed(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.chunkBytes += chunk.length;
    const buffered = this.buf.length - this.pos + this.chunkBytes;
    // A large value arrives in many reads: join them once it is all here, not at every read.
    if (this.bulkLen >= 0 && buffered < this.bulkLen + 2) return;
    // Outside a value every step needs a line's end: a read without one cannot complete
    // anything (a line sent a byte at a time is joined once, not at every byte).
    if (this.bulkLen < 0 && this.argc < 0 && this.firstUnparsed() !== STAR && chunk.indexOf(LF) < 0 && buffered <= respInlineBytesMax) return;
    this.join();
  }

  /** The first byte not parsed yet (in `buf` or the reads not joined). */
  private firstUnparsed(): number | undefined {
    return this.pos < this.buf.length ? this.buf[this.pos] : this.chunks[0]?.[0];
  }

  private join(): void {
    if (this.chunks.length === 0) return;
    const first = this.chunks.length === 1 && this.pos >= this.buf.length;
    // Parsed arguments are views of the old buffer and keep it alive; only the unparsed tail moves.
    const joined = first ? this.chunks[0]! : Buffer.concat([this.buf.subarray(this.pos), ...this.chunks]);
    this.carriedBytes += this.pos - this.commandStart;
    this.buf = joined;
    this.pos = 0;
    this.commandStart = 0;
    this.chunks = [];
    this.chunkBytes = 0;
  }

  /** Whether a command has started and not ended. */
  get midCommand(): boolean {
    return this.argc >= 0 || this.pos < this.buf.length || this.chunkBytes > 0;
  }

  /** The bulk bytes admitted for the command being read (released by the caller if it gives up). */
  get heldBytes(): number {
    return this.admittedBytes;
  }

  /** The next whole command, or undefined until more bytes arrive (or admission allows). Throws RespProtocolError. */
  next(): RespCommand | undefined {
    // A loop, not recursion, over the empty commands skipped: a client may send any number.
    for (;;) {
      if (this.argc < 0) {
        if (this.pos >= this.buf.length) return undefined;
        if (this.buf[this.pos] !== STAR) {
          const cmd = this.inline();
          if (cmd === 'skip') continue;
          return cmd;
        }
        const count = this.lengthLine(STAR, respArgsMax, 'multibulk length');
        if (count === undefined) return undefined;
        if (count <= 0) {
          // `*0` and `*-1` are empty commands: Redis skips them.
          this.endCommand();
          continue;
        }
        this.argc = count;
      }
      return this.arguments();
    }
  }

  /** The bulk strings of the command whose count was read. */
  private arguments(): RespCommand | undefined {
    while (this.args.length < this.argc) {
      if (this.bulkLen < 0) {
        if (this.pos >= this.buf.length) return undefined;
        if (this.buf[this.pos] !== DOLLAR) throw new RespProtocolError(`expected '$', got ${JSON.stringify(String.fromCharCode(this.buf[this.pos]!))}`);
        const save = this.pos;
        const len = this.lengthLine(DOLLAR, respBulkBytesMax, 'bulk length');
        if (len === undefined) return undefined;
        if (len < 0) throw new RespProtocolError('invalid bulk length');
        if (this.commandBytes + len > respCommandBytesMax) throw new RespProtocolError(`the command exceeds ${respCommandBytesMax} bytes`);
        if (!this.admit(len, this.admittedBytes)) {
          this.pos = save; // read the header again once admitted
          return undefined;
        }
        this.admittedBytes += len;
        this.bulkLen = len;
      }
      if (this.buf.length - this.pos < this.bulkLen + 2) return undefined;
      const end = this.pos + this.bulkLen;
      if (this.buf[end] !== CR || this.buf[end + 1] !== LF) throw new RespProtocolError('a bulk string must end with CRLF');
      this.args.push(this.buf.subarray(this.pos, end));
      this.commandBytes += this.bulkLen;
      this.pos = end + 2;
      this.bulkLen = -1;
    }
    const cmd: RespCommand = { args: this.args, wireBytes: this.carriedBytes + this.pos - this.commandStart };
    this.endCommand();
    return cmd;
  }

  private endCommand(): void {
    this.args = [];
    this.argc = -1;
    this.bulkLen = -1;
    this.commandBytes = 0;
    this.admittedBytes = 0;
    this.carriedBytes = 0;
    this.commandStart = this.pos;
    if (this.pos >= this.buf.length) {
      this.buf = Buffer.alloc(0);
      this.pos = 0;
      this.commandStart = 0;
    }
  }

  /** `*123\r\n` or `$45\r\n` at pos: the number, or undefined if the line is not complete yet. */
  private lengthLine(prefix: number, max: number, what: string): number | undefined {
    const start = this.pos + 1;
    const cr = this.buf.indexOf(CR, start);
    // Only the characters before the CR count: the same bytes parse the same wherever a read ends.
    const digits = (cr < 0 ? this.buf.length : cr) - start;
    if (digits > lengthDigitsMax + 1) throw new RespProtocolError(`invalid ${what}`);
    if (cr < 0 || cr + 1 >= this.buf.length) return undefined;
    if (this.buf[cr + 1] !== LF || digits === 0) throw new RespProtocolError(`invalid ${what}`);
    let i = start;
    const negative = this.buf[i] === 0x2d; // '-'
    if (negative) i++;
    // As Redis parses lengths: digits only, no sign but `-1`, no leading zeros.
    if (i === cr || (this.buf[i] === 0x30 && cr - i > 1)) throw new RespProtocolError(`invalid ${what}`);
    let n = 0;
    for (; i < cr; i++) {
      const d = this.buf[i]! - 0x30;
      if (d < 0 || d > 9) throw new RespProtocolError(`invalid ${what}`);
      n = n * 10 + d;
    }
    if (negative) {
      // Only `-1` (a null array or bulk) is a negative length.
      if (n !== 1) throw new RespProtocolError(`invalid ${what}`);
      n = -1;
    }
    if (n > max) throw new RespProtocolError(`invalid ${what}: ${n} is over the limit of ${max}${prefix === DOLLAR ? ' bytes' : ''}`);
    this.pos = cr + 2;
    return n;
  }

  /** A line of space-separated words (telnet, `redis-cli` in pipe mode sends multibulk). */
  private inline(): RespCommand | 'skip' | undefined {
    const lineEnd = this.buf.indexOf(LF, this.pos);
    if (lineEnd < 0) {
      if (this.buf.length - this.pos > respInlineBytesMax) throw new RespProtocolError('too big inline request');
      return undefined;
    }
    if (lineEnd - this.pos > respInlineBytesMax) throw new RespProtocolError('too big inline request');
    const textEnd = lineEnd > this.pos && this.buf[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
    const words = this.buf.subarray(this.pos, textEnd).toString('latin1').split(/[ \t]+/).filter((w) => w.length > 0);
    if (words.length > respArgsMax) throw new RespProtocolError('too many arguments in an inline request');
    this.pos = lineEnd + 1;
    const wireBytes = this.carriedBytes + this.pos - this.commandStart;
    this.endCommand();
    // An empty line is no command (telnet users press enter).
    if (words.length === 0) return 'skip';
    return { args: words.map((w) => Buffer.from(w, 'latin1')), wireBytes };
  }
}

// Replies. Each encoder returns the reply's bytes; a connection writes them in order.

const crlf = '\r\n';
export const okReply = Buffer.from('+OK\r\n');
export const pongReply = Buffer.from('+PONG\r\n');
export const nullBulkReply = Buffer.from('$-1\r\n');
export const emptyArrayReply = Buffer.from('*0\r\n');

export function simpleReply(text: string): Buffer {
  return Buffer.from(`+${oneLine(text)}${crlf}`);
}

/** An error reply: `code` is its first word (ERR, WRONGTYPE, NOAUTH, UNAVAILABLE...), as clients parse it. */
export function errorReply(code: string, message: string): Buffer {
  return Buffer.from(`-${code} ${oneLine(message)}${crlf}`);
}

export function integerReply(n: number): Buffer {
  return Buffer.from(`:${n}${crlf}`);
}

export function bulkReply(value: Uint8Array | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  const head = Buffer.from(`$${bytes.byteLength}${crlf}`);
  const out = Buffer.allocUnsafe(head.length + bytes.byteLength + 2);
  head.copy(out, 0);
  out.set(bytes, head.length);
  out[out.length - 2] = CR;
  out[out.length - 1] = LF;
  return out;
}

/** An array of replies already encoded. */
export function arrayReply(items: readonly Buffer[]): Buffer {
  return Buffer.concat([Buffer.from(`*${items.length}${crlf}`), ...items]);
}

/** Simple strings and errors are one line: CR and LF inside one would end it early. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}
