// The reply encoders of node-core/src/resp/protocol.ts: the exact bytes RESP2 clients expect
// for each of the five reply types, and the rule that simple strings and errors are one line
// (a CR or LF inside one would end it early and desynchronise every reply after it).
// Properties read the bytes back with an independent decoder (resp-wire.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { arrayReply, bulkReply, emptyArrayReply, errorReply, integerReply, nullBulkReply, okReply, pongReply, simpleReply } from '../../node-core/src/resp/protocol.js';
import { fuzzParams } from '../fuzz/fuzz.js';
import { type Reply, decodeReply } from './resp-wire.js';

const exact: readonly (readonly [string, Buffer, string])[] = [
  ['okReply', okReply, '+OK\r\n'],
  ['pongReply', pongReply, '+PONG\r\n'],
  ['nullBulkReply', nullBulkReply, '$-1\r\n'],
  ['emptyArrayReply', emptyArrayReply, '*0\r\n'],
  ['simpleReply', simpleReply('QUEUED'), '+QUEUED\r\n'],
  ['errorReply', errorReply('ERR', 'unknown command'), '-ERR unknown command\r\n'],
  ['errorReply, another code', errorReply('UNAVAILABLE', 'only 1 of 2 replicas answered'), '-UNAVAILABLE only 1 of 2 replicas answered\r\n'],
  ['integerReply 0', integerReply(0), ':0\r\n'],
  ['integerReply 1000', integerReply(1000), ':1000\r\n'],
  ['integerReply -3', integerReply(-3), ':-3\r\n'],
  ['bulkReply of a string', bulkReply('hello'), '$5\r\nhello\r\n'],
  ['bulkReply of an empty string', bulkReply(''), '$0\r\n\r\n'],
  ['bulkReply of a string holds its UTF-8 bytes', bulkReply('é'), '$2\r\n\xc3\xa9\r\n'],
  ['bulkReply of a Buffer with CRLF inside', bulkReply(Buffer.from('a\r\nb')), '$4\r\na\r\nb\r\n'],
  ['bulkReply of a Uint8Array', bulkReply(Uint8Array.from([0, 255, 13, 10])), '$4\r\n\x00\xff\r\n\r\n'],
  ['arrayReply of nothing', arrayReply([]), '*0\r\n'],
  ['arrayReply of mixed replies', arrayReply([bulkReply('a'), integerReply(2), nullBulkReply, errorReply('E', 'x')]), '*4\r\n$1\r\na\r\n:2\r\n$-1\r\n-E x\r\n'],
  ['arrayReply nested', arrayReply([arrayReply([bulkReply('k')]), emptyArrayReply]), '*2\r\n*1\r\n$1\r\nk\r\n*0\r\n'],
];

test('RESP2 replies: each encoder gives the exact bytes of its reply type', () => {
  for (const [what, got, want] of exact) assert.equal(got.toString('latin1'), want, what);
});

test('RESP2 replies: simple strings and errors are one line: CR and LF inside the message become a space', () => {
  assert.equal(errorReply('ERR', 'first\r\nsecond').toString(), '-ERR first second\r\n');
  assert.equal(errorReply('ERR', 'a\nb\rc\r\n\r\nd').toString(), '-ERR a b c d\r\n');
  assert.equal(errorReply('ERR', 'ends with a newline\n').toString(), '-ERR ends with a newline \r\n');
  assert.equal(simpleReply('one\r\ntwo\nthree').toString(), '+one two three\r\n');
  assert.equal(simpleReply('\r\n').toString(), '+ \r\n');
});

test('RESP2 replies property: an error or simple string is one line whatever its message: one CRLF, at the end', () => {
  const messageArb = fc.string({ unit: fc.oneof(fc.constantFrom('\r', '\n', '\r\n', ' ', 'é', '😀'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), maxLength: 40 });
  fc.assert(
    fc.property(messageArb, (message) => {
      for (const [reply, head] of [[errorReply('ERR', message), '-ERR '], [simpleReply(message), '+']] as const) {
        const text = reply.toString('utf8');
        assert.ok(text.startsWith(head));
        assert.ok(text.endsWith('\r\n'));
        assert.equal(text.slice(0, -2).search(/[\r\n]/), -1, 'no CR or LF before the end');
        // Only CR and LF change: the rest of the message is kept as it was.
        assert.equal(text.slice(head.length, -2), message.replace(/[\r\n]+/g, ' '));
      }
    }),
    fuzzParams(),
  );
});

/** A tree of replies and its expected decoding. */
type Tree = { readonly kind: 'bulk'; readonly value: Uint8Array } | { readonly kind: 'int'; readonly value: number } | { readonly kind: 'null' } | { readonly kind: 'array'; readonly items: Tree[] };

const treeArb: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.uint8Array({ maxLength: 40 }).map((value): Tree => ({ kind: 'bulk', value })),
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 }).map((value): Tree => ({ kind: 'int', value })),
    fc.constant<Tree>({ kind: 'null' }),
    fc.array(tie('tree'), { maxLength: 4 }).map((items): Tree => ({ kind: 'array', items })),
  ),
})).tree;

function encode(t: Tree): Buffer {
  switch (t.kind) {
    case 'bulk':
      return bulkReply(t.value);
    case 'int':
      return integerReply(t.value);
    case 'null':
      return nullBulkReply;
    case 'array':
      return arrayReply(t.items.map(encode));
  }
}

function expected(t: Tree): Reply {
  switch (t.kind) {
    case 'bulk':
      return Buffer.from(t.value);
    case 'int':
      return t.value;
    case 'null':
      return null;
    case 'array':
      return t.items.map(expected);
  }
}

test('RESP2 replies property: bulks, integers, null bulks and nested arrays decode back to exactly what was encoded, with no bytes to spare', () => {
  fc.assert(
    fc.property(treeArb, (tree) => {
      assert.deepEqual(decodeReply(encode(tree)), expected(tree));
    }),
    fuzzParams(),
  );
});
