// SQLite storage, one database per node, with group commit.
//
// Why better-sqlite3 and not sqlite3: measured on this machine (100-byte values, WAL,
// synchronous=NORMAL) it does ~39k single-insert transactions/s against ~20k, ~90k/s in
// batches of 100 against ~30k, and ~230k reads/s against ~46k. Its synchronous API also
// makes each read-merge-write atomic with no interleaving to reason about: the event loop
// cannot run another request between the read of a key's siblings and the write of the merge.
//
// Durability: every `update` resolves only after the transaction holding it has committed.
// Updates arriving in the same turn of the event loop are committed together in one
// transaction (group commit): they wait at most one turn, nobody is acknowledged early.
// With WAL, a committed transaction survives SIGKILL of the process at any instant
// (synchronous=NORMAL); `sync: 'full'` also survives power loss, at a cost in throughput.

import Database from 'better-sqlite3';
import { pack, unpack } from 'msgpackr';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Checkpointer, backstopCheckpointPages } from './checkpointer.js';
import { atEndOfTurn } from '../runtime/end-of-turn.js';
import { clockProblem, encodeStored, packClock, parseClock, parseVersions } from '../core/codec.js';
import type { Version } from '../core/siblings.js';
import type { ActorId, VClock } from '../core/vclock.js';
import { type KeyRange, type ReplicaListing, type ListedKey, listedKey, prefixUpperBound, rangeLowerBound } from '../core/listing.js';
import { type ChangeListener, type PartitionUsage, type Space, type Store, type StoreStats, type StoredKey, type UpdateResult, type Updater, UnstorableError, assertStorableAddress, checkMetaName, isStorableAddress, dataSpace, makeActorId } from '../core/store.js';

/** WAL file bytes kept after a reset (SQLite truncates a longer one). */
const walBytesKept = 16 * 1024 * 1024;
/**
 * The node's tables. backup.ts builds a restored database from it (never from the backup's own
 * schema, which is a file from outside) and copies the rows over, table by table.
 */
export const schemaSql = `
  CREATE TABLE IF NOT EXISTS kv (
    key BLOB PRIMARY KEY,
    partition INTEGER NOT NULL,
    data BLOB NOT NULL,
    bytes INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS kv_partition ON kv (partition, key);
  CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
  CREATE TABLE IF NOT EXISTS actors (partition INTEGER PRIMARY KEY, actor TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS hints (
    target TEXT NOT NULL,
    key BLOB NOT NULL,
    partition INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (target, key)
  );
  CREATE TABLE IF NOT EXISTS reaped (key BLOB PRIMARY KEY, clock BLOB NOT NULL, at INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS reaped_at ON reaped (at);
  CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    space TEXT NOT NULL,
    key BLOB NOT NULL,
    partition INTEGER NOT NULL,
    data BLOB NOT NULL,
    reason TEXT NOT NULL,
    at INTEGER NOT NULL
  );
`;

/** The columns of each table a restore copies (actors are not: a restore retires them). */
export const restoredColumns = {
  kv: ['key', 'partition', 'data', 'bytes'],
  meta: ['name', 'value'],
  hints: ['target', 'key', 'partition', 'data'],
  reaped: ['key', 'clock', 'at'],
  quarantine: ['space', 'key', 'partition', 'data', 'reason', 'at'],
} as const;

/** The node's database, in its data folder (backup.ts reads and writes it too). */
export const databaseFileName = 'gyre.sqlite3';

/** SQLite's page cache, in KiB (its memory counts in the node's RSS once used). */
const pageCacheKiB = 32 * 1024;

/** Updates committed in one transaction at most. */
export const commitBatchCountMax = 512;

export interface SqliteStoreOptions {
  readonly nodeId: string;
  readonly now: () => number;
  readonly sync?: 'normal' | 'full';
  /** Told of each row moved to quarantine (the node logs it). */
  readonly onQuarantine?: (key: Buffer, partition: number, space: Space, reason: string) => void;
}

interface PendingUpdate {
  readonly space: Space;
  readonly key: Buffer;
  readonly partition: number;
  readonly f: Updater<unknown>;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
}

/** What a batch changes besides the rows, applied to the in-memory state once the transaction committed. */
interface BatchEffects {
  readonly newActors: Map<number, ActorId>;
  readonly changes: { key: Buffer; partition: number; before: Version[]; after: readonly Version[] }[];
  readonly hintDelta: Map<string, number>;
  /** Stored bytes gained (or lost) per partition. */
  readonly partitionByteDelta: Map<number, number>;
  keyDelta: number;
  byteDelta: number;
}

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

export class StoreCorruptionError extends Error {}

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly queue: PendingUpdate[] = [];
  private flushScheduled = false;
  private closed = false;
  private keyCount = 0;
  private byteCount = 0;
  private readonly actors = new Map<number, ActorId>();
  private readonly meta = new Map<string, Uint8Array>();
  private readonly hints = new Map<string, number>();
  /** Rows in `reaped`: while 0 (the usual case) no merge pays for a lookup. */
  private reapedRows = 0;
  /** Keys held per partition, kept current by commits (partitionsHeld runs twice a second). */
  private readonly partitionKeys = new Map<number, number>();
  /** Stored row bytes per partition, kept current like partitionKeys (GET /admin/partitions). */
  private readonly partitionBytes = new Map<number, number>();
  private readonly listeners: ChangeListener[] = [];
  private readonly stmts: ReturnType<SqliteStore['open']>;
  /** The batch's transaction, made once: better-sqlite3 builds a wrapper per transaction() call (~6 us a commit). */
  private readonly checkpointer: Checkpointer;
  private readonly commitBatch: (batch: readonly PendingUpdate[], fx: BatchEffects, outcomes: Outcome[]) => void;

  private quarantinedRows = 0;
  private writable = true;
  private lastError: string | undefined;

  constructor(
    dir: string,
    private readonly opts: SqliteStoreOptions,
  ) {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, databaseFileName);
    try {
      this.db = new Database(file);
      this.stmts = this.open();
      this.checkpointer = new Checkpointer(file, opts.sync ?? 'normal', (e) => (this.lastError = `checkpointer: ${e.message}`));
      this.commitBatch = this.db.transaction((batch: readonly PendingUpdate[], fx: BatchEffects, outcomes: Outcome[]) => {
        for (const op of batch) outcomes.push(this.applyOne(op, fx));
      });
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
        // Never replaced: it may be the only copy of writes acknowledged by this node alone (W=1).
        throw new StoreCorruptionError(`the database ${file} is corrupted (${String(code)}); it was left as it is. Restore it from a backup, or move it away to start this node empty (anti-entropy then refills it from the other replicas).`);
      }
      throw e;
    }
  }

  private open() {
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${this.opts.sync === 'full' ? 'FULL' : 'NORMAL'}`);
    this.db.pragma('busy_timeout = 5000');
    // 32 MiB of page cache instead of SQLite's 2 MB default: a read-merge-write of a random key
    // then finds the B-tree's inner pages in memory instead of asking the OS for them.
    this.db.pragma(`cache_size = -${pageCacheKiB}`);
    // Checkpoints run on a worker thread (checkpointer.ts); this connection's own only past 64 MiB of WAL.
    this.db.pragma(`wal_autocheckpoint = ${backstopCheckpointPages}`);
    // After a checkpoint that resets the log, a WAL file larger than this is truncated back.
    this.db.pragma(`journal_size_limit = ${walBytesKept}`);
    this.db.exec(schemaSql);
    const stmts = {
      get: this.db.prepare<[Buffer], { data: Buffer; bytes: number; partition: number }>('SELECT data, bytes, partition FROM kv WHERE key = ?'),
      getHintRow: this.db.prepare<[string, Buffer], { data: Buffer; partition: number }>('SELECT data, partition FROM hints WHERE target = ? AND key = ?'),
      quarantine: this.db.prepare<[string, Buffer, number, Buffer, string, number]>('INSERT INTO quarantine (space, key, partition, data, reason, at) VALUES (?, ?, ?, ?, ?, ?)'),
      // An upsert, not INSERT OR REPLACE: REPLACE deletes the row and inserts it under a new
      // rowid, rewriting the table and both indexes (about 60 us a row here, against 7; see
      // docs/performance.md). A key's partition never changes (Q is fixed with the data
      // folder), so an update leaves that column, and with it the partition index, alone.
      put: this.db.prepare<[Buffer, number, Buffer, number]>('INSERT INTO kv (key, partition, data, bytes) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET data = excluded.data, bytes = excluded.bytes'),
      del: this.db.prepare<[Buffer]>('DELETE FROM kv WHERE key = ?'),
      setMeta: this.db.prepare<[string, Buffer]>('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)'),
      setActor: this.db.prepare<[number, string]>('INSERT OR REPLACE INTO actors (partition, actor) VALUES (?, ?)'),
      delActor: this.db.prepare<[number]>('DELETE FROM actors WHERE partition = ?'),
      getHint: this.db.prepare<[string, Buffer], { data: Buffer }>('SELECT data FROM hints WHERE target = ? AND key = ?'),
      putHint: this.db.prepare<[string, Buffer, number, Buffer]>('INSERT INTO hints (target, key, partition, data) VALUES (?, ?, ?, ?) ON CONFLICT (target, key) DO UPDATE SET data = excluded.data'),
      delHint: this.db.prepare<[string, Buffer]>('DELETE FROM hints WHERE target = ? AND key = ?'),
      scanFirst: this.db.prepare<[number, number], { key: Buffer; partition: number; data: Buffer }>('SELECT key, partition, data FROM kv WHERE partition = ? ORDER BY key LIMIT ?'),
      scanAfter: this.db.prepare<[number, Buffer, number], { key: Buffer; partition: number; data: Buffer }>('SELECT key, partition, data FROM kv WHERE partition = ? AND key > ? ORDER BY key LIMIT ?'),
      hintsFirst: this.db.prepare<[string, number], { key: Buffer; partition: number; data: Buffer }>('SELECT key, partition, data FROM hints WHERE target = ? ORDER BY key LIMIT ?'),
      hintsAfter: this.db.prepare<[string, Buffer, number], { key: Buffer; partition: number; data: Buffer }>('SELECT key, partition, data FROM hints WHERE target = ? AND key > ? ORDER BY key LIMIT ?'),
      getReaped: this.db.prepare<[Buffer], { clock: Buffer }>('SELECT clock FROM reaped WHERE key = ?'),
      putReaped: this.db.prepare<[Buffer, Buffer, number]>('INSERT OR REPLACE INTO reaped (key, clock, at) VALUES (?, ?, ?)'),
      expireReaped: this.db.prepare<[number]>('DELETE FROM reaped WHERE at < ?'),
      delReaped: this.db.prepare<[Buffer]>('DELETE FROM reaped WHERE key = ?'),
      // Listing (GET /keys): keys and row sizes from the (partition, key) index, the rows read one
      // by one after, so a page of large values never sits in memory at once. length() of a
      // blob is read from the row header, not from the blob.
      listFrom: this.db.prepare<[number, Buffer, number], { key: Buffer; n: number }>('SELECT key, length(data) AS n FROM kv WHERE partition = ? AND key >= ? ORDER BY key LIMIT ?'),
      listBetween: this.db.prepare<[number, Buffer, Buffer, number], { key: Buffer; n: number }>('SELECT key, length(data) AS n FROM kv WHERE partition = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?'),
    };
    this.quarantinedRows = this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM quarantine').get()?.n ?? 0;
    for (const row of this.db.prepare<[], { target: string; n: number }>('SELECT target, count(*) AS n FROM hints GROUP BY target').all()) this.hints.set(row.target, row.n);
    for (const row of this.db.prepare<[], { partition: number; n: number; b: number | null }>('SELECT partition, count(*) AS n, sum(bytes) AS b FROM kv GROUP BY partition').all()) {
      this.partitionKeys.set(row.partition, row.n);
      this.partitionBytes.set(row.partition, row.b ?? 0);
    }
    this.reapedRows = this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM reaped').get()?.n ?? 0;
    const totals = this.db.prepare<[], { n: number; b: number | null }>('SELECT count(*) AS n, sum(bytes) AS b FROM kv').get();
    this.keyCount = totals?.n ?? 0;
    this.byteCount = totals?.b ?? 0;
    for (const row of this.db.prepare<[], { name: string; value: Buffer }>('SELECT name, value FROM meta').all()) this.meta.set(row.name, row.value);
    for (const row of this.db.prepare<[], { partition: number; actor: string }>('SELECT partition, actor FROM actors').all()) this.actors.set(row.partition, row.actor);
    return stmts;
  }

  /** The row's versions, or why they cannot be read. */
  private decode(data: Buffer): { ok: true; value: Version[] } | { ok: false; reason: string } {
    let raw: unknown;
    try {
      raw = unpack(data);
    } catch (e) {
      return { ok: false, reason: `not msgpack: ${(e as Error).message}` };
    }
    return parseVersions(raw);
  }

  /**
   * A row that does not read back (a bad page, a bit flip, a bug in an older version) is moved
   * to the `quarantine` table and treated as absent: the node keeps starting and serving, and
   * anti-entropy and read repair bring the key back from its replicas. Its bytes are kept for
   * a post-mortem and counted in /status and /metrics. (Inside a batch that later rolls back,
   * the move rolls back too and the counts here are briefly off; the row is met again.)
   */
  private quarantine(space: Space, key: Buffer, partition: number, data: Buffer, reason: string): void {
    this.stmts.quarantine.run(space.kind === 'hint' ? `hint:${space.target}` : 'data', key, partition, data, reason, this.opts.now());
    this.quarantinedRows++;
    if (space.kind === 'hint') {
      this.stmts.delHint.run(space.target, key);
      const n = (this.hints.get(space.target) ?? 1) - 1;
      if (n > 0) this.hints.set(space.target, n);
      else this.hints.delete(space.target);
    } else {
      this.stmts.del.run(key);
      this.keyCount--;
      this.byteCount -= data.byteLength;
      this.addPartitionBytes(partition, -data.byteLength);
      const n = (this.partitionKeys.get(partition) ?? 1) - 1;
      if (n > 0) this.partitionKeys.set(partition, n);
      else this.partitionKeys.delete(partition);
    }
    this.opts.onQuarantine?.(key, partition, space, reason);
    for (const l of this.quarantineListeners) l(key, partition, space);
  }

  private readonly quarantineListeners: ((key: Uint8Array, partition: number, space: Space) => void)[] = [];

  onQuarantine(listener: (key: Uint8Array, partition: number, space: Space) => void): void {
    this.quarantineListeners.push(listener);
  }

  private readSync(key: Buffer, space: Space): { versions: Version[]; bytes: number } {
    const row = space.kind === 'hint' ? this.stmts.getHintRow.get(space.target, key) : this.stmts.get.get(key);
    if (!row) return { versions: [], bytes: 0 };
    const decoded = this.decode(row.data);
    if (decoded.ok) return { versions: decoded.value, bytes: row.data.byteLength };
    this.quarantine(space, key, row.partition, row.data, decoded.reason);
    return { versions: [], bytes: 0 };
  }

  async read(key: Uint8Array, space: Space = dataSpace): Promise<Version[]> {
    if (this.closed) throw new Error('store is closed');
    return this.readSync(Buffer.from(key.buffer, key.byteOffset, key.byteLength), space).versions;
  }

  /** Rows of a scan with the unreadable ones quarantined; `more` says the scan hit its limit. */
  private rows(rows: { key: Buffer; partition: number; data: Buffer }[], space: Space): StoredKey[] {
    const out: StoredKey[] = [];
    for (const r of rows) {
      // The key and partition columns are disk bytes too: a row no node could have written
      // (the node derives both from a key it parsed) is set aside like an unreadable one.
      if (!isStorableAddress(r.key, r.partition)) {
        this.quarantine(space, r.key, r.partition, r.data, `key of ${r.key.byteLength} bytes or partition ${r.partition} out of range`);
        continue;
      }
      const decoded = this.decode(r.data);
      if (decoded.ok) out.push({ key: r.key, partition: r.partition, versions: decoded.value });
      else this.quarantine(space, r.key, r.partition, r.data, decoded.reason);
    }
    return out;
  }

  // A quarantined row leaves a scan short of its limit, which callers take for "the end": scan
  // again after the last key (the row is gone now) so a bad row never ends a scan early.
  private scan(run: (after: Buffer | undefined, limit: number) => { key: Buffer; partition: number; data: Buffer }[], afterKey: Uint8Array | undefined, limit: number, space: Space): StoredKey[] {
    if (this.closed) throw new Error('store is closed');
    const out: StoredKey[] = [];
    let after: Buffer | undefined = afterKey ? Buffer.from(afterKey) : undefined;
    for (;;) {
      const want = limit - out.length;
      const raw = run(after, want);
      out.push(...this.rows(raw, space));
      if (raw.length < want || out.length >= limit) return out; // the end, or a full batch
      after = raw[raw.length - 1]!.key;
    }
  }

  scanPartition(partition: number, afterKey: Uint8Array | undefined, limit: number): StoredKey[] {
    return this.scan((after, n) => (after ? this.stmts.scanAfter.all(partition, after, n) : this.stmts.scanFirst.all(partition, n)), afterKey, limit, dataSpace);
  }

  scanHints(target: string, afterKey: Uint8Array | undefined, limit: number): StoredKey[] {
    return this.scan((after, n) => (after ? this.stmts.hintsAfter.all(target, after, n) : this.stmts.hintsFirst.all(target, n)), afterKey, limit, { kind: 'hint', target });
  }

  private addPartitionBytes(partition: number, delta: number): void {
    if (delta === 0) return;
    const n = (this.partitionBytes.get(partition) ?? 0) + delta;
    if (n > 0) this.partitionBytes.set(partition, n);
    else this.partitionBytes.delete(partition);
  }

  partitionUsage(): Map<number, PartitionUsage> {
    const out = new Map<number, PartitionUsage>();
    for (const [p, keys] of this.partitionKeys) out.set(p, { keys, bytes: this.partitionBytes.get(p) ?? 0 });
    return out;
  }

  listKeys(range: KeyRange, rowBytesMax: number): ReplicaListing {
    if (this.closed) throw new Error('store is closed');
    const lower = rangeLowerBound(range);
    const upper = prefixUpperBound(range.prefix);
    // One more than asked: whether the replica holds more past its answer.
    const rows = upper ? this.stmts.listBetween.all(range.partition, lower, upper, range.limit + 1) : this.stmts.listFrom.all(range.partition, lower, range.limit + 1);
    const keys: ListedKey[] = [];
    let read = 0;
    let i = 0;
    for (; i < rows.length && i < range.limit; i++) {
      const row = rows[i]!;
      // Past the byte budget (and with one key to show for it): the rest is for the next round.
      if (keys.length > 0 && read + row.n > rowBytesMax) break;
      read += row.n;
      const full = this.stmts.get.get(row.key);
      if (!full) continue; // gone since the index read: nothing to list
      if (!isStorableAddress(row.key, full.partition)) {
        this.quarantine(dataSpace, row.key, full.partition, full.data, `key of ${row.key.byteLength} bytes or partition ${full.partition} out of range`);
        continue;
      }
      const decoded = this.decode(full.data);
      if (!decoded.ok) {
        this.quarantine(dataSpace, row.key, full.partition, full.data, decoded.reason);
        continue;
      }
      keys.push(listedKey(row.key, decoded.value));
    }
    return { keys, more: i < rows.length };
  }

  partitionsHeld(): number[] {
    return [...this.partitionKeys.keys()].sort((a, b) => a - b);
  }

  hintCounts(): Map<string, number> {
    return new Map(this.hints);
  }

  reapedClock(key: Uint8Array): VClock | undefined {
    if (this.reapedRows === 0) return undefined;
    const row = this.stmts.getReaped.get(Buffer.from(key));
    if (!row) return undefined;
    let raw: unknown;
    try {
      raw = unpack(row.clock);
    } catch {
      raw = undefined;
    }
    // An unreadable reaped clock is forgotten: it only filters stale copies, and forgetting it
    // is what its retention period does anyway.
    const clock = parseClock(raw);
    if (!clock) this.stmts.delReaped.run(Buffer.from(key));
    return clock;
  }

  expireReaped(beforeMs: number): number {
    if (this.reapedRows === 0) return 0;
    const n = this.stmts.expireReaped.run(beforeMs).changes;
    this.reapedRows = Math.max(0, this.reapedRows - n);
    return n;
  }

  retireActor(partition: number): void {
    this.stmts.delActor.run(partition);
    this.actors.delete(partition);
  }

  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  update<T>(key: Uint8Array, partition: number, f: Updater<T>, space: Space = dataSpace): Promise<T> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    return new Promise<T>((resolve, reject) => {
      assertStorableAddress(key, partition);
      this.queue.push({ space, key: Buffer.from(key), partition, f: f as Updater<unknown>, resolve: resolve as (v: unknown) => void, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        atEndOfTurn(() => this.flush());
      }
    });
  }

  private actorFor(partition: number, uncommitted: Map<number, ActorId>): ActorId {
    const have = this.actors.get(partition) ?? uncommitted.get(partition);
    if (have) return have;
    // Unique for the life of this database; a wiped data folder starts later in time, so a
    // new database never reuses an actor of the old one (barring a clock set far back).
    // What the disk says is checked like any input: a value that is not a timestamp counts as
    // none (then the clock alone keeps new actors apart from the old ones, as for a new folder).
    const stored = Number(this.metaString('lastActorMs') ?? '0');
    const last = Number.isSafeInteger(stored) && stored >= 0 ? stored : 0;
    const ms = Math.max(this.opts.now(), last + 1);
    const actor = makeActorId(this.opts.nodeId, ms);
    this.stmts.setMeta.run('lastActorMs', Buffer.from(String(ms)));
    this.meta.set('lastActorMs', Buffer.from(String(ms)));
    this.stmts.setActor.run(partition, actor);
    uncommitted.set(partition, actor);
    return actor;
  }

  private metaString(name: string): string | undefined {
    const v = this.meta.get(name);
    return v ? Buffer.from(v).toString() : undefined;
  }

  /** Commits up to commitBatchCountMax queued updates in one transaction, then tells each caller. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.queue.length === 0) return;
    const batch = this.queue.splice(0, commitBatchCountMax);
    const fx: BatchEffects = { newActors: new Map(), changes: [], hintDelta: new Map(), partitionByteDelta: new Map(), keyDelta: 0, byteDelta: 0 };
    const outcomes: Outcome[] = [];
    try {
      this.commitBatch(batch, fx, outcomes);
    } catch (error) {
      // The transaction rolled back: nothing in this batch is committed, so nobody is told it is.
      this.writable = false;
      this.lastError = `${String((error as { code?: unknown }).code ?? 'error')}: ${(error as Error).message}`;
      const failure = Object.assign(new Error(`this node's database refused the commit (${this.lastError})`), { code: 'storage' });
      for (const op of batch) op.reject(failure);
      this.scheduleRest();
      return;
    }
    this.writable = true;
    this.lastError = undefined;
    this.applyEffects(fx);
    batch.forEach((op, i) => {
      const o = outcomes[i]!;
      if (o.ok) op.resolve(o.value);
      else op.reject(o.error);
    });
    this.scheduleRest();
  }

  /** One update inside the batch's transaction: its failure (an unreadable row, a throwing updater, an unstorable result) is its own. */
  private applyOne(op: PendingUpdate, fx: BatchEffects): Outcome {
    let cur: Version[];
    let oldBytes: number;
    let out: UpdateResult<unknown>;
    try {
      ({ versions: cur, bytes: oldBytes } = this.readSync(op.key, op.space));
      out = op.f(cur, { actorFor: (p) => this.actorFor(p, fx.newActors), reaped: () => (op.space.kind === 'data' ? this.reapedClock(op.key) : undefined) });
    } catch (error) {
      return { ok: false, error };
    }
    // The invariant at the disk: nothing is committed that parseVersions could not read back.
    let data: Buffer | undefined;
    if (out.versions !== undefined && out.versions.length > 0) {
      const encoded = encodeStored(out.versions);
      if (!encoded.ok) return { ok: false, error: new UnstorableError(encoded.reason) };
      data = encoded.value;
    }
    const reapedProblem = out.reaped ? clockProblem(out.reaped) : undefined;
    if (reapedProblem) return { ok: false, error: new UnstorableError(`reaped clock: ${reapedProblem}`) };
    if (out.versions !== undefined && op.space.kind === 'hint') this.writeHint(op.space.target, op, cur, data, fx);
    else if (out.versions !== undefined) this.writeData(op, cur, oldBytes, out.versions, out.reaped, data, fx);
    return { ok: true, value: out.result };
  }

  /** `data` undefined: the hint is gone (delivered or emptied). */
  private writeHint(target: string, op: PendingUpdate, cur: readonly Version[], data: Buffer | undefined, fx: BatchEffects): void {
    if (data === undefined) {
      if (cur.length === 0) return;
      this.stmts.delHint.run(target, op.key);
      fx.hintDelta.set(target, (fx.hintDelta.get(target) ?? 0) - 1);
      return;
    }
    this.stmts.putHint.run(target, op.key, op.partition, data);
    if (cur.length === 0) fx.hintDelta.set(target, (fx.hintDelta.get(target) ?? 0) + 1);
  }

  private writeData(op: PendingUpdate, cur: Version[], oldBytes: number, after: readonly Version[], reaped: VClock | undefined, data: Buffer | undefined, fx: BatchEffects): void {
    fx.changes.push({ key: op.key, partition: op.partition, before: cur, after });
    if (reaped) {
      // Counted even if it replaced a row: the count only gates lookups, an overcount is harmless.
      this.stmts.putReaped.run(op.key, pack(packClock(reaped)), this.opts.now());
      this.reapedRows++;
    }
    if (data === undefined) {
      if (oldBytes === 0 && cur.length === 0) return;
      this.stmts.del.run(op.key);
      fx.keyDelta--;
      fx.byteDelta -= oldBytes;
      fx.partitionByteDelta.set(op.partition, (fx.partitionByteDelta.get(op.partition) ?? 0) - oldBytes);
      return;
    }
    this.stmts.put.run(op.key, op.partition, data, data.byteLength);
    if (cur.length === 0) fx.keyDelta++;
    fx.byteDelta += data.byteLength - oldBytes;
    fx.partitionByteDelta.set(op.partition, (fx.partitionByteDelta.get(op.partition) ?? 0) + data.byteLength - oldBytes);
  }

  /** After the commit: the in-memory counts and actors catch up, and listeners hear of each data change in order. */
  private applyEffects(fx: BatchEffects): void {
    for (const [p, a] of fx.newActors) this.actors.set(p, a);
    this.keyCount += fx.keyDelta;
    this.byteCount += fx.byteDelta;
    for (const [p, d] of fx.partitionByteDelta) this.addPartitionBytes(p, d);
    for (const [target, d] of fx.hintDelta) {
      const n = (this.hints.get(target) ?? 0) + d;
      if (n > 0) this.hints.set(target, n);
      else this.hints.delete(target);
    }
    for (const c of fx.changes) {
      const d = (c.after.length > 0 ? 1 : 0) - (c.before.length > 0 ? 1 : 0);
      if (d !== 0) {
        const n = (this.partitionKeys.get(c.partition) ?? 0) + d;
        if (n > 0) this.partitionKeys.set(c.partition, n);
        else this.partitionKeys.delete(c.partition);
      }
      for (const l of this.listeners) l(c.key, c.partition, c.before, c.after);
    }
  }

  private scheduleRest(): void {
    if (this.queue.length > 0 && !this.flushScheduled) {
      this.flushScheduled = true;
      atEndOfTurn(() => this.flush());
    }
  }

  getMeta(name: string): Uint8Array | undefined {
    checkMetaName(name);
    return this.meta.get(name);
  }

  async setMeta(name: string, value: Uint8Array): Promise<void> {
    checkMetaName(name);
    try {
      this.stmts.setMeta.run(name, Buffer.from(value));
    } catch (e) {
      this.writable = false;
      this.lastError = `${String((e as { code?: unknown }).code ?? 'error')}: ${(e as Error).message}`;
      throw e;
    }
    this.meta.set(name, value);
  }

  stats(): StoreStats {
    return { keys: this.keyCount, bytes: this.byteCount, quarantined: this.quarantinedRows, writable: this.writable, lastError: this.lastError };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Commit what is queued before closing: those callers are still waiting for their ack.
    while (this.queue.length > 0) this.flush();
    this.closed = true;
    this.db.close();
    // The checkpointer's connection is the last: closing it checkpoints what is left of the WAL.
    await this.checkpointer.stop();
  }
}
