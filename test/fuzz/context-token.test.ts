// Fuzzing the context token (issue 9): a client can send any string as X-Gyre-Context. Tokens
// the cluster sealed, mutated at the byte level and at the field level (re-sealed with a real
// key, as a holder of a leaked key could), must never throw, must never be accepted once
// edited, and when accepted must name only events inside the limits the store accepts.
// Runs: GYRE_FUZZ_RUNS (default 2000; `npm run fuzz` runs 100,000).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { type ContextKeyring, decodeContext, encodeContext, makeContextKey, readContextUnverified } from '../../node-core/src/core/context.js';
import { clockProblem, counterMax, timestampMsMax } from '../../node-core/src/core/codec.js';
import { type Entry, normalize } from '../../node-core/src/core/vclock.js';

const numRuns = Number(process.env.GYRE_FUZZ_RUNS ?? '2000');
const ring: ContextKeyring = { keys: [makeContextKey(new Uint8Array(36).map((_, i) => (i * 37) & 0xff), 1_000)] };
const key = new TextEncoder().encode('fuzzed-key');

const entryArb: fc.Arbitrary<Entry> = fc.record(
  {
    actor: fc.oneof(fc.constantFrom('n1.lx3k2', 'n2.lx3k9', 'n3~mq1'), fc.string({ minLength: 1, maxLength: 8 })),
    counter: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: counterMax })),
    ts: fc.integer({ min: 0, max: 4_102_444_800 }).map((s) => s * 1000),
  },
  { noNullPrototype: true },
);
const clockArb = fc.tuple(fc.array(entryArb, { maxLength: 6 }), fc.array(entryArb, { maxLength: 6 })).map(([e, d]) => normalize(e, d));

/** What an attacker with a leaked key could seal: any msgpack value as the payload. */
function sealAny(payload: unknown): string {
  const k = ring.keys[0]!;
  const head = Buffer.concat([Buffer.from([2]), Buffer.from(k.id, 'hex')]);
  const body = pack(payload);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(key.byteLength);
  const mac = createHmac('sha256', k.secret).update('gyre-context\0').update(len).update(key).update(head).update(body).digest().subarray(0, 12);
  return Buffer.concat([head, body, mac]).toString('base64url');
}

const hostileValue = fc.oneof(
  fc.constantFrom(-1, 0, 1.5, 2 ** 52, 2 ** 52 + 1, Number.MAX_SAFE_INTEGER, 2 ** 53, Number.NaN, Infinity, null, undefined, true, '', 'x'.repeat(300), 10n),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 80 }),
  fc.uint8Array({ maxLength: 16 }),
  fc.array(fc.integer(), { maxLength: 4 }),
);

test('Fuzz: a sealed context mutated at the byte level is never accepted and never throws', () => {
  fc.assert(
    fc.property(clockArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), fc.constantFrom('flip', 'insert', 'delete', 'truncate'), (clock, edits, how) => {
      const raw = Buffer.from(encodeContext(clock, key, ring), 'base64url');
      let bytes = Buffer.from(raw);
      for (const [at, x] of edits) {
        const i = at % bytes.length;
        if (how === 'flip') bytes[i] = bytes[i]! ^ x;
        else if (how === 'insert') bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from([x]), bytes.subarray(i)]);
        else if (how === 'delete' && bytes.length > 1) bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
        else if (how === 'truncate') bytes = bytes.subarray(0, i);
      }
      fc.pre(Buffer.compare(bytes, raw) !== 0);
      const token = bytes.toString('base64url');
      const r = decodeContext(token, key, ring);
      assert.equal(r.ok, false, `an edited context was accepted (${how})`);
      readContextUnverified(token); // must not throw either
    }),
    { numRuns },
  );
});

test('Fuzz: a context sealed with a real key but carrying any payload either decodes to a clock the store accepts or is refused', () => {
  const entry = fc.tuple(hostileValue, hostileValue, hostileValue);
  const payloadArb = fc.oneof(
    // Field-level mutations of a well-formed payload.
    fc.tuple(fc.array(fc.oneof(entry, fc.tuple(fc.constantFrom('n1.a', 'n2.b'), fc.integer({ min: 1, max: counterMax }), fc.integer({ min: 0, max: Math.floor(timestampMsMax / 1000) }))), { maxLength: 6 }), fc.array(entry, { maxLength: 3 })),
    // Anything else.
    hostileValue,
    fc.array(hostileValue, { maxLength: 4 }),
    fc.constant(Array.from({ length: 257 }, (_, i) => [`a${i}`, 1, 1])),
  );
  fc.assert(
    fc.property(payloadArb, (payload) => {
      let token: string;
      try {
        token = sealAny(payload);
      } catch {
        return; // msgpack cannot encode it: a client could not send it either
      }
      const r = decodeContext(token, key, ring);
      if (!r.ok) return;
      // Accepted: every event is inside the limits, so a write built on it can be stored.
      assert.equal(clockProblem(r.clock), undefined, `accepted a clock the store refuses: ${JSON.stringify(payload)}`);
      for (const e of [...r.clock.entries, ...r.clock.dots]) assert.ok(Number.isSafeInteger(e.counter + 1) && Number.isSafeInteger(e.ts));
    }),
    { numRuns },
  );
});

test('Fuzz: arbitrary strings as contexts are refused without throwing', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('base64url'))), (text) => {
      assert.equal(decodeContext(text, key, ring).ok, false);
      readContextUnverified(text);
    }),
    { numRuns },
  );
});
