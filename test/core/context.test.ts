// The opaque context (Dynamo 4.4): a client hands back what it read; the node must get back
// exactly that clock, and must refuse anything it did not issue for this key and cluster.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type ContextKeyring, contextKeysMax, contextEntriesMax, decodeContext, encodeContext, makeContextKey, mergeKeyrings, packKeyring, parseKeyring, readContextUnverified, sameKeyrings } from '../../node-core/src/core/context.js';
import { counterMax, timestampMsMax } from '../../node-core/src/core/codec.js';
import { pack } from 'msgpackr';
import { createHmac } from 'node:crypto';
import { type Entry, type VClock, compare, emptyClock, normalize } from '../../node-core/src/core/vclock.js';

const runs = { numRuns: 300 };
const base64url = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const actorArb = fc.string({ unit: fc.constantFrom(...'abcXYZ019_-.~'), minLength: 1, maxLength: 12 });

const entryArb: fc.Arbitrary<Entry> = fc.record({
  actor: fc.oneof(fc.constantFrom('n1.lx3k2', 'n2.lx3k9', 'n3.lx4aa'), actorArb),
  counter: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: counterMax })),
  ts: fc.integer({ min: 0, max: 4_102_444_800_000 }),
}, { noNullPrototype: true });

/** Any normalized clock small enough to be a legitimate context. */
const clockArb: fc.Arbitrary<VClock> = fc
  .tuple(fc.array(entryArb, { maxLength: 8 }), fc.array(entryArb, { maxLength: 24 }))
  .map(([entries, dots]) => normalize(entries, dots))
  .filter((c) => c.entries.length + c.dots.length <= contextEntriesMax);

const keyArb = fc.uint8Array({ minLength: 0, maxLength: 64 });
const contextKeyArb = fc.tuple(fc.uint8Array({ minLength: 36, maxLength: 36 }), fc.integer({ min: 0, max: 2 ** 45 })).map(([bytes, at]) => makeContextKey(bytes, at));
/** A cluster's keyring: one key, as a new node has. */
const secretArb: fc.Arbitrary<ContextKeyring> = contextKeyArb.map((k) => ({ keys: [k] }));
const keyringArb: fc.Arbitrary<ContextKeyring> = fc.array(contextKeyArb, { minLength: 1, maxLength: 20 }).map((keys) => mergeKeyrings({ keys }, { keys: [] }));
const fixedRing: ContextKeyring = { keys: [makeContextKey(new Uint8Array(36).fill(7), 1_000)] };

function decodeOk(token: string, key: Uint8Array, secret: ContextKeyring): VClock {
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
  assert.equal(compare(decodeOk(encodeContext(emptyClock, new Uint8Array(), fixedRing), new Uint8Array(), fixedRing), emptyClock), 'equal');
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
      fc.pre(secret.keys[0]!.id !== other.keys[0]!.id);
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
  assert.deepEqual(decodeContext('', key, fixedRing), { ok: false, reason: 'empty context' });
  assert.equal(decodeContext('A'.repeat(30_000), key, fixedRing).ok, false);
});

/** A context sealed with a real key but carrying what no node would write (a node bug, or a key leaked). */
function sealRaw(entries: unknown[], key: Uint8Array, ring: ContextKeyring): string {
  const k = ring.keys[0]!;
  const header = Buffer.concat([Buffer.from([2]), Buffer.from(k.id, 'hex')]);
  const payload = pack([entries, []]);
  const h = createHmac('sha256', k.secret);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(key.byteLength);
  h.update('gyre-context\0');
  h.update(len);
  h.update(key);
  h.update(header);
  h.update(payload);
  return Buffer.concat([header, payload, h.digest().subarray(0, 12)]).toString('base64url');
}

test('Hostile input: a sealed context whose counter or time would overflow is refused, not computed with', () => {
  const key = new TextEncoder().encode('k');
  assert.ok(decodeContext(sealRaw([['n1.a', counterMax, 1]], key, fixedRing), key, fixedRing).ok, 'the largest counter is accepted');
  for (const [what, entry] of [
    ['a counter past 2^52', ['n1.a', counterMax + 1, 1]],
    ['a counter at 2^53 - 1', ['n1.a', Number.MAX_SAFE_INTEGER, 1]],
    ['seconds whose milliseconds leave the safe integers', ['n1.a', 1, Math.floor(Number.MAX_SAFE_INTEGER / 1000) + 1]],
    ['seconds past the time limit', ['n1.a', 1, Math.floor(timestampMsMax / 1000) + 1]],
    ['a fractional counter', ['n1.a', 1.5, 1]],
    ['a negative time', ['n1.a', 1, -1]],
  ] as const) {
    const r = decodeContext(sealRaw([entry], key, fixedRing), key, fixedRing);
    assert.equal(r.ok, false, `${what} accepted`);
  }
});

test('Context keys: a context verifies with every keyring that holds its sealing key, and with no other', () => {
  fc.assert(
    fc.property(clockArb, keyArb, keyringArb, keyringArb, (clock, key, a, b) => {
      const token = encodeContext(clock, key, a);
      // Sealed with a's oldest key, which a merge keeps unless 16 older ones push it out.
      const merged = mergeKeyrings(a, b);
      assert.ok(merged.keys[0]!.createdMs <= a.keys[0]!.createdMs);
      fc.pre(merged.keys.some((k) => k.id === a.keys[0]!.id));
      assert.ok(decodeContext(token, key, merged).ok, 'a merged keyring keeps the sealing key');
      const holds = b.keys.some((k) => k.id === a.keys[0]!.id && Buffer.compare(Buffer.from(k.secret), Buffer.from(a.keys[0]!.secret)) === 0);
      assert.equal(decodeContext(token, key, b).ok, holds);
    }),
    runs,
  );
});

test('Context keys: merging keyrings is commutative, associative and idempotent, bounded, and keeps the oldest keys', () => {
  fc.assert(
    fc.property(keyringArb, keyringArb, keyringArb, (a, b, c) => {
      assert.ok(sameKeyrings(mergeKeyrings(a, b), mergeKeyrings(b, a)));
      assert.ok(sameKeyrings(mergeKeyrings(mergeKeyrings(a, b), c), mergeKeyrings(a, mergeKeyrings(b, c))));
      assert.ok(sameKeyrings(mergeKeyrings(a, a), a));
      const m = mergeKeyrings(a, b);
      assert.ok(m.keys.length <= contextKeysMax);
      const order = (x: { createdMs: number; id: string }, y: { createdMs: number; id: string }) => x.createdMs - y.createdMs || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0);
      const oldest = [...a.keys, ...b.keys].sort(order).filter((k, i, all) => all.findIndex((o) => o.id === k.id) === i).slice(0, contextKeysMax);
      assert.deepEqual(m.keys.map((k) => k.id), oldest.map((k) => k.id));
    }),
    runs,
  );
});

test('Context keys: the wire and disk form round-trips, and malformed keyrings are refused', () => {
  fc.assert(
    fc.property(keyringArb, (ring) => {
      const back = parseKeyring(packKeyring(ring));
      assert.ok(back && sameKeyrings(back, ring));
    }),
    runs,
  );
  const good = packKeyring(fixedRing)[0]!;
  for (const bad of [[], [[good[0], new Uint8Array(31), 1]], [['XYZ', good[1], 1]], [[good[0], good[1]]], [[good[0], good[1], -1]], [[good[0], good[1], 2 ** 53]], 'keys', Array.from({ length: contextKeysMax + 1 }, () => good)]) {
    assert.equal(parseKeyring(bad), undefined, JSON.stringify(bad).slice(0, 60));
  }
});

test('Context keys: a harness reads the clock of a context without its key', () => {
  fc.assert(
    fc.property(clockArb, keyArb, secretArb, (clock, key, ring) => {
      const back = readContextUnverified(encodeContext(clock, key, ring));
      assert.ok(back);
      assert.deepEqual(back, truncatedToSeconds(clock));
    }),
    runs,
  );
});

test('Context keys: a node that joins or comes back wiped seals with the cluster\'s key once it has heard from it', () => {
  const cluster: ContextKeyring = { keys: [makeContextKey(new Uint8Array(36).fill(0xff), 1_000)] };
  // The newcomer's key sorts first by id, but it is newer.
  const newcomer: ContextKeyring = { keys: [makeContextKey(new Uint8Array(36).fill(0x00), 9_000)] };
  const merged = mergeKeyrings(newcomer, cluster);
  assert.equal(merged.keys[0]!.id, cluster.keys[0]!.id);
  const key = new TextEncoder().encode('k');
  assert.ok(decodeContext(encodeContext({ entries: [], dots: [] }, key, merged), key, cluster).ok, 'what it seals, every old member verifies');
});
