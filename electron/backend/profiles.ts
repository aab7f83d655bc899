// Connection profiles and console settings, kept in SQLite through the `sqlite3` package (the
// issue asks for it; the console's writes are rare and small, so its asynchronous API costs
// nothing here, unlike the node's store, which uses better-sqlite3 for throughput).

import sqlite3 from 'sqlite3';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import type { Environment, Profile, ProfileInput } from '../../node-core/src/wire/console.js';

const environments: readonly Environment[] = ['development', 'staging', 'production'];
export const profilesMax = 200;
const nameBytesMax = 100;
const seedsMax = 32;

function run(db: sqlite3.Database, sql: string, params: unknown[] = []): Promise<void> {
  return new Promise((resolve, reject) => db.run(sql, params, (e) => (e ? reject(e) : resolve())));
}

function all<T>(db: sqlite3.Database, sql: string, params: unknown[] = []): Promise<T[]> {
  return new Promise((resolve, reject) => db.all(sql, params, (e, rows) => (e ? reject(e) : resolve(rows as T[]))));
}

/**
 * Profile tokens are kept sealed in the database. The desktop app seals with Electron's
 * safeStorage (the OS keychain: electron/main.ts passes it); `gyre console --web` with a key
 * file beside the database, readable only by the user (0600), under AES-256-GCM. A copy of
 * console.db alone gives no token away.
 */
export interface TokenSealer {
  seal(plain: string): string;
  /** The token, or undefined if it cannot be opened (another machine's keychain, a lost key). */
  open(sealed: string): string | undefined;
}

const keyFilePrefix = 'v1:';

/** AES-256-GCM under a 32-byte key in `<dir>/console.key`, made 0600 on first use. */
export function keyFileSealer(dir: string): TokenSealer {
  const path = join(dir, 'console.key');
  let key: Buffer;
  try {
    key = readFileSync(path);
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  } catch {
    key = randomBytes(32);
    writeFileSync(path, key, { mode: 0o600, flag: 'wx' });
  }
  if (key.byteLength !== 32) throw new Error(`${path} is not a console key (32 bytes); move it away to start afresh (saved tokens are then lost)`);
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
      return keyFilePrefix + Buffer.concat([iv, c.getAuthTag(), body]).toString('base64');
    },
    open(sealed) {
      if (!sealed.startsWith(keyFilePrefix)) return undefined;
      const raw = Buffer.from(sealed.slice(keyFilePrefix.length), 'base64');
      try {
        const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
        d.setAuthTag(raw.subarray(12, 28));
        return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
      } catch {
        return undefined;
      }
    },
  };
}

/** A token stored before tokens were sealed: plain text, sealed on the next open. */
const sealedPrefixes = /^(v1|ss1):/;

/** Validates a profile from the renderer; throws with a message fit for the user. */
export function checkProfile(p: unknown): ProfileInput {
  if (typeof p !== 'object' || p === null) throw new Error('a profile is an object');
  const o = p as Record<string, unknown>;
  if (typeof o.name !== 'string' || o.name.trim() === '' || Buffer.byteLength(o.name) > nameBytesMax) throw new Error(`a profile needs a name of at most ${nameBytesMax} bytes`);
  if (!Array.isArray(o.seeds) || o.seeds.length === 0 || o.seeds.length > seedsMax) throw new Error(`a profile lists 1 to ${seedsMax} node URLs`);
  // Array.from, not .map: map skips holes (an IPC structured clone keeps them) and would save them.
  const seeds = Array.from(o.seeds as unknown[], (s) => {
    if (typeof s !== 'string') throw new Error('node URLs are strings');
    let u: URL;
    try {
      u = new URL(s.includes('://') ? s : `${o.tls === true ? 'https' : 'http'}://${s}`);
    } catch {
      throw new Error(`not a URL: ${s}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`not an http(s) URL: ${s}`);
    return `${u.protocol}//${u.host}`;
  });
  const tls = o.tls === true;
  // A TLS profile never names a plain-HTTP node: the token would travel in clear text.
  const wrong = seeds.find((s) => s.startsWith(tls ? 'http:' : 'https:'));
  if (wrong) throw new Error(tls ? `a TLS profile's node URLs are https: ${wrong}` : `${wrong} is https: tick TLS for this profile`);
  if (o.caFile !== null && o.caFile !== undefined && (typeof o.caFile !== 'string' || o.caFile.length > 4096)) throw new Error('the CA file is a path');
  const caFile = typeof o.caFile === 'string' && o.caFile.trim() !== '' ? o.caFile.trim() : null;
  if (caFile && !tls) throw new Error('a CA file needs TLS');
  if (o.token !== null && o.token !== undefined && (typeof o.token !== 'string' || o.token.length > 1024)) throw new Error('the token must be a string');
  if (!environments.includes(o.environment as Environment)) throw new Error(`environment must be one of ${environments.join(', ')}`);
  if (o.id !== undefined && typeof o.id !== 'string') throw new Error('bad profile id');
  return { ...(typeof o.id === 'string' ? { id: o.id } : {}), name: o.name.trim(), seeds, token: typeof o.token === 'string' && o.token !== '' ? o.token : null, tls, caFile, environment: o.environment as Environment };
}

interface Row {
  id: string;
  name: string;
  seeds: string;
  token: string | null;
  tls: number;
  ca_file: string | null;
  environment: string;
}

export class ProfileStore {
  private constructor(
    private readonly db: sqlite3.Database,
    private readonly sealer: TokenSealer,
  ) {}

  static async open(path: string, sealer: TokenSealer = keyFileSealer(dirname(path))): Promise<ProfileStore> {
    const db = await new Promise<sqlite3.Database>((resolve, reject) => {
      const d = new sqlite3.Database(path, (e) => (e ? reject(e) : resolve(d)));
    });
    await run(db, 'PRAGMA journal_mode = WAL');
    await run(db, 'CREATE TABLE IF NOT EXISTS profiles (id TEXT PRIMARY KEY, name TEXT NOT NULL, seeds TEXT NOT NULL, token TEXT, tls INTEGER NOT NULL, environment TEXT NOT NULL, updated INTEGER NOT NULL)');
    // Added with TLS profiles: older files gain the column.
    const columns = await all<{ name: string }>(db, 'PRAGMA table_info(profiles)');
    if (!columns.some((c) => c.name === 'ca_file')) await run(db, 'ALTER TABLE profiles ADD COLUMN ca_file TEXT');
    await run(db, 'CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)');
    chmodSync(path, 0o600);
    // Tokens saved in plain text by an earlier version are sealed now.
    for (const r of await all<{ id: string; token: string }>(db, 'SELECT id, token FROM profiles WHERE token IS NOT NULL')) {
      if (!sealedPrefixes.test(r.token)) await run(db, 'UPDATE profiles SET token = ? WHERE id = ?', [sealer.seal(r.token), r.id]);
    }
    return new ProfileStore(db, sealer);
  }

  async list(): Promise<Profile[]> {
    const rows = await all<Row>(this.db, 'SELECT id, name, seeds, token, tls, ca_file, environment FROM profiles ORDER BY name');
    return rows.map((r) => ({ id: r.id, name: r.name, seeds: JSON.parse(r.seeds) as string[], token: r.token === null ? null : (this.sealer.open(r.token) ?? null), tls: r.tls === 1, caFile: r.ca_file, environment: r.environment as Environment }));
  }

  async get(id: string): Promise<Profile | undefined> {
    return (await this.list()).find((p) => p.id === id);
  }

  async save(input: unknown): Promise<Profile> {
    const checked = checkProfile(input);
    const id = checked.id ?? randomUUID();
    const existing = await this.get(id);
    // The renderer never sees a stored token: saving without one keeps it, but only for the same
    // nodes, TLS setting and CA (a page must not point a stored token somewhere else).
    const sameTarget = existing !== undefined && JSON.stringify(existing.seeds) === JSON.stringify(checked.seeds) && existing.tls === checked.tls && existing.caFile === checked.caFile;
    const p = checked.token === null && existing?.token && sameTarget ? { ...checked, token: existing.token } : checked;
    if (!existing && (await this.list()).length >= profilesMax) throw new Error(`at most ${profilesMax} profiles`);
    await run(this.db, 'INSERT INTO profiles (id, name, seeds, token, tls, ca_file, environment, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, seeds = excluded.seeds, token = excluded.token, tls = excluded.tls, ca_file = excluded.ca_file, environment = excluded.environment, updated = excluded.updated', [
      id,
      p.name,
      JSON.stringify(p.seeds),
      p.token === null ? null : this.sealer.seal(p.token),
      p.tls ? 1 : 0,
      p.caFile,
      p.environment,
      Date.now(),
    ]);
    return { id, name: p.name, seeds: p.seeds, token: p.token, tls: p.tls, caFile: p.caFile, environment: p.environment };
  }

  async remove(id: string): Promise<void> {
    await run(this.db, 'DELETE FROM profiles WHERE id = ?', [id]);
  }

  async setting(name: string): Promise<string | undefined> {
    return (await all<{ value: string }>(this.db, 'SELECT value FROM settings WHERE name = ?', [name]))[0]?.value;
  }

  async setSetting(name: string, value: string): Promise<void> {
    await run(this.db, 'INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value', [name, value]);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.db.close(() => resolve()));
  }
}
