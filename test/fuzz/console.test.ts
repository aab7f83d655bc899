// Fuzzing what the console backend (electron/backend/) accepts from its renderer, over
// Electron IPC (structured clone) or Socket.IO (`gyre console --web`, JSON): connection
// profiles (checkProfile) and workload specs (checkWorkloadSpec). Valid input gives exactly
// the normalized value meant; anything else is refused with an Error whose message is meant
// for the user (never a TypeError from inside), or gives a value within the limits that the
// check leaves unchanged when applied again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkProfile } from '../../electron/backend/profiles.js';
import { checkWorkloadSpec, workloadKeysMax, workloadRateMax, workloadValueBytesMax } from '../../electron/backend/workload.js';
import type { Environment, ProfileInput, WorkloadSpec } from '../../node-core/src/wire/console.js';
import { byteEditsArb, canon, fieldEditsArb, fuzzParams, jsWeirdArb, mutateBytes, mutateFields, show } from './fuzz.js';

const environments: readonly Environment[] = ['development', 'staging', 'production'];

/** Runs a check; a refusal must be a plain Error with a message (what the user is shown). */
function refusedOr<T>(check: () => T, input: unknown): T | undefined {
  try {
    return check();
  } catch (e) {
    assert.ok(e instanceof Error && e.constructor === Error, `threw ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : show(e)} (not a user-facing Error) on ${show(input)}`);
    assert.ok(e.message.length > 0);
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Profiles.

const hostArb = fc.oneof(
  fc.tuple(fc.nat({ max: 255 }), fc.nat({ max: 255 }), fc.nat({ max: 255 }), fc.nat({ max: 255 })).map((o) => o.join('.')),
  // Labels start with a letter: a name whose last label is a number is read as an IPv4 address.
  fc
    .array(fc.tuple(fc.constantFrom(...'abcxyz'), fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'), maxLength: 9 })).map(([a, b]) => a + b), { minLength: 1, maxLength: 3 })
    // No label ends in '-', and none looks like punycode ('xn--'): URL refuses those.
    .filter((l) => l.every((x) => !x.endsWith('-') && x.slice(2, 4) !== '--'))
    .map((l) => l.join('.')),
  fc.constantFrom('localhost', '[::1]', 'db-1.example'),
);

/**
 * A seed as a user types it, and what it means: scheme://host[:port], default ports dropped. A
 * TLS profile's seeds are https (a bare host:port becomes https), a plain one's http.
 */
const seedArb = (tls: boolean) => fc.tuple(fc.constantFrom(...(tls ? ['', 'https://', 'HTTPS://'] : ['', 'http://', 'HTTP://'])), hostArb, fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }), fc.constantFrom('', '/', '/status?x=1')).map(([scheme, host, port, path]) => {
  const proto = tls ? 'https:' : 'http:';
  const defaultPort = proto === 'https:' ? 443 : 80;
  return { typed: `${scheme}${host}${port === undefined ? '' : `:${port}`}${path}`, means: `${proto}//${host}${port === undefined || port === defaultPort ? '' : `:${port}`}` };
});

const nameArb = fc
  .tuple(fc.constantFrom('', ' ', '  '), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), fc.constantFrom('', ' ', '\t'))
  .filter(([a, n, b]) => n.trim() === n && n.length > 0 && Buffer.byteLength(a + n + b) <= 100);

const validProfileArb = fc
  .constantFrom(undefined, true, false)
  .chain((tls) => fc.tuple(nameArb, fc.array(seedArb(tls === true), { minLength: 1, maxLength: 32 }), fc.constantFrom(undefined, null, '', 's3cret', 't'.repeat(1024)), fc.constant(tls), fc.constantFrom(...environments), fc.option(fc.uuid(), { nil: undefined }), tls === true ? fc.constantFrom(undefined, null, '', ' /etc/gyre/ca.pem ') : fc.constantFrom(undefined, null, '')))
  .map(([[pre, name, post], seeds, token, tls, environment, id, caFile]) => {
    const input: Record<string, unknown> = { name: pre + name + post, seeds: seeds.map((s) => s.typed), environment };
    if (token !== undefined) input.token = token;
    if (tls !== undefined) input.tls = tls;
    if (id !== undefined) input.id = id;
    if (caFile !== undefined) input.caFile = caFile;
    const want: ProfileInput = { ...(id !== undefined ? { id } : {}), name, seeds: seeds.map((s) => s.means), token: token ? token : null, tls: tls === true, caFile: caFile?.trim() ? caFile.trim() : null, environment };
    return { input, want };
  });

/** What the profile store and the attach code rely on for an accepted profile. */
function profileProblem(p: ProfileInput): string | undefined {
  if (typeof p.name !== 'string' || p.name !== p.name.trim() || p.name.length === 0 || Buffer.byteLength(p.name) > 100) return `name ${show(p.name)}`;
  if (!Array.isArray(p.seeds) || p.seeds.length < 1 || p.seeds.length > 32) return `seeds ${show(p.seeds)}`;
  for (let i = 0; i < p.seeds.length; i++) {
    const s = p.seeds[i];
    if (typeof s !== 'string' || !/^https?:\/\/[^/?#]+$/.test(s)) return `seed ${i} ${show(s)}`;
  }
  if (p.token !== null && (typeof p.token !== 'string' || p.token.length === 0 || p.token.length > 1024)) return `token ${show(p.token)}`;
  if (typeof p.tls !== 'boolean') return 'tls';
  if (!environments.includes(p.environment)) return `environment ${show(p.environment)}`;
  if (p.id !== undefined && typeof p.id !== 'string') return 'id';
  return undefined;
}

function checkAcceptedProfile(raw: unknown): void {
  const p = refusedOr(() => checkProfile(raw), raw);
  if (p === undefined) return;
  const problem = profileProblem(p);
  assert.equal(problem, undefined, `accepted a profile that breaks an invariant: ${problem}; input ${show(raw)}`);
  const again = refusedOr(() => checkProfile(p), p);
  assert.ok(again, `an accepted profile is refused when checked again: ${show(p)}`);
  assert.deepStrictEqual(canon(again), canon(p), 'checking an accepted profile again changes it');
}

test('fuzz console: a valid profile gives exactly the normalized profile meant (trimmed name, scheme://host seeds)', () => {
  fc.assert(
    fc.property(validProfileArb, ({ input, want }) => {
      const got = refusedOr(() => checkProfile(JSON.parse(JSON.stringify(input))), input);
      assert.ok(got, `refused a valid profile ${show(input)}`);
      assert.deepStrictEqual(canon(got), canon(want));
      checkAcceptedProfile(input);
    }),
    fuzzParams(),
  );
});

test('fuzz console: a profile with fields replaced, dropped or added is refused with a user-facing Error, or accepted within the limits and unchanged by a second check', () => {
  fc.assert(
    fc.property(validProfileArb, fieldEditsArb(jsWeirdArb), ({ input }, edits) => checkAcceptedProfile(mutateFields(input, edits))),
    fuzzParams(),
  );
});

test('fuzz console: a profile whose JSON text is edited is refused with a user-facing Error, or accepted within the limits', () => {
  fc.assert(
    fc.property(validProfileArb, byteEditsArb, ({ input }, edits) => {
      let raw: unknown;
      try {
        raw = JSON.parse(mutateBytes(Buffer.from(JSON.stringify(input)), edits).toString('utf8'));
      } catch {
        return; // Socket.IO would not deliver it
      }
      checkAcceptedProfile(raw);
    }),
    fuzzParams(),
  );
});

// ---------------------------------------------------------------------------------------------
// Workload specs.

const validWorkloadArb = fc
  .tuple(fc.oneof(fc.integer({ min: 1, max: workloadRateMax }), fc.double({ min: 1, max: workloadRateMax, noNaN: true })), fc.double({ min: 0, max: 1, noNaN: true }), fc.oneof(fc.integer({ min: 1, max: workloadKeysMax }), fc.constant(workloadKeysMax)), fc.integer({ min: 0, max: workloadValueBytesMax }))
  .map(([ratePerSecond, getRatio, keys, valueBytes]) => ({ input: { ratePerSecond, getRatio, keys, valueBytes }, want: { ratePerSecond: Math.round(ratePerSecond), getRatio: getRatio === 0 ? 0 : getRatio, keys, valueBytes } }));

function workloadProblem(w: WorkloadSpec): string | undefined {
  if (!Number.isSafeInteger(w.ratePerSecond) || w.ratePerSecond < 1 || w.ratePerSecond > workloadRateMax) return `ratePerSecond ${show(w.ratePerSecond)}`;
  if (typeof w.getRatio !== 'number' || !(w.getRatio >= 0 && w.getRatio <= 1)) return `getRatio ${show(w.getRatio)}`;
  if (!Number.isSafeInteger(w.keys) || w.keys < 1 || w.keys > workloadKeysMax) return `keys ${show(w.keys)}`;
  if (!Number.isSafeInteger(w.valueBytes) || w.valueBytes < 0 || w.valueBytes > workloadValueBytesMax) return `valueBytes ${show(w.valueBytes)}`;
  return undefined;
}

function checkAcceptedWorkload(raw: unknown): void {
  const w = refusedOr(() => checkWorkloadSpec(raw), raw);
  if (w === undefined) return;
  const problem = workloadProblem(w);
  assert.equal(problem, undefined, `accepted a workload that breaks an invariant: ${problem}; input ${show(raw)}`);
  assert.deepStrictEqual(canon(refusedOr(() => checkWorkloadSpec(w), w)), canon(w), 'checking an accepted workload again changes it');
}

test('fuzz console: a valid workload spec gives exactly the spec meant (counts rounded)', () => {
  fc.assert(
    fc.property(validWorkloadArb, ({ input, want }) => {
      const got = refusedOr(() => checkWorkloadSpec(JSON.parse(JSON.stringify(input))), input);
      assert.ok(got, `refused a valid workload ${show(input)}`);
      assert.deepStrictEqual(canon(got), canon(want));
    }),
    fuzzParams(),
  );
});

test('fuzz console: a workload spec with fields replaced, dropped or added is refused with a user-facing Error, or accepted within the limits', () => {
  fc.assert(
    fc.property(validWorkloadArb, fieldEditsArb(jsWeirdArb), ({ input }, edits) => checkAcceptedWorkload(mutateFields(input, edits))),
    fuzzParams(),
  );
});
