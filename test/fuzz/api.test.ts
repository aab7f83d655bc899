// Fuzzing the request-line and header parsers of the HTTP API (http/api.ts). decodeKeySegment:
// the key in /kv/{key} and /replicas/{key}, 1..1024 raw bytes percent-encoded where needed;
// anything else is refused with the API's HttpError, status 400 (never a 500 from some other
// exception). isLoopbackHost: the Host check of a node without a token (DNS rebinding).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeKeySegment, isLoopbackHost } from '../../node-core/src/http/api.js';
import { keyBytesMax } from '../../node-core/src/core/codec.js';
import { fuzzParams } from './fuzz.js';

/** The refusal decodeKeySegment promises: its HttpError (not exported), status 400, a key error code. */
function assertRefused(e: unknown, codes: readonly string[], input: string): void {
  const shown = JSON.stringify(input.slice(0, 80));
  assert.ok(e instanceof Error, `threw a non-Error for ${shown}: ${String(e)}`);
  assert.equal(e.constructor.name, 'HttpError', `threw ${e.constructor.name} (${e.message}) for ${shown}`);
  const h = e as Error & { status?: unknown; code?: unknown };
  assert.equal(h.status, 400, `status ${String(h.status)} for ${shown}`);
  assert.ok(codes.includes(String(h.code)), `code ${String(h.code)} for ${shown} (expected ${codes.join(' or ')})`);
}

function decodeOrError(segment: string): { bytes: Buffer } | { error: unknown } {
  try {
    return { bytes: decodeKeySegment(segment) };
  } catch (error) {
    return { error };
  }
}

/** Lengths biased to the limit. */
const keyBytesArb = (min: number, max: number) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.uint8Array({ minLength: min, maxLength: Math.min(max, min + 40) }) },
    { weight: 2, arbitrary: fc.uint8Array({ minLength: min, maxLength: max }) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(min, max), fc.integer({ min: 0, max: 255 })).map(([n, b]) => new Uint8Array(n).fill(b)) },
  );

const unreserved = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]$/;

/** Each byte as %XX (either case), or itself when it is a character a path may carry as is. */
function encode(bytes: Uint8Array, raw: readonly boolean[], upper: readonly boolean[]): string {
  let out = '';
  bytes.forEach((b, i) => {
    const c = String.fromCharCode(b);
    if (raw[i % Math.max(1, raw.length)] && unreserved.test(c)) out += c;
    else {
      const hex = b.toString(16).padStart(2, '0');
      out += `%${upper[i % Math.max(1, upper.length)] ? hex.toUpperCase() : hex}`;
    }
  });
  return out;
}

test('fuzz api: any key of 1..1024 bytes, every byte percent-encoded, decodes to exactly its bytes', () => {
  fc.assert(
    fc.property(keyBytesArb(1, keyBytesMax), fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }), (bytes, upper) => {
      const got = decodeOrError(encode(bytes, [false], upper));
      assert.ok('bytes' in got, `refused a valid key: ${String('error' in got ? got.error : '')}`);
      assert.ok(got.bytes.equals(bytes));
    }),
    fuzzParams(),
  );
});

test('fuzz api: any key of 1..1024 bytes, with path-safe characters left as they are, decodes to exactly its bytes', () => {
  fc.assert(
    fc.property(keyBytesArb(1, keyBytesMax), fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }), (bytes, raw, upper) => {
      const got = decodeOrError(encode(bytes, raw, upper));
      assert.ok('bytes' in got, `refused a valid key: ${String('error' in got ? got.error : '')}`);
      assert.ok(got.bytes.equals(bytes));
    }),
    fuzzParams(),
  );
});

test('fuzz api: keys over 1024 bytes and the empty key are refused with 400', () => {
  fc.assert(
    fc.property(keyBytesArb(keyBytesMax + 1, 2 * keyBytesMax), fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }), (bytes, raw) => {
      const segment = encode(bytes, raw, [true]);
      const got = decodeOrError(segment);
      assert.ok('error' in got, `accepted a key of ${bytes.byteLength} bytes`);
      assertRefused(got.error, ['key_too_long'], segment);
    }),
    fuzzParams(),
  );
  const empty = decodeOrError('');
  assert.ok('error' in empty, 'accepted the empty key');
  assertRefused(empty.error, ['bad_key'], '');
});

/**
 * What an ASCII segment means, worked out independently: split around well-formed escapes;
 * any other '%' makes it malformed.
 */
function meaning(segment: string): { bytes: Buffer } | { malformed: true } {
  const out: number[] = [];
  for (const part of segment.split(/(%[0-9A-Fa-f]{2})/)) {
    if (/^%[0-9A-Fa-f]{2}$/.test(part)) out.push(Number.parseInt(part.slice(1), 16));
    else if (part.includes('%')) return { malformed: true };
    else for (const ch of part) out.push(ch.charCodeAt(0));
  }
  return { bytes: Buffer.from(out) };
}

/** ASCII path segments (a Node HTTP server refuses other bytes in the request line), heavy on '%'. */
const asciiSegmentArb = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: fc.oneof(fc.constantFrom('%', '%4', '%41', '%e9', '%zz', '%%', 'a', 'F', '0', '/', '?', '#'), fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 })), maxLength: 80 }) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1015, max: 1030 }), fc.constantFrom('a', '%61', '%'), fc.constantFrom('', '%', '%6', 'b')).map(([n, unit, tail]) => unit.repeat(n) + tail) },
);

test('fuzz api: any ASCII segment decodes to what it means, or is refused with 400 (malformed, empty or too long)', () => {
  fc.assert(
    fc.property(asciiSegmentArb, (segment) => {
      const want = meaning(segment);
      const got = decodeOrError(segment);
      if ('malformed' in want) {
        assert.ok('error' in got, `accepted the malformed ${JSON.stringify(segment)}`);
        // A too-long prefix can be noticed before the bad escape.
        assertRefused(got.error, ['bad_key', 'key_too_long'], segment);
      } else if (want.bytes.byteLength === 0) {
        assert.ok('error' in got, 'accepted the empty key');
        assertRefused(got.error, ['bad_key'], segment);
      } else if (want.bytes.byteLength > keyBytesMax) {
        assert.ok('error' in got, `accepted a key of ${want.bytes.byteLength} bytes`);
        assertRefused(got.error, ['key_too_long'], segment);
      } else {
        assert.ok('bytes' in got, `refused ${JSON.stringify(segment)}: ${String('error' in got ? got.error : '')}`);
        assert.ok(got.bytes.equals(want.bytes), `decoded ${JSON.stringify(segment)} to ${got.bytes.toString('hex')}, not ${want.bytes.toString('hex')}`);
      }
    }),
    fuzzParams(),
  );
});

test('fuzz api: any string at all either decodes to 1..1024 bytes or is refused with 400', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 400 }), fc.string({ maxLength: 1100 })), (segment) => {
      const got = decodeOrError(segment);
      if ('error' in got) assertRefused(got.error, ['bad_key', 'key_too_long'], segment);
      else assert.ok(Buffer.isBuffer(got.bytes) && got.bytes.byteLength >= 1 && got.bytes.byteLength <= keyBytesMax, `returned ${got.bytes.byteLength} bytes`);
    }),
    fuzzParams(),
  );
});

// ---------------------------------------------------------------------------------------------
// Host headers. A browser sends the host of the URL it loads, serialized by the WHATWG URL
// parser; a rebinding attack picks that name (any DNS name), never its syntax.

const labelArb = fc.oneof(fc.constantFrom('localhost', 'localhost-', 'local', '127', '0', '1', '255', 'evil', 'com', 'nip', 'io', 'notlocalhost', 'evil-localhost', 'l0calhost'), fc.string({ unit: fc.constantFrom(...'abclo0127-'), minLength: 1, maxLength: 6 }));
const hostCandidateArb = fc.oneof(
  fc.array(labelArb, { minLength: 1, maxLength: 4 }).map((l) => l.join('.')),
  fc.tuple(fc.nat({ max: 300 }), fc.nat({ max: 300 }), fc.nat({ max: 300 }), fc.nat({ max: 300 })).map((o) => o.join('.')),
  fc.constantFrom('[::1]', '[::ffff:127.0.0.1]', '[0:0:0:0:0:0:0:1]', '[::2]', '[fe80::1]', '127.1', '0x7f.0.0.1', '2130706433', 'LOCALHOST', 'localhost.', 'a.localhost', 'localhost.evil.com', '127.0.0.1.nip.io'),
);

/** What the browser sends as Host for http://candidate[:port]/, or undefined if it is no URL. */
function browserHost(candidate: string, port: number | undefined): { host: string; hostname: string } | undefined {
  try {
    const u = new URL(`http://${candidate}${port === undefined ? '' : `:${port}`}/`);
    return { host: u.host, hostname: u.hostname };
  } catch {
    return undefined;
  }
}

/** Loopback, independently: the localhost names, 127.0.0.0/8, ::1. */
function isLoopbackName(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(hostname) || hostname === '[::1]';
}

test('fuzz api: isLoopbackHost accepts a Host a browser sends only when it names loopback, and accepts the usual loopback names', () => {
  fc.assert(
    fc.property(hostCandidateArb, fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }), (candidate, port) => {
      const sent = browserHost(candidate, port);
      if (!sent) return;
      const loopback = isLoopbackName(sent.hostname);
      if (isLoopbackHost(sent.host)) assert.ok(loopback, `Host ${JSON.stringify(sent.host)} accepted, but ${sent.hostname} is not loopback`);
      if (sent.hostname === 'localhost' || sent.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(sent.hostname)) assert.ok(isLoopbackHost(sent.host), `Host ${JSON.stringify(sent.host)} refused`);
    }),
    fuzzParams(),
  );
  // Whatever a non-browser client sends, the check answers (a boolean, no exception).
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (h) => assert.equal(typeof isLoopbackHost(h), 'boolean')),
    fuzzParams(),
  );
});
