// Fuzzing FrameReader (net/tcp-transport.ts), which cuts an internode TCP stream into
// [u32 length][body] frames. However the stream is chunked, valid frames come out exactly, in
// order; from arbitrary bytes it returns only frames within its limit, or throws its
// TransportError and nothing else, and it agrees with an independent model of the format.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameReader, encodeFrame, frameBytesMax, helloFrameBytesMax } from '../../node-core/src/net/tcp-transport.js';
import { TransportError } from '../../node-core/src/net/transport.js';
import { fuzzParams } from './fuzz.js';
import { chunked } from '../helpers/chunked.js';


/** Payloads: small messages, and sometimes one large enough to span many chunks. */
const payloadArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.constantFrom(1, 2, 3), fc.nat(), fc.anything({ maxDepth: 2, withNullPrototype: false, withBoxedValues: false })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 300_000 }).map((n) => [1, 7, new Uint8Array(n).fill(n & 0xff)]) },
);

test('fuzz frames: valid frames cut into any chunks come out exactly, in order, and nothing else', () => {
  fc.assert(
    fc.property(fc.array(payloadArb, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 24 }), (payloads, cuts) => {
      const frames = payloads.map((p) => encodeFrame(p));
      const reader = new FrameReader();
      const got: Buffer[] = [];
      // Copies of the chunks: a frame handed out must not depend on the caller keeping its buffer.
      for (const chunk of chunked(Buffer.concat(frames), cuts)) got.push(...reader.push(Buffer.from(chunk)));
      assert.equal(got.length, frames.length, 'as many frames out as in');
      got.forEach((g, i) => assert.ok(g.equals(frames[i]!.subarray(4)), `frame ${i} is exactly the body sent`));
      assert.equal(reader.bufferedBytes, 0, 'nothing left over');
      assert.equal(reader.announced(), undefined, 'no frame in progress');
    }),
    fuzzParams(),
  );
});

/**
 * The format, independently: a 4-byte big-endian length (1..limit) and that many bytes.
 * Returns the frames in `stream` and whether a bad length was met (at once, from its header).
 */
function model(stream: Buffer, limit: number): { frames: Buffer[]; bad: boolean; rest: number } {
  const frames: Buffer[] = [];
  let at = 0;
  while (stream.byteLength - at >= 4) {
    const len = stream.readUInt32BE(at);
    if (len === 0 || len > limit) return { frames, bad: true, rest: stream.byteLength - at };
    if (stream.byteLength - at - 4 < len) break;
    frames.push(stream.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return { frames, bad: false, rest: stream.byteLength - at };
}

/** A byte stream: well-formed frames, headers at and past the limits, and garbage, mixed. */
const segmentArb = (limit: number): fc.Arbitrary<Buffer> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.concat([u32(b.byteLength), b])) },
    { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 12 }).map((b) => Buffer.from(b)) },
    { weight: 1, arbitrary: fc.constantFrom(0, 1, limit, limit + 1, frameBytesMax, frameBytesMax + 1, 0xffffffff).map(u32) },
    { weight: 1, arbitrary: fc.constant(limit).map((n) => (n <= 1 << 16 ? Buffer.concat([u32(n), Buffer.alloc(n, 7)]) : u32(n))) },
  );

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

test('fuzz frames: from arbitrary bytes, in any chunks, it returns what the format says or throws its TransportError, never a frame past its limit', () => {
  const limitArb = fc.constantFrom(frameBytesMax, helloFrameBytesMax, 1, 16, 100);
  fc.assert(
    fc.property(
      limitArb.chain((limit) => fc.tuple(fc.constant(limit), fc.array(segmentArb(limit), { maxLength: 10 }), fc.array(fc.nat(), { maxLength: 12 }))),
      ([limit, segments, cuts]) => {
        const stream = Buffer.concat(segments);
        const want = model(stream, limit);
        const reader = new FrameReader(limit);
        const got: Buffer[] = [];
        let thrown: unknown;
        for (const chunk of chunked(stream, cuts)) {
          try {
            got.push(...reader.push(Buffer.from(chunk)));
          } catch (e) {
            thrown = e;
            break; // the connection is closed
          }
        }
        for (const f of got) assert.ok(f.byteLength >= 1 && f.byteLength <= limit, `returned a frame of ${f.byteLength} bytes (limit ${limit})`);
        if (thrown !== undefined) {
          assert.ok(thrown instanceof TransportError, `threw ${String(thrown)}, not a TransportError`);
          assert.equal(thrown.code, 'too_large');
        }
        assert.equal(thrown !== undefined, want.bad, want.bad ? 'a bad length must be refused' : `refused a stream the format allows: ${String(thrown)}`);
        // A push that throws returns nothing, not even the good frames before the bad header in
        // its chunk (the connection closes anyway): short of that, exactly the format's frames.
        if (thrown === undefined) assert.equal(got.length, want.frames.length, 'as many frames as the format holds');
        else assert.ok(got.length <= want.frames.length, 'no more frames than the format holds');
        got.forEach((g, i) => assert.ok(g.equals(want.frames[i]!), `frame ${i} as the format says`));
        if (!want.bad) {
          assert.equal(reader.bufferedBytes, want.rest, 'the unfinished frame is kept, byte for byte');
          assert.equal(reader.announced(), want.rest >= 4 ? stream.readUInt32BE(stream.byteLength - want.rest) : undefined, 'announced() is the unfinished frame\'s length');
        }
      },
    ),
    fuzzParams(),
  );
});
