// The console's audit log (issue 14): what the operator did to which cluster, when, and how it
// went, newest first. SQLite through `sqlite3`, in its own file (audit.db beside history.db: a
// damaged history must not take the audit with it, and the two keep different retentions).
//
// Details come from the console's callers (ultimately from the renderer): each is copied into a
// bounded JSON value (depth, items, string lengths), secrets are replaced by a mark under the
// keys named in redactKeys, at any depth, and what still exceeds detailBytesMax is cut to a
// prefix with a mark. A token never reaches the file.

import sqlite3 from 'sqlite3';
import { chmodSync, writeFileSync } from 'node:fs';

export type AuditResult = 'ok' | 'error';
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface AuditInput {
  /** ms since the epoch. */
  readonly at: number;
  /** The cluster acted on ('' when none). */
  readonly cluster: string;
  /** What was done, e.g. `faults:inject`, `keys:resolve`. */
  readonly action: string;
  /** A small JSON-able object describing it. */
  readonly detail?: unknown;
  readonly result: AuditResult;
  readonly error?: string;
}

export interface AuditEntry {
  readonly id: number;
  readonly at: number;
  readonly cluster: string;
  readonly action: string;
  readonly detail: JsonValue;
  readonly result: AuditResult;
  readonly error?: string;
}

export interface AuditListQuery {
  /** Entries at most (1 to listLimitMax). */
  readonly limit: number;
  /** Only entries older than this entry id (the last id of the previous page). */
  readonly before?: number;
  readonly cluster?: string;
}

export interface AuditLogOptions {
  readonly now?: () => number;
  readonly redactKeys?: readonly string[];
  readonly entriesMax?: number;
  readonly retentionMs?: number;
  readonly detailBytesMax?: number;
}

export const defaultRedactKeys: readonly string[] = ['token', 'adminToken', 'confirm', 'password', 'secret', 'authorization'];
export const redactedMark = '[redacted]';
export const detailBytesMaxDefault = 2048;
export const entriesMaxDefault = 100_000;
export const retentionDefaultMs = 90 * 86_400_000;
export const listLimitMax = 1000;
const actionPattern = /^[A-Za-z0-9:._-]{1,64}$/;
const clusterBytesMax = 200;
const errorCharsMax = 1024;
/** Bounds of a detail before its size is measured: nesting, items per array or object, characters per string. */
const detailDepthMax = 6;
const detailItemsMax = 50;
const detailStringCharsMax = 1024;
/** Old entries are deleted every this many records (and at open). */
const pruneEveryRecords = 100;

export class AuditError extends Error {
  constructor(
    readonly code: 'bad-entry' | 'bad-query' | 'audit-unreadable',
    message: string,
  ) {
    super(message);
  }
}

function copy(x: unknown, redact: ReadonlySet<string>, depth: number): JsonValue | undefined {
  if (x === null || typeof x === 'boolean') return x;
  if (typeof x === 'number') return Number.isFinite(x) ? x : null;
  if (typeof x === 'string') return x.length > detailStringCharsMax ? `${x.slice(0, detailStringCharsMax)}…[cut]` : x;
  if (typeof x === 'bigint') return x.toString();
  if (typeof x !== 'object') return undefined;
  // Deeper than this (or a cycle) is cut with a mark.
  if (depth >= detailDepthMax) return '[too deep]';
  if (Array.isArray(x)) return x.slice(0, detailItemsMax).map((v) => copy(v, redact, depth + 1) ?? null);
  const out: { [key: string]: JsonValue } = {};
  let n = 0;
  for (const k of Object.keys(x)) {
    if (n++ >= detailItemsMax) break;
    let v: unknown;
    try {
      v = (x as Record<string, unknown>)[k];
    } catch {
      v = '[unreadable]';
    }
    const c = redact.has(k.toLowerCase()) ? redactedMark : copy(v, redact, depth + 1);
    if (c !== undefined) Object.defineProperty(out, k, { value: c, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * The detail as it is kept: a bounded JSON copy with the redacted keys' values replaced, cut to
 * `{ truncated: true, bytes, head }` (a prefix of its JSON) if it is still over bytesMax.
 */
export function auditDetail(detail: unknown, redactKeys: readonly string[] = defaultRedactKeys, bytesMax = detailBytesMaxDefault): JsonValue {
  const value = copy(detail, new Set(redactKeys.map((k) => k.toLowerCase())), 0) ?? null;
  const json = JSON.stringify(value);
  const bytes = Buffer.byteLength(json);
  if (bytes <= bytesMax) return value;
  let head = json.slice(0, bytesMax);
  // The mark and JSON escaping take room too: shorten until the whole fits (a few turns).
  while (head.length > 0 && Buffer.byteLength(JSON.stringify({ truncated: true, bytes, head })) > bytesMax) head = head.slice(0, Math.max(0, head.length - 64));
  return { truncated: true, bytes, head };
}

function run(db: sqlite3.Database, sql: string, params: unknown[] = []): Promise<void> {
  return new Promise((resolve, reject) => db.run(sql, params, (e) => (e ? reject(e) : resolve())));
}

function all<T>(db: sqlite3.Database, sql: string, params: unknown[] = []): Promise<T[]> {
  return new Promise((resolve, reject) => db.all(sql, params, (e, rows) => (e ? reject(e) : resolve(rows as T[]))));
}

function insert(db: sqlite3.Database, sql: string, params: unknown[]): Promise<number> {
  return new Promise((resolve, reject) =>
    db.run(sql, params, function (this: sqlite3.RunResult, e: Error | null) {
      if (e) reject(e);
      else resolve(this.lastID);
    }),
  );
}

async function openFile(path: string): Promise<sqlite3.Database> {
  try {
    writeFileSync(path, '', { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new AuditError('audit-unreadable', `cannot create the audit file ${path}: ${(e as Error).message}`);
  }
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const d = new sqlite3.Database(path, sqlite3.OPEN_READWRITE, (e) => (e ? reject(new AuditError('audit-unreadable', `cannot open the audit file ${path}: ${e.message}`)) : resolve(d)));
  });
  try {
    await run(db, 'PRAGMA journal_mode = WAL');
    const tables = (await all<{ name: string }>(db, "SELECT name FROM sqlite_master WHERE type = 'table'")).map((t) => t.name);
    if (tables.some((t) => t !== 'audit' && t !== 'sqlite_sequence')) throw new Error('it holds other tables (not an audit file)');
    await run(db, 'CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, cluster TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL, result TEXT NOT NULL, error TEXT)');
    await run(db, 'CREATE INDEX IF NOT EXISTS audit_cluster ON audit (cluster, id)');
    await run(db, 'CREATE INDEX IF NOT EXISTS audit_at ON audit (at)');
    chmodSync(path, 0o600);
    return db;
  } catch (e) {
    await new Promise<void>((resolve) => db.close(() => resolve()));
    throw new AuditError('audit-unreadable', `${path} is not a readable audit file (${(e as Error).message}); move it away and the console starts a new audit log`);
  }
}

function checkInput(e: AuditInput): void {
  if (typeof e !== 'object' || e === null) throw new AuditError('bad-entry', 'an audit entry is an object');
  if (!Number.isSafeInteger(e.at) || e.at < 0) throw new AuditError('bad-entry', 'at is ms since the epoch');
  if (typeof e.cluster !== 'string' || Buffer.byteLength(e.cluster) > clusterBytesMax) throw new AuditError('bad-entry', `cluster is a name of at most ${clusterBytesMax} bytes`);
  if (typeof e.action !== 'string' || !actionPattern.test(e.action)) throw new AuditError('bad-entry', 'action is 1 to 64 letters, digits and : . _ -');
  if (e.result !== 'ok' && e.result !== 'error') throw new AuditError('bad-entry', "result is 'ok' or 'error'");
  if (e.error !== undefined && typeof e.error !== 'string') throw new AuditError('bad-entry', 'error is a string');
}

interface Row {
  id: number;
  at: number;
  cluster: string;
  action: string;
  detail: string;
  result: string;
  error: string | null;
}

/** A row as it leaves the file, checked (a damaged detail reads as null, an unknown result as 'error'). */
function entryOf(r: Row): AuditEntry {
  let detail: JsonValue;
  try {
    detail = JSON.parse(r.detail) as JsonValue;
  } catch {
    detail = null;
  }
  return { id: r.id, at: r.at, cluster: r.cluster, action: r.action, detail, result: r.result === 'ok' ? 'ok' : 'error', ...(r.error !== null ? { error: r.error } : {}) };
}

export class AuditLog {
  private recordsSincePrune = 0;
  private closed = false;
  private pending: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly db: sqlite3.Database,
    private readonly now: () => number,
    private readonly redactKeys: readonly string[],
    private readonly entriesMax: number,
    private readonly retentionMs: number,
    private readonly detailBytesMax: number,
  ) {}

  /** Opens (creating, mode 0600) the audit file; one that is not an audit file fails with an AuditError naming it. */
  static async open(path: string, opts: AuditLogOptions = {}): Promise<AuditLog> {
    const db = await openFile(path);
    const log = new AuditLog(db, opts.now ?? Date.now, opts.redactKeys ?? defaultRedactKeys, opts.entriesMax ?? entriesMaxDefault, opts.retentionMs ?? retentionDefaultMs, opts.detailBytesMax ?? detailBytesMaxDefault);
    await log.prune();
    return log;
  }

  /** Appends an entry (detail bounded and redacted, see auditDetail) and returns it as stored. */
  record(e: AuditInput): Promise<AuditEntry> {
    if (this.closed) return Promise.reject(new Error('the audit log is closed'));
    try {
      checkInput(e);
    } catch (err) {
      return Promise.reject(err);
    }
    const detail = auditDetail(e.detail ?? null, this.redactKeys, this.detailBytesMax);
    const error = e.error === undefined ? undefined : e.error.slice(0, errorCharsMax);
    const next = this.pending.then(async () => {
      const id = await insert(this.db, 'INSERT INTO audit (at, cluster, action, detail, result, error) VALUES (?, ?, ?, ?, ?, ?)', [e.at, e.cluster, e.action, JSON.stringify(detail), e.result, error ?? null]);
      if (++this.recordsSincePrune >= pruneEveryRecords) await this.prune();
      return { id, at: e.at, cluster: e.cluster, action: e.action, detail, result: e.result, ...(error !== undefined ? { error } : {}) };
    });
    this.pending = next.catch(() => undefined);
    return next;
  }

  /** Entries newest first (by id: the order they were recorded in). */
  async list(q: AuditListQuery): Promise<AuditEntry[]> {
    if (typeof q !== 'object' || q === null || !Number.isSafeInteger(q.limit) || q.limit < 1 || q.limit > listLimitMax) throw new AuditError('bad-query', `limit is an integer from 1 to ${listLimitMax}`);
    if (q.before !== undefined && !Number.isSafeInteger(q.before)) throw new AuditError('bad-query', 'before is an entry id');
    if (q.cluster !== undefined && (typeof q.cluster !== 'string' || Buffer.byteLength(q.cluster) > clusterBytesMax)) throw new AuditError('bad-query', 'cluster is a name');
    const where = ['id < ?', ...(q.cluster !== undefined ? ['cluster = ?'] : [])];
    const params = [q.before ?? Number.MAX_SAFE_INTEGER, ...(q.cluster !== undefined ? [q.cluster] : [])];
    const rows = await all<Row>(this.db, `SELECT id, at, cluster, action, detail, result, error FROM audit WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`, [...params, q.limit]);
    return rows.map(entryOf);
  }

  /** Keeps the newest entriesMax entries of the last retentionMs. */
  private async prune(): Promise<void> {
    this.recordsSincePrune = 0;
    await run(this.db, 'DELETE FROM audit WHERE at < ?', [this.now() - this.retentionMs]);
    await run(this.db, 'DELETE FROM audit WHERE id <= (SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?)', [this.entriesMax]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pending;
    await new Promise<void>((resolve) => this.db.close(() => resolve()));
  }
}
