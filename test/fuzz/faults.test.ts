// Fuzzing parseFaultSpec (core/faults.ts): the fault a client asks for (HTTP JSON, Socket.IO)
// and every spec in a peer's fault table (msgpack). Valid specs, in the canonical form and in
// the loose forms clients send (comma-separated node lists, numbers as strings, `nodes` for
// `from`), parse to exactly the spec meant; broken ones never make it throw; whatever it
// accepts is within the limits and parses to itself again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type FaultSpec, type ParsedSpec, faultDurationMaxMs, faultNodesMax, latencyMaxMs, parseFaultSpec, pauseDurationDefaultMs, pauseDurationMaxMs } from '../../node-core/src/core/faults.js';
import { type Codec, byteEditsArb, canon, checkAccepted, fieldEditsArb, fuzzParams, mutateBytes, mutateFields, overTheWire, packed, tryUnpack, undecodable } from './fuzz.js';
import { faultSpecArb, faultSpecProblem } from './wire-gen.js';

type Accepted = { readonly spec: FaultSpec; readonly durationMs: number | undefined };

/** What the injector relies on for an accepted spec and its duration. */
function specInvariant(a: Accepted): string | undefined {
  const s = a.spec;
  if (a.durationMs !== undefined && !(Number.isSafeInteger(a.durationMs) && a.durationMs >= 1 && a.durationMs <= (s.kind === 'pause' ? pauseDurationMaxMs : faultDurationMaxMs))) return `durationMs ${String(a.durationMs)}`;
  if (s.kind === 'pause' && a.durationMs === undefined) return 'a pause without a duration';
  if (s.kind === 'crash' && a.durationMs !== undefined) return 'a crash with a duration';
  return faultSpecProblem(s);
}

/** A spec as JSON carries it: no undefined fields. */
function specObject(spec: FaultSpec, durationMs: number | undefined): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(spec)) if (v !== undefined) o[k] = v;
  if (durationMs !== undefined) o.durationMs = durationMs;
  return o;
}

function onlyAccepted(r: ParsedSpec): Accepted | undefined {
  return r.ok ? { spec: r.spec, durationMs: r.durationMs } : undefined;
}

const specCodec: Codec<Accepted> = { name: 'parseFaultSpec', parse: (raw) => onlyAccepted(parseFaultSpec(raw)), encode: (a) => specObject(a.spec, a.durationMs) };

function durationArb(spec: FaultSpec): fc.Arbitrary<number | undefined> {
  return fc.option(fc.oneof(fc.integer({ min: 1, max: spec.kind === 'pause' ? pauseDurationMaxMs : faultDurationMaxMs }), fc.constant(1)), { nil: undefined });
}

const validArb = faultSpecArb.chain((spec) => durationArb(spec).map((durationMs) => ({ spec, durationMs })));

/** What parseFaultSpec should answer for a valid spec and duration. */
function expected(spec: FaultSpec, durationMs: number | undefined): Accepted {
  if (spec.kind === 'crash') return { spec, durationMs: undefined };
  if (spec.kind === 'pause') return { spec, durationMs: durationMs ?? pauseDurationDefaultMs };
  return { spec, durationMs };
}

test('fuzz faults: a valid spec parses to itself, sent as JSON or msgpack', () => {
  fc.assert(
    fc.property(validArb, ({ spec, durationMs }) => {
      const o = specObject(spec, durationMs);
      for (const raw of [JSON.parse(JSON.stringify(o)) as unknown, overTheWire(o)]) {
        const got = onlyAccepted(parseFaultSpec(raw));
        assert.ok(got, `refused a valid spec: ${JSON.stringify(o)}: ${JSON.stringify(parseFaultSpec(raw))}`);
        assert.deepStrictEqual(canon(got), canon(expected(spec, durationMs)));
      }
    }),
    fuzzParams(),
  );
});

/** The loose forms the CLI and HTTP clients send: lists as "a, b,a", numbers as strings or with fractions, `nodes` for `from`. */
const looseArb = validArb.chain(({ spec, durationMs }) =>
  fc.tuple(fc.boolean(), fc.boolean(), fc.boolean(), fc.constantFrom(',', ', ', ' ,'), fc.constantFrom(0, 0.4, -0.4, 0.25)).map(([asText, numbersAsText, nodesForFrom, sep, fraction]) => {
    // A repeat is dropped by the parser (but counts towards the limit before it is).
    const repeated = (l: readonly string[]) => (l.length < faultNodesMax ? [...l, l[0]!] : [...l]);
    const list = (l: readonly string[] | undefined) => (l === undefined ? undefined : asText ? repeated(l).join(sep) : repeated(l));
    // Whole milliseconds may come with a fraction: they are rounded (never past the limits).
    const ms = (n: number | undefined, max: number) => (n === undefined ? undefined : n + fraction >= 0 && n + fraction <= max && (n + fraction >= 1 || n === 0) ? n + fraction : n);
    const num = (n: number | undefined) => (n === undefined ? undefined : numbersAsText ? ` ${n} ` : n);
    const o: Record<string, unknown> = { kind: spec.kind };
    if (spec.kind === 'partition') {
      o[nodesForFrom ? 'nodes' : 'from'] = list(spec.from);
      if (spec.to) o.to = list(spec.to);
      if (spec.oneWay) o.oneWay = true;
    } else if (spec.kind === 'latency' || spec.kind === 'loss') {
      if (spec.nodes) o.nodes = list(spec.nodes);
      if (spec.kind === 'latency') {
        o.delayMs = num(ms(spec.delayMs, latencyMaxMs));
        if (spec.jitterMs !== 0) o.jitterMs = num(ms(spec.jitterMs, latencyMaxMs));
      } else o.probability = num(spec.probability);
    } else o.node = spec.node;
    if (durationMs !== undefined) o.durationMs = num(ms(durationMs, spec.kind === 'pause' ? pauseDurationMaxMs : faultDurationMaxMs));
    return { o, want: expected(spec, durationMs) };
  }),
);

test('fuzz faults: the loose forms clients send parse to the spec they mean', () => {
  fc.assert(
    fc.property(looseArb, ({ o, want }) => {
      const got = onlyAccepted(parseFaultSpec(JSON.parse(JSON.stringify(o))));
      assert.ok(got, `refused ${JSON.stringify(o)}: ${JSON.stringify(parseFaultSpec(o))}`);
      assert.deepStrictEqual(canon(got), canon(want));
    }),
    fuzzParams(),
  );
});

const startArb: fc.Arbitrary<unknown> = fc.oneof(
  validArb.map(({ spec, durationMs }) => specObject(spec, durationMs)),
  looseArb.map(({ o }) => o),
);

test('fuzz faults: fields replaced, dropped or added never make parseFaultSpec throw; what it accepts is within the limits and parses to itself', () => {
  fc.assert(
    fc.property(startArb, fieldEditsArb(), (start, edits) => {
      checkAccepted(specCodec, mutateFields(start, edits), specInvariant);
    }),
    fuzzParams(),
  );
});

test('fuzz faults: JSON text and msgpack bytes edited never make parseFaultSpec throw; what it accepts is within the limits and parses to itself', () => {
  fc.assert(
    fc.property(startArb, byteEditsArb, (start, edits) => {
      let fromJson: unknown = undefined;
      try {
        fromJson = JSON.parse(mutateBytes(Buffer.from(JSON.stringify(start)), edits).toString('utf8'));
      } catch {
        // not JSON any more: the HTTP API answers 400 before parsing a spec
      }
      checkAccepted(specCodec, fromJson, specInvariant);
      const decoded = tryUnpack(mutateBytes(packed(start), edits));
      if (decoded !== undecodable) checkAccepted(specCodec, decoded, specInvariant);
    }),
    fuzzParams(),
  );
});
