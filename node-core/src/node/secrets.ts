// The node's secrets: the cluster token (clients and nodes) and the optional admin token
// (/admin/*, faults, leave, traces with values). One way to compare them, one way to read them
// from a file, one rule for how strong they must be.
//
// Comparison: both sides are first reduced to an HMAC-SHA256 under a key drawn when the process
// starts, then compared with timingSafeEqual. The digests always have the same length, so
// neither the time taken nor an early length check tells a guesser how long the secret is or
// how much of a guess was right.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

const compareKey = randomBytes(32);

function digest(value: string | Uint8Array): Buffer {
  return createHmac('sha256', compareKey).update(value).digest();
}

/** A secret held in a form that can only be compared, never logged by accident. */
export class Secret {
  private readonly mac: Buffer;
  private constructor(value: string) {
    this.mac = digest(value);
  }

  static of(value: string): Secret;
  static of(value: string | undefined): Secret | undefined;
  static of(value: string | undefined): Secret | undefined {
    return value === undefined ? undefined : new Secret(value);
  }

  /** Whether `candidate` is this secret, in time independent of both. Anything not a string or bytes is not. */
  matches(candidate: unknown): boolean {
    if (typeof candidate !== 'string' && !(candidate instanceof Uint8Array)) return false;
    return timingSafeEqual(this.mac, digest(candidate));
  }

  toJSON(): string {
    return '[secret]';
  }
}

/** Shortest secret a node accepts where the network can reach it. */
export const secretLengthMin = 16;

/**
 * Why `value` is too weak to guard a listener the network can reach, or undefined. A random
 * 16 characters (what `openssl rand -hex 16` prints is 32) is far beyond online guessing; a
 * dictionary word or a short PIN is not.
 */
export function weakSecretProblem(name: string, value: string): string | undefined {
  if (value.length < secretLengthMin) return `${name} is ${value.length} characters; use at least ${secretLengthMin} (for example: openssl rand -hex 16)`;
  if (new Set(value).size < 6) return `${name} uses fewer than 6 distinct characters; use a random one (for example: openssl rand -hex 16)`;
  return undefined;
}

/** Bytes a secret file may hold: a token is one line. */
const secretFileBytesMax = 4096;

/**
 * A secret read from a file (its first line, surrounding white space trimmed), or why it
 * cannot be used. A file others can read is refused: the point of a file is that `ps` and
 * other users do not see the secret.
 */
export function readSecretFile(name: string, path: string): { ok: true; value: string } | { ok: false; reason: string } {
  let mode: number;
  let size: number;
  try {
    ({ mode, size } = statSync(path));
  } catch (e) {
    return { ok: false, reason: `cannot read ${name} file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
  }
  if (size > secretFileBytesMax) return { ok: false, reason: `${name} file ${path} is ${size} bytes; a token file holds one line` };
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) return { ok: false, reason: `${name} file ${path} can be read by other users (mode ${(mode & 0o777).toString(8)}); chmod 600 it` };
  const value = readFileSync(path, 'utf8').split('\n')[0]!.trim();
  if (value.length === 0) return { ok: false, reason: `${name} file ${path} is empty` };
  return { ok: true, value };
}

/** The secrets a node checks what it is presented against. */
export interface Credentials {
  readonly cluster: Secret | undefined;
  readonly admin: Secret | undefined;
}

export function credentialsOf(config: { readonly token: string | undefined; readonly adminToken?: string | undefined }): Credentials {
  return { cluster: Secret.of(config.token || undefined), admin: Secret.of(config.adminToken || undefined) };
}

/**
 * What the holder of `presented` may do: 'admin' (everything), 'client' (read and write, no
 * /admin/*, faults, leave or traces), or undefined (nothing). Without an admin token the cluster
 * token does everything, as before roles existed; without any token everything is open (and
 * the node listens on loopback only).
 */
export type Role = 'admin' | 'client';

export function roleOf(c: Credentials, presented: unknown): Role | undefined {
  if (c.admin?.matches(presented)) return 'admin';
  const client = c.cluster === undefined || c.cluster.matches(presented);
  if (!client) return undefined;
  return c.admin === undefined ? 'admin' : 'client';
}
