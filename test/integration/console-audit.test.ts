// The console's audit log (issue 14): electron/backend/audit.ts over a real SQLite file in a temp
// folder. Newest first with paging, per-cluster filtering, secrets redacted at any depth (never
// on disk), details bounded in bytes with a mark, retention by count and by age, bad entries
// refused, and a file that is not an audit log refused by name.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditError, AuditLog, auditDetail, redactedMark } from '../../electron/backend/audit.js';

const root = mkdtempSync(join(tmpdir(), 'gyre-audit-'));
after(() => rmSync(root, { recursive: true, force: true }));
let files = 0;
const fresh = () => join(root, `a${++files}.db`);
const t0 = Date.UTC(2030, 0, 1);
const day = 86_400_000;
const secret = 'tok-7f3a-must-never-be-on-disk';

test('audit: entries come back newest first, page by page with before, filtered by cluster, and survive a reopen', async () => {
  const path = fresh();
  const log = await AuditLog.open(path, { now: () => t0 });
  for (let i = 0; i < 25; i++) await log.record({ at: t0 + i, cluster: i % 2 ? 'prod' : 'dev', action: 'faults:inject', detail: { i }, result: i === 3 ? 'error' : 'ok', ...(i === 3 ? { error: 'refused' } : {}) });
  const page1 = await log.list({ limit: 10 });
  assert.deepEqual(page1.map((e) => (e.detail as { i: number }).i), [24, 23, 22, 21, 20, 19, 18, 17, 16, 15]);
  const page3 = await log.list({ limit: 10, before: (await log.list({ limit: 10, before: page1.at(-1)!.id })).at(-1)!.id });
  assert.deepEqual(page3.map((e) => (e.detail as { i: number }).i), [4, 3, 2, 1, 0]);
  assert.deepEqual(page3[1], { id: page3[1]!.id, at: t0 + 3, cluster: 'prod', action: 'faults:inject', detail: { i: 3 }, result: 'error', error: 'refused' });
  const prod = await log.list({ limit: 100, cluster: 'prod' });
  assert.equal(prod.length, 12);
  assert.ok(prod.every((e) => e.cluster === 'prod'));
  await log.close();
  const again = await AuditLog.open(path, { now: () => t0 });
  assert.equal((await again.list({ limit: 1000 })).length, 25);
  await again.close();
  assert.equal(statSync(path).mode & 0o777, 0o600);
});

test('audit: values under token, confirm (any case, any depth, in arrays) are replaced by a mark and never reach the file', async () => {
  const path = fresh();
  const log = await AuditLog.open(path, { now: () => t0 });
  const detail = { profile: { name: 'p', Token: secret, seeds: ['a'] }, confirm: secret, steps: [{ auth: { token: secret } }], note: 'kept' };
  const e = await log.record({ at: t0, cluster: 'prod', action: 'profiles:save', detail, result: 'ok' });
  assert.deepEqual(e.detail, { profile: { name: 'p', Token: redactedMark, seeds: ['a'] }, confirm: redactedMark, steps: [{ auth: { token: redactedMark } }], note: 'kept' });
  assert.deepEqual((await log.list({ limit: 1 }))[0]!.detail, e.detail);
  await log.close();
  const bytes = readdirSync(root).filter((f) => f.startsWith(path.split('/').at(-1)!)).map((f) => readFileSync(join(root, f)).toString('latin1')).join('');
  assert.ok(bytes.length > 0 && !bytes.includes(secret), 'the token is on disk');
});

test('audit: a detail is bounded: over 2 KiB it is cut to a marked prefix; deep nesting, cycles, long strings and odd values are cut or dropped', () => {
  const big = { keys: Array.from({ length: 40 }, (_, i) => `key-${i}-${'x'.repeat(100)}`) };
  const cut = auditDetail(big) as { truncated: boolean; bytes: number; head: string };
  assert.equal(cut.truncated, true);
  assert.ok(cut.bytes > 2048);
  assert.ok(Buffer.byteLength(JSON.stringify(cut)) <= 2048, `${Buffer.byteLength(JSON.stringify(cut))} bytes`);
  assert.ok(cut.head.startsWith('{"keys":["key-0-'));
  const multibyte = auditDetail({ s: 'é'.repeat(1000), t: '"'.repeat(1000) });
  assert.ok(Buffer.byteLength(JSON.stringify(multibyte)) <= 2048);
  const cycle: Record<string, unknown> = { a: 1 };
  cycle.self = cycle;
  const c = auditDetail(cycle) as Record<string, unknown>;
  assert.equal(c.a, 1);
  assert.ok(JSON.stringify(c).includes('[too deep]'));
  assert.deepEqual(auditDetail({ f: () => 1, u: undefined, n: Number.NaN, b: 10n, d: [undefined] }), { n: null, b: '10', d: [null] });
  assert.deepEqual(auditDetail(JSON.parse('{"__proto__": {"x": 1}}')), JSON.parse('{"__proto__": {"x": 1}}'), 'a __proto__ key is kept as data, not as a prototype');
  assert.ok((auditDetail({ s: 'y'.repeat(5000) }, [], 100_000) as { s: string }).s.length < 1100, 'one long string is cut');
});

test('audit: retention keeps the newest entriesMax entries and none older than 90 days', async () => {
  const path = fresh();
  let now = t0;
  const log = await AuditLog.open(path, { now: () => now, entriesMax: 30 });
  // Pruned every 100 records: after 200, the newest 30 are left.
  for (let i = 0; i < 200; i++) await log.record({ at: t0 + i, cluster: 'c', action: 'load:start', result: 'ok' });
  const left = await log.list({ limit: 1000 });
  assert.equal(left.length, 30);
  assert.equal(left.at(-1)!.at, t0 + 170);
  await log.close();
  now = t0 + 91 * day;
  const later = await AuditLog.open(path, { now: () => now });
  await later.record({ at: now, cluster: 'c', action: 'load:stop', result: 'ok' });
  assert.deepEqual((await later.list({ limit: 1000 })).map((e) => e.action), ['load:stop'], 'entries over 90 days old are gone at open');
  await later.close();
});

test('audit: a bad entry or query is refused with an AuditError; a file that is not an audit log fails to open naming it', async (t) => {
  const log = await AuditLog.open(fresh(), { now: () => t0 });
  t.after(() => log.close());
  const ok = { at: t0, cluster: 'c', action: 'keys:resolve', result: 'ok' as const };
  for (const [what, e] of [
    ['action with a space', { ...ok, action: 'rm -rf' }],
    ['result', { ...ok, result: 'maybe' }],
    ['at', { ...ok, at: Number.NaN }],
    ['cluster', { ...ok, cluster: 'c'.repeat(300) }],
    ['error type', { ...ok, error: 42 }],
  ] as const) {
    await assert.rejects(log.record(e as never), (x: unknown) => x instanceof AuditError && x.code === 'bad-entry', what);
  }
  await assert.rejects(log.list({ limit: 0 }), AuditError);
  await assert.rejects(log.list({ limit: 10, before: 1.5 }), AuditError);
  const long = await log.record({ ...ok, result: 'error', error: 'e'.repeat(5000) });
  assert.equal(long.error!.length, 1024);
  const garbage = fresh();
  writeFileSync(garbage, Buffer.alloc(4096, 0x33));
  await assert.rejects(AuditLog.open(garbage), (x: unknown) => x instanceof AuditError && x.code === 'audit-unreadable' && x.message.includes(garbage));
});
