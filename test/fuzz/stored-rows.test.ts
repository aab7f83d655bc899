// Fuzzing stored rows (issue 9): the disk is outside too. A real SqliteStore whose row bytes
// are mutated underneath it (bit flips, truncation, garbage, valid msgpack of the wrong shape)
// must never throw on read or scan, must hand back either the versions it stored or nothing,
// and must quarantine exactly the rows it could not read; a write to the key afterwards works.
// Runs: GYRE_FUZZ_RUNS (default 2000; `npm run fuzz` runs 100,000, scaled down here by 10
// because each case is a real SQLite round trip).

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { pack, unpack } from 'msgpackr';
import { SqliteStore } from '../../node-core/src/store/sqlite-store.js';
import { packVersions, parseVersions } from '../../node-core/src/core/codec.js';
import { type Version, syncSiblings } from '../../node-core/src/core/siblings.js';
import { normalize } from '../../node-core/src/core/vclock.js';

const numRuns = Math.max(100, Math.floor(Number(process.env.GYRE_FUZZ_RUNS ?? '2000') / 10));
const dir = mkdtempSync(join(tmpdir(), 'gyre-fuzz-rows-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function version(n: number, value: Uint8Array): Version {
  const dot = { actor: `n${n % 3}.abc`, counter: 1 + n, ts: 1_700_000_000_000 + n };
  return { dot, clock: normalize([], [dot]), deleted: false, contentType: 'text/plain', value };
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('garbage' as const), bytes: fc.uint8Array({ minLength: 0, maxLength: 64 }) }),
  fc.record({ kind: fc.constant('shape' as const), value: fc.jsonValue() }),
);

test('Fuzz: a row mutated on disk reads back as what was stored or as nothing (quarantined), never a throw', async () => {
  const store = new SqliteStore(dir, { nodeId: 'n1', now: () => 1_700_000_000_000 });
  const side = new Database(join(dir, 'gyre.sqlite3'));
  try {
    let quarantined = 0;
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 32 }), { minLength: 1, maxLength: 3 }), mutation, async (values, m) => {
        const key = Buffer.from(`row-${n++}`);
        const stored = syncSiblings([], values.map((v, i) => version(i, v)));
        await store.update(key, 0, () => ({ versions: stored, result: undefined }));
        const row = side.prepare<[Buffer], { data: Buffer }>('SELECT data FROM kv WHERE key = ?').get(key)!;
        let data: Buffer;
        if (m.kind === 'flip') {
          data = Buffer.from(row.data);
          data[m.at % data.length] = data[m.at % data.length]! ^ m.xor;
        } else if (m.kind === 'truncate') data = row.data.subarray(0, m.at % row.data.length);
        else if (m.kind === 'garbage') data = Buffer.from(m.bytes);
        else data = pack(m.value);
        side.prepare<[Buffer, Buffer]>('UPDATE kv SET data = ? WHERE key = ?').run(data, key);
        // What the store's own parser makes of the bytes decides the expected outcome.
        let expected: Version[] | undefined;
        try {
          const p = parseVersions(unpack(data));
          expected = p.ok ? p.value : undefined;
        } catch {
          expected = undefined;
        }
        const got = await store.read(key);
        if (expected === undefined) {
          quarantined++;
          assert.deepEqual(got, [], 'an unreadable row reads as absent');
        } else assert.deepEqual(pack(packVersions(got)), pack(packVersions(expected)));
        assert.equal(store.stats().quarantined, quarantined, 'exactly the unreadable rows are quarantined');
        // The key stays writable, and scans never stop at a bad row.
        await store.update(key, 0, (cur) => ({ versions: syncSiblings(cur, [version(9, new Uint8Array([1]))]), result: undefined }));
        assert.ok((await store.read(key)).length >= 1);
        assert.ok(store.scanPartition(0, undefined, 1 << 20).some((k) => Buffer.compare(k.key, key) === 0));
      }),
      { numRuns },
    );
  } finally {
    side.close();
    await store.close();
  }
});
