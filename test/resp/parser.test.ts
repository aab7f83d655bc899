// RespParser (node-core/src/resp/protocol.ts), by example: the two command forms RESP2 servers
// accept (multibulk arrays and inline lines), a stream cut at every byte boundary, the empty
// commands Redis skips, every limit a client's declared length is checked against (and that
// breaking one is a RespProtocolError, never another exception), and the admission callback
// through which server.ts reserves its byte budget before a bulk's bytes are buffered.
// The properties (random chunks, random bytes, an independent model) are in parser-fuzz.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RespParser, RespProtocolError, respArgsMax, respBulkBytesMax, respCommandBytesMax, respInlineBytesMax } from '../../node-core/src/resp/protocol.js';
import { type SeenCommand, chunked, drain, multibulk } from './resp-wire.js';

function parseWhole(stream: Buffer | string): SeenCommand[] {
  const p = new RespParser();
  const bytes = typeof stream === 'string' ? Buffer.from(stream, 'latin1') : stream;
  p.feed(bytes);
  return drain(p, bytes.byteLength);
}

function parseChunks(chunks: readonly Buffer[]): { commands: SeenCommand[]; parser: RespParser } {
  const parser = new RespParser();
  const commands: SeenCommand[] = [];
  const bound = chunks.reduce((n, c) => n + c.byteLength, 0);
  for (const c of chunks) {
    parser.feed(c);
    drain(parser, bound, commands);
  }
  return { commands, parser };
}

/** Feeds the whole stream, in the given chunks, and returns what the parser threw. */
function thrownBy(chunks: readonly Buffer[]): unknown {
  try {
    parseChunks(chunks);
  } catch (e) {
    return e;
  }
  return undefined;
}

/** The commands a stream gives, and whether it ended in a RespProtocolError. */
function outcome(chunks: readonly Buffer[]): { commands: SeenCommand[]; refused: boolean } {
  const parser = new RespParser();
  const commands: SeenCommand[] = [];
  try {
    for (const c of chunks) {
      parser.feed(c);
      drain(parser, 1000, commands);
    }
  } catch (e) {
    if (!(e instanceof RespProtocolError)) throw e;
    return { commands, refused: true };
  }
  return { commands, refused: false };
}

const latin1 = (s: string) => Buffer.from(s, 'latin1');

test('RESP2 multibulk: *<argc> then $<len> and the bytes of each argument, binary-safe', () => {
  const args = ['SET', 'k\r\n', '*1\r\n$3\r\nabc\r\n', '', '\x00\xff'];
  const wire = multibulk(args);
  assert.deepEqual(parseWhole(wire), [{ args, wireBytes: wire.byteLength }]);
});

test('RESP2 inline: a line of words split by spaces and tabs, ended by CRLF or a bare LF', () => {
  assert.deepEqual(parseWhole('PING\r\n'), [{ args: ['PING'], wireBytes: 6 }]);
  assert.deepEqual(parseWhole('  SET\tk  \t v \n'), [{ args: ['SET', 'k', 'v'], wireBytes: 14 }]);
  assert.deepEqual(parseWhole('GET \xe9t\xe9\r\nGET b\n'), [
    { args: ['GET', '\xe9t\xe9'], wireBytes: 9 },
    { args: ['GET', 'b'], wireBytes: 6 },
  ]);
});

test('RESP2: an incomplete command gives nothing until the rest arrives', () => {
  const p = new RespParser();
  p.feed(latin1('*2\r\n$3\r\nGET\r\n$1\r'));
  assert.equal(p.next(), undefined);
  assert.equal(p.next(), undefined, 'asking again changes nothing');
  assert.equal(p.midCommand, true);
  p.feed(latin1('\nk\r\nPI'));
  assert.deepEqual(drain(p, 100), [{ args: ['GET', 'k'], wireBytes: 20 }]);
  assert.equal(p.midCommand, true, 'an inline line has begun');
  p.feed(latin1('NG\r\n'));
  assert.deepEqual(drain(p, 100), [{ args: ['PING'], wireBytes: 6 }]);
  assert.equal(p.midCommand, false, 'nothing left over');
});

test('RESP2: *0 and *-1 are empty commands and are skipped, as are empty inline lines; their bytes count toward no command', () => {
  const stream = '*0\r\n*-1\r\n\r\n\n \t \r\nPING\r\n*0\r\n' + multibulk(['ECHO', 'x']).toString('latin1') + '\n*-1\r\n';
  assert.deepEqual(parseWhole(stream), [
    { args: ['PING'], wireBytes: 6 },
    { args: ['ECHO', 'x'], wireBytes: 21 },
  ]);
  const p = new RespParser();
  p.feed(latin1('*0\r\n\r\n*-1\r\n'));
  assert.equal(p.next(), undefined);
  assert.equal(p.midCommand, false, 'skipped commands leave nothing pending');
});

/** Commands of every form, with arguments that look like RESP, back to back. */
const mixedStream = Buffer.concat([
  multibulk(['SET', 'key', 'a\r\nb']),
  latin1('*0\r\n'),
  latin1('GET key\r\n'),
  multibulk(['', '*', '$']),
  latin1('\r\n'),
  latin1('*-1\r\n'),
  latin1('\tEXISTS a b\n'),
  multibulk(['MSET', 'k1', '$5\r\n', 'k2', Buffer.alloc(40, 0x2a)]),
  latin1('QUIT\r\n'),
]);

test('RESP2 stream cut at every byte boundary (and every pair of boundaries) gives the same commands and wireBytes as the whole', () => {
  const whole = parseWhole(mixedStream);
  assert.deepEqual(
    whole.map((c) => c.args[0]),
    ['SET', 'GET', '', 'EXISTS', 'MSET', 'QUIT'],
  );
  for (let i = 0; i <= mixedStream.byteLength; i++) {
    const { commands, parser } = parseChunks(chunked(mixedStream, [i]));
    assert.deepEqual(commands, whole, `cut at ${i}`);
    assert.equal(parser.midCommand, false);
    for (let j = i; j <= mixedStream.byteLength; j += 3) assert.deepEqual(parseChunks(chunked(mixedStream, [i, j])).commands, whole, `cut at ${i} and ${j}`);
  }
  const byteByByte = [...mixedStream].map((b) => Buffer.from([b]));
  assert.deepEqual(parseChunks(byteByByte).commands, whole, 'one byte at a time');
});

test('RESP2: an argument of respBulkBytesMax bytes arriving in many reads comes out whole and exact', () => {
  const value = Buffer.alloc(respBulkBytesMax);
  for (let i = 0; i < value.byteLength; i++) value[i] = (i * 31) & 0xff;
  const wire = Buffer.concat([multibulk(['SET', 'k', value]), latin1('PING\r\n')]);
  const cuts = Array.from({ length: 300 }, (_, i) => i * 3517);
  const { commands } = parseChunks(chunked(wire, cuts));
  assert.equal(commands.length, 2);
  assert.ok(latin1(commands[0]!.args[2]!).equals(value));
  assert.equal(commands[0]!.wireBytes, wire.byteLength - 6);
  assert.deepEqual(commands[1], { args: ['PING'], wireBytes: 6 });
});

test('RESP2: arguments already handed out stay intact while later reads arrive', () => {
  const p = new RespParser();
  p.feed(latin1('*2\r\n$3\r\nGET\r\n$3\r\nabc\r\n*1\r\n$4\r\nPI'));
  const first = p.next()!;
  assert.equal(p.next(), undefined);
  p.feed(latin1('NG\r\n'));
  const second = p.next()!;
  assert.deepEqual(first.args.map(String), ['GET', 'abc']);
  assert.deepEqual(second.args.map(String), ['PING']);
});

// Every limit and malformation: a RespProtocolError (the server answers it and closes), whole
// or cut anywhere, and never any other exception.
const tooMany = `*${respArgsMax + 1}\r\n`;
const bulkTooBig = `*2\r\n$3\r\nSET\r\n$${respBulkBytesMax + 1}\r\n`;
/** 16 arguments of respBulkBytesMax (respCommandBytesMax in all), then the header of a 17th of 1 byte. */
const overCommandLimit = Buffer.concat([latin1('*17\r\n'), ...Array.from({ length: 16 }, () => Buffer.concat([latin1(`$${respBulkBytesMax}\r\n`), Buffer.alloc(respBulkBytesMax, 0x61), latin1('\r\n')])), latin1('$1\r\n')]);
const malformed: readonly (readonly [string, Buffer])[] = [
  ['respArgsMax + 1 arguments declared', latin1(tooMany)],
  ['respBulkBytesMax + 1 bytes declared', latin1(bulkTooBig)],
  ['respCommandBytesMax exceeded by the declared lengths together', overCommandLimit],
  ['an inline line over respInlineBytesMax with no LF yet', Buffer.alloc(respInlineBytesMax + 1, 0x61)],
  ['an inline line over respInlineBytesMax before its LF', Buffer.concat([Buffer.alloc(respInlineBytesMax + 1, 0x61), latin1('\n')])],
  ['an inline line of more than respArgsMax words', latin1('a '.repeat(respArgsMax + 1) + '\n')],
  ['bulk length $-2', latin1('*1\r\n$-2\r\n')],
  ['bulk length $-1 (a null bulk is no argument)', latin1('*1\r\n$-1\r\n')],
  ['bulk length $-0', latin1('*1\r\n$-0\r\n')],
  ['bulk length $abc', latin1('*1\r\n$abc\r\n')],
  ['bulk length $ (empty)', latin1('*1\r\n$\r\n')],
  ['bulk length $- (sign only)', latin1('*1\r\n$-\r\n')],
  ['bulk length $+3', latin1('*1\r\n$+3\r\nabc\r\n')],
  ['bulk length $ 3', latin1('*1\r\n$ 3\r\nabc\r\n')],
  ['bulk length $3.0', latin1('*1\r\n$3.0\r\nabc\r\n')],
  ['bulk length ended by LF alone', latin1('*1\r\n$3\nabc\r\n')],
  ['bulk length ended by CR and not LF', latin1('*1\r\n$3\rXabc\r\n')],
  ['a bulk not ended by CRLF: *1 $3 abcXY', latin1('*1\r\n$3\r\nabcXY')],
  ['a bulk ended by CR and not LF', latin1('*1\r\n$3\r\nabc\rX')],
  ['missing $: an integer where a bulk should be', latin1('*1\r\n:3\r\n')],
  ['missing $: a second argument inline', latin1('*2\r\n$1\r\na\r\nb\r\n')],
  ['multibulk length *-2', latin1('*-2\r\n')],
  ['multibulk length *abc', latin1('*abc\r\n')],
  ['multibulk length * (empty)', latin1('*\r\n')],
  ['multibulk length *1x', latin1('*1x\r\n$1\r\na\r\n')],
  ['an overlong multibulk length line (12 digits)', latin1('*000000000001\r\n$1\r\na\r\n')],
  ['an overlong bulk length line with no CR yet', latin1('*1\r\n$000000000003')],
  ['an overlong multibulk length line with no CR yet', latin1('*1111111111111111')],
  ['an 11-digit bulk length (over the limit)', latin1('*1\r\n$99999999999\r\n')],
];

test('RESP2 limits and malformed lengths: a RespProtocolError, fed whole or cut at any boundary, never another exception', () => {
  for (const [what, bytes] of malformed) {
    const whole = thrownBy([bytes]);
    assert.ok(whole instanceof RespProtocolError, `${what}: got ${String(whole)}`);
    // Every cut point for the small inputs; a sample for the large ones.
    const step = bytes.byteLength > 1000 ? Math.ceil(bytes.byteLength / (bytes.byteLength > 1_000_000 ? 31 : 97)) : 1;
    for (let i = 0; i <= bytes.byteLength; i += step) {
      const e = thrownBy(chunked(bytes, [i]));
      assert.ok(e instanceof RespProtocolError, `${what}, cut at ${i}: got ${String(e)}`);
    }
  }
});

test('RESP2 limits are inclusive: exactly respArgsMax arguments, respBulkBytesMax bytes, respCommandBytesMax bytes, respInlineBytesMax bytes parse', () => {
  const many = Array.from({ length: respArgsMax }, (_, i) => String(i));
  assert.deepEqual(parseWhole(multibulk(many))[0]!.args, many);
  assert.equal(parseWhole(multibulk(['SET', Buffer.alloc(respBulkBytesMax)]))[0]!.args[1]!.length, respBulkBytesMax);
  const full = Array.from({ length: respCommandBytesMax / respBulkBytesMax }, () => Buffer.alloc(respBulkBytesMax, 0x62));
  const atLimit = parseWhole(multibulk([...full, '']));
  assert.equal(atLimit[0]!.args.length, full.length + 1, 'arguments of respCommandBytesMax bytes in all, and one of 0 bytes');
  const line = Buffer.concat([Buffer.alloc(respInlineBytesMax, 0x61), latin1('\n')]);
  assert.equal(parseWhole(line)[0]!.args[0]!.length, respInlineBytesMax);
  const words = Array.from({ length: respArgsMax }, () => 'w');
  assert.equal(parseWhole(words.join(' ') + '\n')[0]!.args.length, respArgsMax);
  assert.deepEqual(parseWhole('*1\r\n$1000000\r\n' + 'a'.repeat(1_000_000) + '\r\n')[0]!.wireBytes, 1_000_016, 'a length line of 7 digits');
  // Lengths are parsed as Redis parses them: no leading zeros.
  assert.throws(() => parseWhole('*1\r\n$0000000003\r\nabc\r\n'), RespProtocolError);
});

test('RESP2: a limit is checked on the header, before the bytes it declares are sent', () => {
  // No byte of the oversized argument is needed to refuse it.
  assert.throws(() => parseWhole(bulkTooBig), RespProtocolError);
  assert.throws(() => parseWhole(tooMany), RespProtocolError);
});

// A stream that is nothing but empty commands is valid RESP (Redis skips each in a loop). When
// the parser skipped them by recursing, a few thousand in one read threw RangeError, which
// server.ts rethrows from a socket 'data' handler: 10 KiB of "\r\n" ended the node process.
for (const [unit, count] of [['\r\n', 20_000], ['\n', 20_000], ['*0\r\n', 20_000], ['*-1\r\n', 20_000]] as const) {
  test(`RESP2: ${count} empty commands ${JSON.stringify(unit)} in one read are skipped without exhausting the stack`, () => {
    const p = new RespParser();
    p.feed(latin1(unit.repeat(count) + 'PING\r\n'));
    assert.deepEqual(drain(p, 10), [{ args: ['PING'], wireBytes: 6 }]);
  });
}

// A length line of 11 characters ("$" then "00000000003", or "*-0000000001") must get the same
// answer whether it arrives whole or a read ends right after its CR (the incomplete-line check
// once counted the CR as a digit). The same bytes parse the same however TCP cuts them.
test('RESP2: an 11-character length line parses the same whether or not a read ends right after its CR', () => {
  for (const stream of ['*1\r\n$00000000003\r\nabc\r\n', '*-0000000001\r\nPING\r\n']) {
    const bytes = latin1(stream);
    const whole = outcome([bytes]);
    for (let i = 0; i <= bytes.byteLength; i++) assert.deepEqual(outcome(chunked(bytes, [i])), whole, `${JSON.stringify(stream)} cut at ${i}`);
  }
});

test('RESP2 admission: each bulk length is reported as soon as its header is complete, before any of its bytes are buffered', () => {
  const wire = multibulk(['SET', 'k', 'hello']);
  let fed = 0;
  const calls: { bytes: number; holds: number; fed: number }[] = [];
  const p = new RespParser((bytes, holds) => {
    calls.push({ bytes, holds, fed });
    return true;
  });
  const commands: SeenCommand[] = [];
  for (const b of wire) {
    p.feed(Buffer.from([b]));
    fed++;
    commands.push(...drain(p, wire.byteLength));
  }
  // "*3\r\n" is 4 bytes; "$3\r\nSET\r\n" 9; "$1\r\nk\r\n" 7; "$5\r\n" 4.
  assert.deepEqual(calls, [
    { bytes: 3, holds: 0, fed: 8 },
    { bytes: 1, holds: 3, fed: 8 + 5 + 4 },
    { bytes: 5, holds: 4, fed: 8 + 5 + 7 + 4 },
  ]);
  assert.deepEqual(commands, [{ args: ['SET', 'k', 'hello'], wireBytes: wire.byteLength }]);
  assert.equal(p.heldBytes, 0, 'a finished command holds nothing');
});

test('RESP2 admission: refused, next() gives undefined and holds its place; asked again once admitted, it goes on exactly', () => {
  let allow = false;
  const calls: [number, number][] = [];
  const p = new RespParser((bytes, holds) => {
    calls.push([bytes, holds]);
    return allow || holds < 6;
  });
  const first = multibulk(['SET', 'key', 'value!']);
  p.feed(Buffer.concat([first, latin1('PING\r\n')]));
  assert.equal(p.next(), undefined, 'the third bulk is refused');
  assert.equal(p.heldBytes, 3 + 3, 'what the command was admitted so far');
  assert.equal(p.midCommand, true);
  assert.equal(p.next(), undefined, 'refused again');
  allow = true;
  assert.deepEqual(drain(p, 100), [
    { args: ['SET', 'key', 'value!'], wireBytes: first.byteLength },
    { args: ['PING'], wireBytes: 6 },
  ]);
  // The refused header is asked about again with the same holdings: nothing counted twice.
  assert.deepEqual(calls, [[3, 0], [3, 3], [6, 6], [6, 6], [6, 6]]);
  assert.equal(p.heldBytes, 0);
});

test('RESP2 admission: bytes fed while refused are kept, and a refused first bulk holds nothing', () => {
  let allow = false;
  const p = new RespParser((_bytes, holds) => allow || holds > 0);
  const wire = multibulk(['GET', 'abc']);
  p.feed(wire.subarray(0, 6));
  assert.equal(p.next(), undefined);
  assert.equal(p.heldBytes, 0);
  p.feed(wire.subarray(6, 11));
  assert.equal(p.next(), undefined);
  allow = true;
  p.feed(wire.subarray(11));
  assert.deepEqual(drain(p, 100), [{ args: ['GET', 'abc'], wireBytes: wire.byteLength }]);
});

test('RESP2 admission: an error thrown by the callback (server.ts refuses with RespProtocolError) comes out of next()', () => {
  const p = new RespParser((_bytes, holds) => {
    if (holds > 0) throw new RespProtocolError('overloaded');
    return true;
  });
  p.feed(multibulk(['SET', 'k', 'v']));
  assert.throws(() => p.next(), (e) => e instanceof RespProtocolError && e.message === 'overloaded');
});

test('RESP2 admission: a length over a limit is refused without being offered; inline commands and empty commands are never offered', () => {
  const offered: number[] = [];
  const admit = (bytes: number) => {
    offered.push(bytes);
    return true;
  };
  const p = new RespParser(admit);
  p.feed(latin1(`PING\r\n*0\r\n\r\n*1\r\n$${respBulkBytesMax + 1}\r\n`));
  assert.deepEqual(p.next()?.args.map(String), ['PING']);
  assert.throws(() => p.next(), RespProtocolError);
  assert.deepEqual(offered, []);
  const q = new RespParser(admit);
  q.feed(overCommandLimit);
  assert.throws(() => q.next(), RespProtocolError);
  assert.deepEqual(offered, Array.from({ length: 16 }, () => respBulkBytesMax), 'the 17th bulk, over respCommandBytesMax, is not offered');
});
