// What the console's history costs (issue 14, docs/console-history.md): bytes on disk per
// sample and time per record() for 3 and 100 nodes, and the same samples in a narrow table (one
// row per series and second) for comparison. Run: node dist/test/bench/history.js [samples]

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { SeriesStore } from '../../electron/backend/history.js';
import { sampleOf } from '../../electron/backend/series.js';
import { busyCluster } from '../helpers/snapshots.js';

const samples = Number(process.argv[2] ?? 3600);
const t0 = Date.UTC(2030, 0, 1);

function fileBytes(path: string): number {
  return [path, `${path}-wal`].reduce((a, p) => {
    try {
      return a + statSync(p).size;
    } catch {
      return a;
    }
  }, 0);
}

function exec(db: sqlite3.Database, sql: string, params: unknown[] = []): Promise<void> {
  return new Promise((resolve, reject) => db.run(sql, params, (e) => (e ? reject(e) : resolve())));
}

async function ours(dir: string, nodes: number): Promise<{ bytesPerSample: number; msPerRecord: number }> {
  const path = join(dir, `history-${nodes}.db`);
  let now = t0;
  const store = await SeriesStore.open(path, { now: () => now });
  const started = performance.now();
  for (let i = 0; i < samples; i++) {
    now = t0 + i * 1000;
    await store.record('bench', busyCluster(nodes, now, i));
  }
  const ms = performance.now() - started;
  for (const [what, series, maxPoints] of [['cluster-wide series, 1 s points', 'cluster', samples], ['one node, 1 s points', { node: 'n2' }, samples], ['cluster-wide series, minute points', 'cluster', Math.ceil(samples / 60)]] as const) {
    const q0 = performance.now();
    const r = await store.query({ cluster: 'bench', from: t0, to: t0 + samples * 1000, series, maxPoints });
    console.log(`  query ${what} over ${samples} s (${r.tier}, ${r.t.length} points): ${(performance.now() - q0).toFixed(1)} ms`);
  }
  await store.close();
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const d = new sqlite3.Database(path, sqlite3.OPEN_READONLY, (e) => (e ? reject(e) : resolve(d)));
  });
  const row = await new Promise<{ raw: number; minute: number }>((resolve, reject) =>
    db.get('SELECT (SELECT avg(length(v)) FROM raw) AS raw, (SELECT avg(length(avg) + length(peak) + length(n)) FROM minute) AS minute', (e, r: { raw: number; minute: number }) => (e ? reject(e) : resolve(r))),
  );
  await new Promise<void>((resolve) => db.close(() => resolve()));
  console.log(`  values per row: raw ${row.raw.toFixed(0)} bytes, minute rollup ${row.minute.toFixed(0)} bytes`);
  // Checkpointed by close: the file holds everything.
  return { bytesPerSample: fileBytes(path) / samples, msPerRecord: ms / samples };
}

async function narrow(dir: string, nodes: number): Promise<{ bytesPerSample: number; msPerRecord: number }> {
  const path = join(dir, `narrow-${nodes}.db`);
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const d = new sqlite3.Database(path, (e) => (e ? reject(e) : resolve(d)));
  });
  await exec(db, 'PRAGMA journal_mode = WAL');
  await exec(db, 'PRAGMA synchronous = NORMAL');
  await exec(db, 'CREATE TABLE series (id INTEGER PRIMARY KEY, name TEXT UNIQUE)');
  await exec(db, 'CREATE TABLE v (cluster INTEGER, series INTEGER, t INTEGER, value REAL, PRIMARY KEY (cluster, series, t)) WITHOUT ROWID');
  const ids = new Map<string, number>();
  const insert = db.prepare('INSERT INTO v (cluster, series, t, value) VALUES (?, ?, ?, ?)');
  const started = performance.now();
  let counters;
  for (let i = 0; i < samples; i++) {
    const now = t0 + i * 1000;
    const s = sampleOf(busyCluster(nodes, now, i), counters);
    counters = s.counters;
    await exec(db, 'BEGIN');
    for (const [name, v] of s.values) {
      if (!ids.has(name)) {
        ids.set(name, ids.size + 1);
        await exec(db, 'INSERT INTO series (id, name) VALUES (?, ?)', [ids.size, name]);
      }
      await new Promise<void>((resolve, reject) => insert.run([1, ids.get(name), now / 1000, v], (e) => (e ? reject(e) : resolve())));
    }
    await exec(db, 'COMMIT');
  }
  const ms = performance.now() - started;
  await new Promise<void>((resolve) => insert.finalize(() => resolve()));
  await new Promise<void>((resolve) => db.close(() => resolve()));
  return { bytesPerSample: fileBytes(path) / samples, msPerRecord: ms / samples };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gyre-history-bench-'));
  try {
    for (const nodes of [3, 100]) {
      const a = await ours(dir, nodes);
      console.log(`layout rows, ${nodes} nodes: ${a.bytesPerSample.toFixed(0)} bytes/sample, ${a.msPerRecord.toFixed(3)} ms/record (${samples} samples, with minute rollups)`);
      // The narrow table takes minutes for 100 nodes: only with --narrow.
      if (nodes > 3 && !process.argv.includes('--narrow')) continue;
      const b = await narrow(dir, nodes);
      console.log(`narrow table, ${nodes} nodes: ${b.bytesPerSample.toFixed(0)} bytes/sample, ${b.msPerRecord.toFixed(3)} ms/record (no rollups)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
