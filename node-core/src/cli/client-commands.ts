// What the CLI's client commands need beyond the client library: their exit codes, a value read
// from an argument, a file or standard input, and the two ways `gyre update` resolves siblings
// by hand (an editor with conflict markers, or a merge command).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { valueBytesMax } from '../core/codec.js';
import type { Sibling } from '../client/client.js';
import type { Resolver } from '../client/resolvers.js';

/** Documented in `gyre --help` and the README; scripts rely on them. */
export const exitCodes = { ok: 0, notFound: 1, usage: 2, unavailable: 3, auth: 4, refused: 5, siblings: 6 } as const;

type Fail = (message: string, code?: number) => never;

/** What a merge command may print at most: one value and some slack. */
const mergeOutputBytesMax = valueBytesMax + 64 * 1024;
const markerStart = '<<<<<<<';
const markerMiddle = '=======';
const markerEnd = '>>>>>>>';

async function readStdin(fail: Fail): Promise<Buffer> {
  if (process.stdin.isTTY) fail('no value: give it as an argument, with --file PATH, or on standard input (… | gyre put KEY)');
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const c of process.stdin as AsyncIterable<Buffer>) {
    bytes += c.byteLength;
    // More than a value may hold is refused here, not buffered whole.
    if (bytes > valueBytesMax) fail(`the value on standard input is over ${valueBytesMax} bytes (1 MiB), the most a value may hold`, exitCodes.refused);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** The value of `gyre put`: its argument, else --file (- is standard input), else standard input. */
export async function readValue(arg: string | undefined, file: string | undefined, fail: Fail): Promise<Buffer> {
  if (arg !== undefined && file !== undefined) fail('give the value as an argument or with --file, not both');
  if (arg !== undefined) return Buffer.from(arg, 'utf8');
  if (file === undefined || file === '-') return readStdin(fail);
  try {
    return readFileSync(file);
  } catch (e) {
    fail(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

function isText(b: Buffer): boolean {
  return Buffer.from(b.toString('utf8'), 'utf8').equals(b) && !b.includes(0);
}

/** The file an editor opens: one value as it is, several between git-style conflict markers. */
function conflictFile(siblings: readonly Sibling[]): string {
  if (siblings.length === 1) return siblings[0]!.value.toString('utf8');
  const when = (s: Sibling) => (s.lastModified !== undefined ? `, written ${new Date(s.lastModified).toISOString()}` : '');
  const parts = siblings.map((s, i) => `${i === 0 ? markerStart : markerMiddle} version ${i + 1} of ${siblings.length} (${s.contentType}${when(s)})\n${s.value.toString('utf8').replace(/\n?$/, '\n')}`);
  return `${parts.join('')}${markerEnd} end: edit this into the one value to keep, remove the markers, save\n`;
}

/** Opens the siblings in $VISUAL / $EDITOR (else vi) and returns what the user saved. */
export function editSiblings(siblings: readonly Sibling[], fail: Fail): Buffer {
  if (!siblings.every((s) => isText(s.value))) fail('a version is not text, so it cannot be edited: use --resolve or --merge', exitCodes.usage);
  const editor = process.env.VISUAL || process.env.EDITOR || 'vi';
  const dir = mkdtempSync(join(tmpdir(), 'gyre-update-'));
  try {
    const file = join(dir, 'value');
    const before = conflictFile(siblings);
    writeFileSync(file, before, { mode: 0o600 });
    // Through sh, as git runs core.editor: EDITOR may carry its own arguments ("code --wait").
    const r = spawnSync('sh', ['-c', `${editor} "$1"`, 'sh', file], { stdio: 'inherit' });
    if (r.status !== 0) fail(`the editor (${editor}) exited with ${r.status ?? r.signal}: nothing written`, exitCodes.usage);
    const after = readFileSync(file);
    if (siblings.length > 1 && new RegExp(`^(${markerStart}|${markerMiddle}|${markerEnd}) `, 'm').test(after.toString('utf8'))) fail('conflict markers are still in the file: nothing written (edit it into one value)', exitCodes.siblings);
    // Editors add a final newline the value may not have had: an unchanged text stays unchanged.
    if (siblings.length === 1 && after.toString('utf8').replace(/\n$/, '') === before.replace(/\n$/, '')) return siblings[0]!.value;
    return after;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A resolver that runs `command` through sh with the siblings as JSON on stdin; its stdout is the value. */
export function mergeWithCommand(command: string, fail: Fail): Resolver {
  return (siblings) => {
    const input = JSON.stringify({ siblings: siblings.map((s) => ({ value: s.value.toString('base64'), text: isText(s.value) ? s.value.toString('utf8') : null, contentType: s.contentType, lastModified: s.lastModified ?? null })) });
    const r = spawnSync('sh', ['-c', command], { input, maxBuffer: mergeOutputBytesMax, stdio: ['pipe', 'pipe', 'inherit'] });
    if (r.error) fail(`the merge command failed: ${r.error.message}: nothing written`, exitCodes.usage);
    if (r.status !== 0) fail(`the merge command exited with ${r.status ?? r.signal}: nothing written`, exitCodes.usage);
    return r.stdout;
  };
}
