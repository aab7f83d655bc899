// Secrets from files, and how strong a secret must be where the network can reach the node.
// The CLI reads the node's and a client's tokens through these.

import { readFileSync, statSync } from 'node:fs';

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
