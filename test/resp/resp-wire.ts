// What the RESP tests (test/resp/*.test.ts) share: a client's encoding of commands, written
// here independently of node-core/src/resp/protocol.ts so the parser is not checked against
// itself; a decoder of RESP2 replies, so an encoder's bytes are read back the way a client
// reads them; and a loop that drains a RespParser with a bound, so a parser that stops making
// progress fails a test instead of hanging it.

import type { RespCommand, RespParser } from '../../node-core/src/resp/protocol.js';

/** A command as a client sends it: `*<argc>\r\n` then `$<len>\r\n<bytes>\r\n` per argument. */
export function multibulk(args: readonly (Buffer | string)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`, 'latin1')];
  for (const a of args) {
    const bytes = typeof a === 'string' ? Buffer.from(a, 'latin1') : a;
    parts.push(Buffer.from(`$${bytes.byteLength}\r\n`, 'latin1'), bytes, Buffer.from('\r\n', 'latin1'));
  }
  return Buffer.concat(parts);
}

/** A command in a comparable form: its arguments as latin1 (one character per byte, lossless). */
export interface SeenCommand {
  readonly args: string[];
  readonly wireBytes: number;
}

export function seen(cmd: RespCommand): SeenCommand {
  return { args: cmd.args.map((a) => a.toString('latin1')), wireBytes: cmd.wireBytes };
}

/**
 * Every command the parser can give now, pushed onto `out` as it comes (so the commands before
 * a RespProtocolError are kept). `bound` caps the calls: each command takes at least one byte,
 * so a parser asked more often than it has bytes is not making progress.
 */
export function drain(parser: RespParser, bound: number, out: SeenCommand[] = []): SeenCommand[] {
  for (let i = 0; i <= bound; i++) {
    const cmd = parser.next();
    if (cmd === undefined) return out;
    out.push(seen(cmd));
  }
  throw new Error(`the parser gave more than ${bound} commands from ${bound} bytes: it is not making progress`);
}

export { chunked } from '../helpers/chunked.js';

/** A decoded RESP2 reply: simple string, error, integer, bulk (null: the null bulk), array (null: the null array). */
export type Reply = { readonly simple: string } | { readonly error: string } | number | Buffer | null | Reply[];

/** Decodes exactly one reply that fills `bytes`; throws on anything else (trailing bytes, a short reply, a bad header). */
export function decodeReply(bytes: Buffer): Reply {
  const { reply, end } = decodeAt(bytes, 0);
  if (end !== bytes.byteLength) throw new Error(`${bytes.byteLength - end} bytes after the reply: ${JSON.stringify(bytes.subarray(end).toString('latin1'))}`);
  return reply;
}

function lineAt(bytes: Buffer, at: number): { line: string; next: number } {
  const cr = bytes.indexOf('\r\n', at, 'latin1');
  if (cr < 0) throw new Error(`reply line not ended by CRLF at ${at}`);
  const line = bytes.subarray(at + 1, cr).toString('utf8');
  if (/[\r\n]/.test(line)) throw new Error('a reply line holds CR or LF');
  return { line, next: cr + 2 };
}

function integerOf(text: string): number {
  if (!/^-?\d+$/.test(text)) throw new Error(`not an integer: ${JSON.stringify(text)}`);
  return Number(text);
}

function decodeAt(bytes: Buffer, at: number): { reply: Reply; end: number } {
  const { line, next } = lineAt(bytes, at);
  switch (String.fromCharCode(bytes[at]!)) {
    case '+':
      return { reply: { simple: line }, end: next };
    case '-':
      return { reply: { error: line }, end: next };
    case ':':
      return { reply: integerOf(line), end: next };
    case '$': {
      const n = integerOf(line);
      if (n === -1) return { reply: null, end: next };
      if (n < 0 || next + n + 2 > bytes.byteLength) throw new Error(`bad bulk length ${n}`);
      if (bytes[next + n] !== 0x0d || bytes[next + n + 1] !== 0x0a) throw new Error('bulk not ended by CRLF');
      return { reply: Buffer.from(bytes.subarray(next, next + n)), end: next + n + 2 };
    }
    case '*': {
      const n = integerOf(line);
      if (n === -1) return { reply: null, end: next };
      if (n < 0) throw new Error(`bad array length ${n}`);
      const items: Reply[] = [];
      let end = next;
      for (let i = 0; i < n; i++) {
        const item = decodeAt(bytes, end);
        items.push(item.reply);
        end = item.end;
      }
      return { reply: items, end };
    }
    default:
      throw new Error(`unknown reply type ${JSON.stringify(String.fromCharCode(bytes[at]!))}`);
  }
}

/** A reply with bulks as latin1 strings, for deepEqual against literals. */
export type Plain = { readonly simple: string } | { readonly error: string } | number | string | null | Plain[];

export function plain(r: Reply): Plain {
  if (Buffer.isBuffer(r)) return r.toString('latin1');
  if (Array.isArray(r)) return r.map(plain);
  return r;
}
