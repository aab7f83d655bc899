// The opaque context (Dynamo 4.4): a client hands back what it read; the node must get back
// exactly that clock, and must refuse anything it did not issue for this key and cluster.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { actorBytesMax, contextEntriesMax, decodeContext, encodeContext } from '../../node-core/src/core/context.js';
import { type Entry, type VClock, compare, emptyClock, normalize } from '../../node-core/src/core/vclock.js';

const runs = { numRuns: 300 };
const base64url = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const actorArb = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((s) => Buffer.byteLength(s) <= actorBytesMax);

const entryArb: fc.Arbitrary<Entry> = fc.record({
  actor: fc.oneof(fc.constantFrom('n1.lx3k2', 'n2.lx3k9', 'n3.lx4aa'), actorArb),
  counter: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })),
  ts: fc.integer({ min: 0, max: 4_102_444_800_000 }),
}, { noNullPrototype: true });

/** Any normalized clock small enough to be a legitimate context. */
const clockArb: fc.Arbitrary<VClock> = fc
  .tuple(fc.array(entryArb, { maxLength: 8 }), fc.array(entryArb, { maxLength: 24 }))
  .map(([entries, dots]) => normalize(entries, dots))
  .filter((c) => c.entries.length + c.dots.length <= contextEntriesMax);

const keyArb = fc.uint8Array({ minLength: 0, maxLength: 64 });
const secretArb = fc.string({ minLength: 1, maxLength: 32 });

function decodeOk(token: string, key: Uint8Array, secret: string): VClock {
  const r = decodeContext(token, key, secret);
  assert.ok(r.ok, `decode failed: ${r.ok ? '' : r.reason}`);
  return r.clock;
}

function truncatedToSeconds(c: VClock): VClock {
  const t = (e: Entry): Entry => ({ actor: e.actor, counter: e.counter, ts: Math.floor(e.ts / 1000) * 1000 });
  return { entries: c.entries.map(t), dots: c.dots.map(t) };
}

test('Dynamo 4.4: decodeContext(encodeContext(clock)) gives back the same clock (timestamps to the second)', () => {
  fc.assert(
    fc.property(clockArb, keyArb, secretArb, (clock, key, secret) => {
      const back = decodeOk(encodeContext(clock, key, secret), key, secret);
      assert.equal(compare(back, clock), 'equal');
      assert.deepEqual(back, truncatedToSeconds(clock));
    }),
    runs,
  );
  assert.equal(compare(decodeOk(encodeContext(emptyClock, new Uint8Array(), 's'), new Uint8Array(), 's'), emptyClock), 'equal');
});

test('Dynamo 4.4: a context is rejected when any byte of it is changed', () => {
  fc.assert(
    fc.property(clockArb, keyArb, secretArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (clock, key, secret, at, xor) => {
      const raw = Buffer.from(encodeContext(clock, key, secret), 'base64url');
      const i = at % raw.length;
      raw[i] = raw[i]! ^ xor;
      assert.equal(decodeContext(raw.toString('base64url'), key, secret).ok, false);
    }),
    runs,
  );
});

test(
  'Dynamo 4.4: a context token is rejected when any one of its characters is changed',
  () => {
    fc.assert(
      fc.property(clockArb, keyArb, secretArb, fc.nat(), (clock, key, secret, at) => {
        const token = encodeContext(clock, key, secret);
        // A random position and the last one (whose low bits may be padding), every other character.
        for (const i of [at % token.length, token.length - 1]) {
          for (const c of base64url) {
            if (c === token[i]) continue;
            const edited = token.slice(0, i) + c + token.slice(i + 1);
            assert.equal(decodeContext(edited, key, secret).ok, false, `token edited at ${i}/${token.length} to '${c}' accepted`);
          }
        }
      }),
      runs,
    );
  },
);

test(
  'Dynamo 4.4: a context token is rejected when a character is appended to it',
  () => {
    fc.assert(
      fc.property(clockArb, keyArb, secretArb, fc.constantFrom(...base64url), (clock, key, secret, extra) => {
        const token = encodeContext(clock, key, secret);
        assert.equal(decodeContext(token + extra, key, secret).ok, false);
      }),
      runs,
    );
  },
);

test('Dynamo 4.4: a truncated context is rejected', () => {
  fc.assert(
    fc.property(clockArb, keyArb, secretArb, fc.nat(), fc.boolean(), (clock, key, secret, cut, fromStart) => {
      const token = encodeContext(clock, key, secret);
      const n = 1 + (cut % (token.length - 1)); // keep 1..length-1 characters
      const part = fromStart ? token.slice(token.length - n) : token.slice(0, n);
      assert.equal(decodeContext(part, key, secret).ok, false);
    }),
    runs,
  );
});

test('Dynamo 4.4: a context issued for another key is rejected', () => {
  fc.assert(
    fc.property(clockArb, keyArb, keyArb, secretArb, (clock, key, other, secret) => {
      fc.pre(Buffer.compare(Buffer.from(key), Buffer.from(other)) !== 0);
      assert.equal(decodeContext(encodeContext(clock, key, secret), other, secret).ok, false);
    }),
    runs,
  );
});

test('Dynamo 4.4: a context made with another cluster secret is rejected', () => {
  fc.assert(
    fc.property(clockArb, keyArb, secretArb, secretArb, (clock, key, secret, other) => {
      fc.pre(secret !== other);
      assert.equal(decodeContext(encodeContext(clock, key, other), key, secret).ok, false);
    }),
    runs,
  );
});

test('Dynamo 4.4: a context with any character outside base64url is rejected', () => {
  fc.assert(
    fc.property(clockArb, keyArb, secretArb, fc.nat(), fc.constantFrom('+', '/', '=', ' ', '.', '\n', '%', 'é', '\0'), (clock, key, secret, at, bad) => {
      const token = encodeContext(clock, key, secret);
      const i = at % (token.length + 1);
      const inserted = token.slice(0, i) + bad + token.slice(i);
      const replaced = token.slice(0, i) + bad + token.slice(i + 1);
      assert.equal(decodeContext(inserted, key, secret).ok, false);
      assert.equal(decodeContext(replaced, key, secret).ok, false);
    }),
    runs,
  );
});

test('Dynamo 4.4: arbitrary text is never accepted as a context, and never throws', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), keyArb, secretArb, (text, key, secret) => {
      assert.equal(decodeContext(text, key, secret).ok, false);
    }),
    runs,
  );
});

test('Dynamo 4.4: decodeContext rejects the empty string and an over-long token', () => {
  const key = new TextEncoder().encode('k');
  assert.deepEqual(decodeContext('', key, 's'), { ok: false, reason: 'empty context' });
  assert.equal(decodeContext('A'.repeat(30_000), key, 's').ok, false);
});
