// RespParser (node-core/src/resp/protocol.ts) as properties (STYLE 14):
// - Streams of valid commands (multibulk with binary arguments, some large; inline lines;
//   the empty commands Redis skips) give exactly their commands and wireBytes however TCP cuts
//   them, and however often the admission callback refuses a bulk and is asked again.
// - Any bytes at all (random, RESP-shaped token soup, valid streams edited at the byte level),
//   cut anywhere, either parse or raise RespProtocolError, never another exception, never a
//   parser that stops making progress; and what they parse to agrees with an independent model
//   of the format and its limits, written below from the protocol's description.
//
// Runs: fuzzParams (GYRE_FUZZ_RUNS, default 2000) for the cheap properties; the ones whose
// streams carry large bulks run a fixed share of it. A failure prints fast-check's seed and
// path: GYRE_FUZZ_SEED and GYRE_FUZZ_PATH replay exactly that run. For a long run:
// `GYRE_FUZZ_RUNS=100000 node --test dist/test/resp/` (npm run fuzz covers dist/test/fuzz/ only).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RespParser, RespProtocolError, respArgsMax, respBulkBytesMax, respCommandBytesMax, respInlineBytesMax } from '../../node-core/src/resp/protocol.js';
import { byteEditsArb, fuzzParams, fuzzRuns, mutateBytes } from '../fuzz/fuzz.js';
import { type SeenCommand, chunked, drain, multibulk } from './resp-wire.js';

/** A share of GYRE_FUZZ_RUNS (at least `base`) for properties whose runs are costly. */
function runsOf(base: number, divisor: number): number {
  return Math.max(base, Math.floor(fuzzRuns() / divisor));
}

const latin1 = (s: string) => Buffer.from(s, 'latin1');

// ---------------------------------------------------------------------------------------------
// Valid streams.

/** Bytes on the wire, and the command they are (none: an empty command, skipped). */
interface Piece {
  readonly bytes: Buffer;
  readonly command: SeenCommand | undefined;
}

function commandPiece(args: readonly Buffer[], bytes: Buffer): Piece {
  return { bytes, command: { args: args.map((a) => a.toString('latin1')), wireBytes: bytes.byteLength } };
}

/** Arguments that look like RESP framing, or hold CR and LF, beside arbitrary bytes. */
const bulkArgArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.constantFrom('', '\r\n', '\r', '\n', '*1\r\n', '$3\r\nabc\r\n', '*0\r\n', 'PING\r\n', '-1', '$-1\r\n').map(latin1) },
);

const multibulkPieceArb: fc.Arbitrary<Piece> = fc.array(bulkArgArb, { minLength: 1, maxLength: 6 }).map((args) => commandPiece(args, multibulk(args)));

/** A value large enough to span many reads (the parser joins such a bulk once, when whole). */
const largePieceArb: fc.Arbitrary<Piece> = fc.integer({ min: 1000, max: 150_000 }).map((n) => {
  const args = [latin1('SET'), latin1('k'), Buffer.alloc(n, n & 0xff)];
  return commandPiece(args, multibulk(args));
});

/** Inline words: no space, tab, CR or LF; '*' and '$' inside are plain bytes. */
const inlineWordArb = fc.string({ unit: fc.constantFrom(...'abcXYZ019*$:+-_\x00\x7f\xe9\xff'), minLength: 1, maxLength: 8 });

const inlinePieceArb: fc.Arbitrary<Piece> = fc
  .tuple(fc.array(inlineWordArb, { minLength: 1, maxLength: 5 }), fc.constantFrom('', ' ', '\t', ' \t'), fc.constantFrom(' ', '\t', '  ', ' \t '), fc.constantFrom('', ' ', '\t'), fc.constantFrom('\r\n', '\n'))
  .map(([words, lead, sep, trail, end]) => {
    // A line that begins with '*' is a multibulk header, not an inline command.
    const text = words.join(sep);
    const line = (lead === '' && text.startsWith('*') ? ' ' : lead) + text + trail + end;
    const bytes = latin1(line);
    return { bytes, command: { args: words, wireBytes: bytes.byteLength } };
  });

const skipPieceArb: fc.Arbitrary<Piece> = fc.constantFrom('*0\r\n', '*-1\r\n', '\r\n', '\n', ' \r\n', '\t \n').map((s) => ({ bytes: latin1(s), command: undefined }));

const pieceArb: fc.Arbitrary<Piece> = fc.oneof(
  { weight: 5, arbitrary: multibulkPieceArb },
  { weight: 3, arbitrary: inlinePieceArb },
  { weight: 2, arbitrary: skipPieceArb },
);

const validStreamArb = (withLarge: boolean): fc.Arbitrary<Piece[]> =>
  fc.array(withLarge ? fc.oneof({ weight: 10, arbitrary: pieceArb }, { weight: 1, arbitrary: largePieceArb }) : pieceArb, { minLength: 1, maxLength: 10 });

const cutsArb = fc.array(fc.nat(), { maxLength: 30 });

function expectedOf(pieces: readonly Piece[]): SeenCommand[] {
  return pieces.flatMap((p) => (p.command ? [p.command] : []));
}

test('RESP2 property: valid commands cut into any chunks give exactly their commands and wireBytes, and nothing is left over', () => {
  fc.assert(
    fc.property(validStreamArb(true), cutsArb, (pieces, cuts) => {
      const stream = Buffer.concat(pieces.map((p) => p.bytes));
      const parser = new RespParser();
      const got: SeenCommand[] = [];
      for (const chunk of chunked(stream, cuts)) {
        parser.feed(chunk);
        got.push(...drain(parser, stream.byteLength));
      }
      assert.deepEqual(got, expectedOf(pieces));
      assert.equal(parser.midCommand, false, 'no command in progress');
      assert.equal(parser.heldBytes, 0, 'nothing held');
    }),
    { ...fuzzParams(), numRuns: runsOf(1000, 5) },
  );
});

test('RESP2 property: refused admissions, asked again later, change nothing: same commands, each bulk offered with what its command already holds', () => {
  fc.assert(
    fc.property(validStreamArb(true), cutsArb, fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }), (pieces, cuts, decisions) => {
      const stream = Buffer.concat(pieces.map((p) => p.bytes));
      let asked = 0;
      let refusedInARow = 0;
      let refused = false;
      const calls: { bytes: number; holds: number; ok: boolean }[] = [];
      const parser = new RespParser((bytes, holds) => {
        // Refuse at random, but never more than twice running, so every run ends.
        const ok = decisions[asked++ % decisions.length]! || refusedInARow >= 2;
        refusedInARow = ok ? 0 : refusedInARow + 1;
        refused = !ok;
        calls.push({ bytes, holds, ok });
        return ok;
      });
      const got: SeenCommand[] = [];
      const chunks = chunked(stream, cuts);
      for (let i = 0; i < chunks.length; i++) {
        parser.feed(chunks[i]!);
        for (let guard = 0; guard <= 3 * stream.byteLength + 10; guard++) {
          const cmd = parser.next();
          if (cmd) {
            got.push({ args: cmd.args.map((a) => a.toString('latin1')), wireBytes: cmd.wireBytes });
            continue;
          }
          if (!refused) break;
          refused = false;
          // Refused: sometimes read on first (server.ts stops reading; bytes may already be here).
          if (i < chunks.length - 1 && decisions[asked % decisions.length]!) break;
        }
      }
      assert.deepEqual(got, expectedOf(pieces));
      // Every bulk once, in order, with the bytes its command was already admitted.
      const expectedCalls = pieces
        .flatMap((p) => (p.command && p.bytes[0] === 0x2a ? [p.command.args] : []))
        .flatMap((args) => args.map((a, i) => ({ bytes: a.length, holds: args.slice(0, i).reduce((n, x) => n + x.length, 0), ok: true })));
      assert.deepEqual(
        calls.filter((c) => c.ok),
        expectedCalls,
      );
      // A refused header is asked about again, unchanged.
      calls.forEach((c, i) => {
        if (!c.ok) assert.deepEqual({ ...calls[i + 1], ok: false }, c, `call ${i + 1} repeats the refused call ${i}`);
      });
      assert.equal(parser.heldBytes, 0);
    }),
    { ...fuzzParams(), numRuns: runsOf(1000, 5) },
  );
});

// ---------------------------------------------------------------------------------------------
// Any bytes, against a model.

/** What a whole stream holds: its commands, then a RespProtocolError or an unfinished rest. */
interface Outcome {
  readonly commands: SeenCommand[];
  readonly refused: boolean;
  /** Bytes of an unfinished command at the end (0 when refused). */
  readonly rest: number;
}

type LengthLine = { readonly n: number; readonly next: number } | 'bad' | 'incomplete';

/** Characters a length may have after its '*' or '$' (a sign and 10 digits). */
const lengthCharsMax = 11;

/** Only the characters before the CR of a length line count (the same bytes parse the same wherever a read ends). */
const modelCountsPendingCr = false;

/** `*<n>\r\n` or `$<n>\r\n` at `at`: an integer with an optional '-', of at most 11 characters, no leading zeros (as Redis); -1 is the only negative. */
function modelLength(s: Buffer, at: number, max: number): LengthLine {
  const start = at + 1;
  const cr = s.indexOf(0x0d, start);
  if (cr < 0 || cr + 1 >= s.length) {
    const chars = cr < 0 ? s.length - start : cr - start + (modelCountsPendingCr ? 1 : 0);
    return chars > lengthCharsMax ? 'bad' : 'incomplete';
  }
  const text = s.subarray(start, cr).toString('latin1');
  if (s[cr + 1] !== 0x0a || text.length > lengthCharsMax || !/^-?(0|[1-9]\d*)$/.test(text)) return 'bad';
  const n = text.startsWith('-') ? (Number(text.slice(1)) === 1 ? -1 : NaN) : Number(text);
  if (Number.isNaN(n) || n > max) return 'bad';
  return { n, next: cr + 2 };
}

/** The format, independently: the whole stream at once, limits as protocol.ts's header states them. */
function model(s: Buffer): Outcome {
  const commands: SeenCommand[] = [];
  let at = 0;
  const bad = (): Outcome => ({ commands, refused: true, rest: 0 });
  const unfinished = (): Outcome => ({ commands, refused: false, rest: s.length - at });
  while (at < s.length) {
    if (s[at] !== 0x2a) {
      const lf = s.indexOf(0x0a, at);
      if (lf < 0) return s.length - at > respInlineBytesMax ? bad() : unfinished();
      if (lf - at > respInlineBytesMax) return bad();
      const textEnd = lf > at && s[lf - 1] === 0x0d ? lf - 1 : lf;
      const words = s.subarray(at, textEnd).toString('latin1').split(/[ \t]+/).filter((w) => w !== '');
      if (words.length > respArgsMax) return bad();
      if (words.length > 0) commands.push({ args: words, wireBytes: lf + 1 - at });
      at = lf + 1;
      continue;
    }
    const head = modelLength(s, at, respArgsMax);
    if (head === 'bad') return bad();
    if (head === 'incomplete') return unfinished();
    if (head.n <= 0) {
      at = head.next;
      continue;
    }
    const args: string[] = [];
    let i = head.next;
    let bytes = 0;
    while (args.length < head.n) {
      if (i >= s.length) return unfinished();
      if (s[i] !== 0x24) return bad();
      const len = modelLength(s, i, respBulkBytesMax);
      if (len === 'bad') return bad();
      if (len === 'incomplete') return unfinished();
      if (len.n < 0 || bytes + len.n > respCommandBytesMax) return bad();
      if (s.length - len.next < len.n + 2) return unfinished();
      if (s[len.next + len.n] !== 0x0d || s[len.next + len.n + 1] !== 0x0a) return bad();
      args.push(s.subarray(len.next, len.next + len.n).toString('latin1'));
      bytes += len.n;
      i = len.next + len.n + 2;
    }
    commands.push({ args, wireBytes: i - at });
    at = i;
  }
  return unfinished();
}

/** The parser on `chunks`: fails the property on any exception but RespProtocolError. */
function parse(chunks: readonly Buffer[]): Outcome & { midCommand: boolean } {
  const bound = chunks.reduce((n, c) => n + c.byteLength, 0);
  const parser = new RespParser();
  const commands: SeenCommand[] = [];
  try {
    for (const c of chunks) {
      parser.feed(c);
      drain(parser, bound, commands);
    }
  } catch (e) {
    if (e instanceof RespProtocolError) return { commands, refused: true, rest: 0, midCommand: false };
    throw new Error(`the parser threw ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}, not a RespProtocolError`, { cause: e });
  }
  return { commands, refused: false, rest: -1, midCommand: parser.midCommand };
}

/** Bytes that make parsers stumble: framing, signs, limits, separators. */
const tokenArb = fc.constantFrom(
  '*', '$', '\r', '\n', '\r\n', '-', '+', ':', ' ', '\t', '0', '1', '2', '3', '9', '-1', '-2', '*1\r\n', '*2\r\n', '*-1\r\n', '*0\r\n', '$0\r\n', '$1\r\n', '$3\r\n', '$-1\r\n',
  'a', 'abc', 'PING', 'GET k', `*${respArgsMax}\r\n`, `*${respArgsMax + 1}\r\n`, `$${respBulkBytesMax}\r\n`, `$${respBulkBytesMax + 1}\r\n`, '9999999999', '\x00', '\xff',
);

const garbageArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) },
  { weight: 3, arbitrary: fc.array(tokenArb, { maxLength: 24 }).map((t) => latin1(t.join(''))) },
  { weight: 3, arbitrary: fc.tuple(validStreamArb(false), byteEditsArb).map(([pieces, edits]) => mutateBytes(Buffer.concat(pieces.map((p) => p.bytes)), edits)) },
  { weight: 1, arbitrary: fc.tuple(validStreamArb(false), fc.array(tokenArb, { minLength: 1, maxLength: 6 })).map(([pieces, t]) => Buffer.concat([...pieces.map((p) => p.bytes), latin1(t.join(''))])) },
);

test('RESP2 property: any bytes, cut anywhere, parse as the model says or raise RespProtocolError, and nothing else', () => {
  fc.assert(
    fc.property(garbageArb, cutsArb, (stream, cuts) => {
      const want = model(stream);
      for (const chunks of [[stream], chunked(stream, cuts)]) {
        const got = parse(chunks);
        assert.deepEqual(got.commands, want.commands, 'the commands before any error');
        assert.equal(got.refused, want.refused, want.refused ? 'the model refuses this stream' : 'the model accepts this stream');
        if (!want.refused) assert.equal(got.midCommand, want.rest > 0, 'a command is in progress exactly when bytes of one are left');
      }
    }),
    fuzzParams(),
  );
});

test('RESP2 property: the model agrees with the parser on valid streams too (the model is not vacuous)', () => {
  fc.assert(
    fc.property(validStreamArb(false), (pieces) => {
      const stream = Buffer.concat(pieces.map((p) => p.bytes));
      assert.deepEqual(model(stream), { commands: expectedOf(pieces), refused: false, rest: 0 });
    }),
    { ...fuzzParams(), numRuns: runsOf(1000, 5) },
  );
});
