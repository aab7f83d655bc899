// Backup and restore of one node's database (docs/deploy.md, "Backup and restore").
//
// A backup is SQLite's own consistent copy (VACUUM INTO, from a read-only connection: the node
// keeps serving, and the copy holds every write committed when it began), checked, stamped with
// when it was taken, and moved into place only once whole. A restore puts it back into an empty
// data folder, with two rules a Dynamo node needs that a file copy would break:
//
// - Actors are retired. The node coordinated writes after the backup was taken, advancing its
//   actors' counters in clocks the other replicas still hold. Coordinating again with those
//   actors from the backup's counters would mint the same (actor, counter) twice for different
//   values, and the replicas holding the newer one would drop the new write as already seen: an
//   acknowledged write lost. So the restored database has no actors, and the next write in
//   each partition mints a new one (the same rule as SqliteStore.retireActor).
// - A backup older than the reaped-key retention is refused. Keys deleted and reaped since
//   are remembered by the other replicas only that long; a copy from before would bring them
//   back through anti-entropy. The limit can be raised on purpose (maxAgeMs).
//
// Everything read from the backup file is checked first: it is a file from outside. A restore
// never keeps the backup's schema (a crafted file could carry triggers that put the actors back
// or rewrite later writes): it builds a fresh database with the node's own schema and copies
// the rows over, table by table. Backups are written mode 600, as the data folder is.

import Database from 'better-sqlite3';
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { databaseFileName, restoredColumns, schemaSql } from './sqlite-store.js';

/** The meta row a backup carries (removed again by a restore). */
const backupMeta = 'gyreBackup';
/** The meta row where a node records its --reaped-retain-ms at every start (start-node.ts): a restore's default age limit. */
export const retentionMeta = 'reapedRetainMs';
const backupFormat = 1;
/** SqliteStore's record of the last actor time it minted (core/store.ts storeMetaReserved). */
const lastActorMeta = 'lastActorMs';
/** Tables a node's database has; a file without them is not one. */
const requiredTables = ['kv', 'meta', 'actors', 'hints'] as const;
const busyTimeoutMs = 5000;

export class BackupError extends Error {}

export interface BackupInfo {
  /** When the copy was taken (ms since the epoch, the backing-up machine's clock). */
  readonly createdAtMs: number;
  /** Keys in the node's data (tombstones included). */
  readonly keys: number;
  /** Hinted versions it held for other nodes. */
  readonly hints: number;
  readonly bytes: number;
  /** The node's --reaped-retain-ms when the backup was taken, where it recorded one. */
  readonly reapedRetainMs?: number | undefined;
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A new empty file only we can read (VACUUM INTO and SQLite accept an empty file). */
function createPrivate(path: string): void {
  rmSync(path, { force: true });
  closeSync(openSync(path, 'wx', 0o600));
}

/** Moves `partial` to `final`, which must not exist (a hard link fails where rename would overwrite), and syncs the folder. */
function placeNew(partial: string, final: string): void {
  fsyncPath(partial);
  try {
    linkSync(partial, final);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new BackupError(`${final} appeared meanwhile: it is left as it is`);
    throw e;
  }
  unlinkSync(partial);
  fsyncPath(dirname(final));
}

/** A meta row's value as text (`schema`: main, or an attached database), undefined where there is none. */
function metaText(db: Database.Database, name: string, schema = 'main'): string | undefined {
  const row = db.prepare(`SELECT value FROM ${schema}.meta WHERE name = ?`).get(name) as { value: unknown } | undefined;
  if (row === undefined) return undefined;
  return Buffer.isBuffer(row.value) ? row.value.toString('utf8') : String(row.value);
}

/** A meta row holding a count of ms, if it holds a sane one. */
function metaMs(db: Database.Database, name: string, schema = 'main'): number | undefined {
  const n = Number(metaText(db, name, schema) ?? NaN);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function count(db: Database.Database, table: string): number {
  return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
}

/** Opens an SQLite file that came from outside, turning its failures into one clear error. */
function openChecked(file: string, readonly: boolean): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly, fileMustExist: true });
  } catch (e) {
    throw new BackupError(`cannot open ${file}: ${(e as Error).message}`);
  }
  try {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
    const missing = requiredTables.filter((t) => !tables.has(t));
    if (missing.length > 0) throw new BackupError(`${file} is not a Gyre node's database (no table ${missing.join(', ')})`);
    return db;
  } catch (e) {
    db.close();
    if (e instanceof BackupError) throw e;
    throw new BackupError(`${file} is not a readable SQLite database: ${(e as Error).message}`);
  }
}

/** SQLite's own check of every page and index; a damaged file can also make it throw. */
function integrityProblem(db: Database.Database): string | undefined {
  let rows: { integrity_check: string }[];
  try {
    rows = db.pragma('integrity_check') as { integrity_check: string }[];
  } catch (e) {
    return (e as Error).message;
  }
  const first = rows[0]?.integrity_check;
  return first === 'ok' ? undefined : rows.map((r) => r.integrity_check).slice(0, 5).join('; ');
}

/**
 * Copies the database of the node whose data folder is `dir` to `out` (a new file), while the
 * node runs or not.
 */
export function backupNode(dir: string, out: string, now: number): BackupInfo {
  const source = join(dir, databaseFileName);
  if (!existsSync(source)) throw new BackupError(`no Gyre database in ${dir} (expected ${databaseFileName}): is this a node's data folder?`);
  if (existsSync(out)) throw new BackupError(`${out} exists: a backup never overwrites a file; name a new one`);
  const db = openChecked(source, true);
  const partial = `${out}.partial`;
  try {
    mkdirSync(dirname(out), { recursive: true, mode: 0o700 });
    createPrivate(partial);
    try {
      db.prepare('VACUUM INTO ?').run(partial);
    } finally {
      db.close();
    }
    const copy = openChecked(partial, false);
    let info: Omit<BackupInfo, 'bytes'>;
    try {
      const problem = integrityProblem(copy);
      if (problem) throw new BackupError(`the copy of ${source} fails SQLite's integrity check (${problem}); the node's own file may be damaged`);
      info = { createdAtMs: now, keys: count(copy, 'kv'), hints: count(copy, 'hints'), reapedRetainMs: metaMs(copy, retentionMeta) };
      copy.prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)').run(backupMeta, Buffer.from(JSON.stringify({ format: backupFormat, ...info })));
    } finally {
      copy.close();
    }
    placeNew(partial, out);
    return { ...info, bytes: statSync(out).size };
  } catch (e) {
    if (db.open) db.close();
    rmSync(partial, { force: true });
    if (e instanceof BackupError) throw e;
    throw new BackupError(`the backup of ${source} to ${out} failed: ${(e as Error).message}`);
  }
}

function readStamp(db: Database.Database, file: string): Omit<BackupInfo, 'bytes'> {
  const text = metaText(db, backupMeta);
  if (text === undefined) throw new BackupError(`${file} is not a Gyre backup (no backup stamp): make one with gyre backup; a copied gyre.sqlite3 may be mid-write`);
  let stamp: unknown;
  try {
    stamp = JSON.parse(text);
  } catch {
    stamp = undefined;
  }
  const s = stamp as Partial<Record<'format' | 'createdAtMs' | 'keys' | 'hints' | 'reapedRetainMs', unknown>> | undefined;
  const ok = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  if (typeof s !== 'object' || s === null || s.format !== backupFormat || !ok(s.createdAtMs) || !ok(s.keys) || !ok(s.hints)) throw new BackupError(`${file} has an unreadable backup stamp (format ${backupFormat} expected)`);
  return { createdAtMs: s.createdAtMs, keys: s.keys, hints: s.hints, reapedRetainMs: ok(s.reapedRetainMs) ? s.reapedRetainMs : undefined };
}

/** What a backup file holds, after checking it whole. */
export function inspectBackup(file: string): BackupInfo {
  const db = openChecked(file, true);
  try {
    const problem = integrityProblem(db);
    if (problem) throw new BackupError(`${file} fails SQLite's integrity check (${problem})`);
    return { ...readStamp(db, file), bytes: statSync(file).size };
  } catch (e) {
    if (e instanceof BackupError) throw e;
    throw new BackupError(`${file} cannot be read whole: ${(e as Error).message}`);
  } finally {
    db.close();
  }
}

function duration(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 172_800_000) return `${Math.round(ms / 3_600_000)} h`;
  return `${Math.round(ms / 86_400_000)} days`;
}

export interface RestoreOptions {
  readonly now: number;
  /** The oldest backup accepted (ms); default the retention the node recorded in it, else 7 days. */
  readonly maxAgeMs?: number | undefined;
  readonly defaultMaxAgeMs: number;
}

/** Restores `from` into the data folder `dir`, which must hold no database; the node is started afterwards. */
export function restoreNode(from: string, dir: string, opts: RestoreOptions): BackupInfo & { readonly maxAgeMs: number } {
  const target = join(dir, databaseFileName);
  for (const f of [target, `${target}-wal`]) if (existsSync(f)) throw new BackupError(`${f} exists: restore only into a stopped node's empty data folder (move the old database away first)`);
  const info = inspectBackup(from);
  const maxAgeMs = opts.maxAgeMs ?? info.reapedRetainMs ?? opts.defaultMaxAgeMs;
  const ageMs = opts.now - info.createdAtMs;
  if (ageMs > maxAgeMs) {
    throw new BackupError(
      `${from} was taken ${duration(ageMs)} ago, beyond the ${duration(maxAgeMs)} the cluster remembers reaped keys (--reaped-retain-ms): keys deleted since would come back. Start the node empty instead (anti-entropy refills it), or raise --max-age-ms knowing that`,
    );
  }
  const partial = `${target}.restoring`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    createPrivate(partial);
    const db = new Database(partial);
    try {
      // Nothing in the backup's schema runs here: its triggers, views and functions stay behind.
      db.pragma('trusted_schema = OFF');
      db.exec(schemaSql);
      db.prepare('ATTACH DATABASE ? AS backup').run(from);
      // inspectBackup saw kv, meta and hints as tables; older backups may lack reaped and quarantine.
      const tables = new Set((db.prepare("SELECT name FROM backup.sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
      db.transaction(() => {
        for (const [table, columns] of Object.entries(restoredColumns)) {
          if (!tables.has(table)) continue;
          const list = columns.join(', ');
          const skip = table === 'meta' ? ` WHERE name NOT IN ('${backupMeta}', '${lastActorMeta}')` : '';
          db.prepare(`INSERT INTO main.${table} (${list}) SELECT ${list} FROM backup.${table}${skip}`).run();
        }
        // Actors retired (the table stays empty); new ones are minted after every old one.
        const ms = Math.max(opts.now, (metaMs(db, lastActorMeta, 'backup') ?? -1) + 1);
        db.prepare('INSERT INTO main.meta (name, value) VALUES (?, ?)').run(lastActorMeta, Buffer.from(String(ms)));
      })();
      db.prepare('DETACH DATABASE backup').run();
    } finally {
      db.close();
    }
    placeNew(partial, target);
    return { ...info, maxAgeMs };
  } catch (e) {
    rmSync(partial, { force: true });
    if (e instanceof BackupError) throw e;
    throw new BackupError(`restoring ${from} into ${dir} failed (nothing was left there): ${(e as Error).message}`);
  }
}
