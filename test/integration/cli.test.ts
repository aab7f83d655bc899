// The CLI as scripts use it (issue 13): --version, documented exit codes, values from a file or
// standard input (binary bytes round-trip), --json, failover across --url lists, and `gyre
// update` resolving siblings through $EDITOR, a merge command or a built-in resolver.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestCluster, freePort, uniqueKey } from '../helpers/cluster.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cliPath = join(root, 'dist', 'node-core', 'src', 'cli', 'gyre.js');
const exit = { ok: 0, notFound: 1, usage: 2, unavailable: 3, auth: 4, refused: 5, siblings: 6 };

describe('the gyre CLI against a real cluster', () => {
  const cluster = new TestCluster();
  const dir = mkdtempSync(join(tmpdir(), 'gyre-cli-'));
  before(() => cluster.start());
  after(async () => {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function gyre(args: readonly string[], opts: { input?: Buffer | string; env?: Record<string, string>; url?: string } = {}): SpawnSyncReturns<Buffer> {
    const withUrl = ['get', 'put', 'del', 'update', 'status'].includes(args[0]!) ? ['--url', opts.url ?? cluster.url('n1')] : [];
    return spawnSync(process.execPath, [cliPath, ...args, ...withUrl], { input: opts.input ?? '', env: { ...process.env, GYRE_TOKEN: cluster.token, ...(opts.env ?? {}) }, timeout: 60_000 });
  }
  const text = (r: SpawnSyncReturns<Buffer>) => `exit ${r.status}\nstdout: ${r.stdout.toString()}\nstderr: ${r.stderr.toString()}`;

  test('--version prints the package version', () => {
    const r = gyre(['--version']);
    assert.equal(r.status, 0, text(r));
    assert.equal(r.stdout.toString().trim(), (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version);
  });

  test('exit codes: 1 not found, 2 usage, 3 unavailable, 4 auth, 5 refused', async () => {
    const missing = gyre(['get', uniqueKey('absent')]);
    assert.equal(missing.status, exit.notFound, text(missing));
    assert.equal(gyre(['get']).status, exit.usage, 'a missing argument');
    assert.equal(gyre(['put', 'k', 'v', '--w', 'many']).status, exit.usage, 'a bad flag value');
    assert.equal(gyre(['frobnicate']).status, exit.usage, 'an unknown command');
    const down = gyre(['get', 'k'], { url: `http://127.0.0.1:${await freePort()}` });
    assert.equal(down.status, exit.unavailable, text(down));
    assert.match(down.stderr.toString(), /try more nodes in --url/);
    const noToken = gyre(['get', 'k'], { env: { GYRE_TOKEN: 'not-the-cluster-token' } });
    assert.equal(noToken.status, exit.auth, text(noToken));
    assert.match(noToken.stderr.toString(), /GYRE_TOKEN/);
    const badContext = gyre(['put', 'k', 'v', '--context', 'not-a-context']);
    assert.equal(badContext.status, exit.refused, text(badContext));
  });

  test('put reads binary bytes from standard input and from --file; get writes them back byte for byte', () => {
    const bytes = randomBytes(64 * 1024);
    const key = uniqueKey('stdin');
    const put = gyre(['put', key, '--json'], { input: bytes });
    assert.equal(put.status, 0, text(put));
    assert.ok((JSON.parse(put.stdout.toString()) as { context: string }).context.length > 0);
    const got = gyre(['get', key]);
    assert.equal(got.status, 0, text(got));
    assert.ok(got.stdout.equals(bytes), 'the bytes read back are the bytes written');
    const file = join(dir, 'value.bin');
    writeFileSync(file, bytes.subarray(0, 1000));
    const key2 = uniqueKey('file');
    assert.equal(gyre(['put', key2, '--file', file]).status, 0);
    const json = JSON.parse(gyre(['get', key2, '--json']).stdout.toString()) as { siblings: { value: string; contentType: string }[] };
    assert.ok(Buffer.from(json.siblings[0]!.value, 'base64').equals(bytes.subarray(0, 1000)));
    assert.equal(json.siblings[0]!.contentType, 'application/octet-stream');
    assert.equal(gyre(['put', key2, 'v', '--file', file]).status, exit.usage, 'an argument and --file');
  });

  test('--url takes a list and fails over past a dead node', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const key = uniqueKey('urls');
    const r = gyre(['put', key, 'via the second'], { url: `${dead},${cluster.url('n2')}` });
    assert.equal(r.status, 0, text(r));
    assert.equal(gyre(['get', key], { url: `${dead},${cluster.url('n3')}` }).stdout.toString(), 'via the second');
  });

  /** Two writes without a context: siblings for certain. */
  function siblings(prefix: string, a: string, b: string): string {
    const key = uniqueKey(prefix);
    assert.equal(gyre(['put', key, a]).status, 0);
    assert.equal(gyre(['put', key, b], { url: cluster.url('n2') }).status, 0);
    const read = gyre(['get', key]);
    assert.equal(read.status, 0);
    assert.equal((JSON.parse(read.stdout.toString()) as { status: number }).status, 300, 'siblings');
    return key;
  }

  test('update opens the siblings in $EDITOR between conflict markers and writes the edit with their context', () => {
    const key = siblings('edit', 'left', 'right');
    // The "editor": a script that checks it was handed both versions and markers, then writes the resolution.
    const editor = join(dir, 'editor.sh');
    writeFileSync(editor, `#!/bin/sh\ngrep -q '^<<<<<<< version 1 of 2' "$1" && grep -q '^left$' "$1" && grep -q '^right$' "$1" && grep -q '^>>>>>>> end' "$1" || exit 9\nprintf 'both' > "$1"\n`);
    chmodSync(editor, 0o755);
    const r = gyre(['update', key], { env: { EDITOR: editor } });
    assert.equal(r.status, 0, text(r));
    const after = gyre(['get', key, '--r', '3']);
    assert.equal(after.stdout.toString(), 'both', 'one version left: the edit');
    // Markers left in the file write nothing.
    const key2 = siblings('edit-markers', 'a', 'b');
    const lazy = join(dir, 'lazy.sh');
    writeFileSync(lazy, '#!/bin/sh\nexit 0\n');
    chmodSync(lazy, 0o755);
    const refused = gyre(['update', key2], { env: { EDITOR: lazy } });
    assert.equal(refused.status, exit.siblings, text(refused));
    assert.equal((JSON.parse(gyre(['get', key2]).stdout.toString()) as { status: number }).status, 300, 'still siblings');
    // An unchanged single value is not written back.
    const unchanged = gyre(['update', key], { env: { EDITOR: lazy }, url: cluster.url('n3') });
    assert.equal(unchanged.status, 0);
    assert.match(unchanged.stderr.toString(), /unchanged: nothing written/);
  });

  test('update --merge runs a command on the siblings; --resolve union merges JSON sets', () => {
    const key = siblings('merge', 'x', 'y');
    const r = gyre(['update', key, '--merge', `node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>process.stdout.write(JSON.parse(s).siblings.map(x=>x.text).sort().join('+')))"`, '--json']);
    assert.equal(r.status, 0, text(r));
    assert.equal((JSON.parse(r.stdout.toString()) as { merged: number }).merged, 2);
    assert.equal(gyre(['get', key, '--r', '3']).stdout.toString(), 'x+y');
    const set = siblings('union', '["a","b"]', '["b","c"]');
    assert.equal(gyre(['update', set, '--resolve', 'union']).status, 0);
    assert.deepEqual(JSON.parse(gyre(['get', set, '--r', '3']).stdout.toString()), ['a', 'b', 'c']);
    const failing = gyre(['update', siblings('merge-fails', 'p', 'q'), '--merge', 'exit 3']);
    assert.equal(failing.status, exit.usage, text(failing));
  });
});

test('gyre up --json prints every node with its URL and RESP address; gyre down stops them', async () => {
  const { freePortRange } = await import('../../node-core/src/cli/supervisor.js');
  const dir = mkdtempSync(join(tmpdir(), 'gyre-up-json-'));
  const env = { ...process.env, GYRE_DIR: dir, GYRE_TOKEN: '' };
  try {
    const port = await freePortRange(3);
    const up = spawnSync(process.execPath, [cliPath, 'up', '--port', String(port), '--json'], { env, encoding: 'utf8', timeout: 90_000 });
    assert.equal(up.status, 0, `${up.stdout}\n${up.stderr}`);
    const doc = JSON.parse(up.stdout) as { dir: string; nodes: { id: string; url: string; resp: string }[] };
    assert.equal(doc.dir, dir);
    assert.deepEqual(doc.nodes.map((n) => [n.id, n.url, n.resp]), [0, 1, 2].map((i) => [`n${i + 1}`, `http://127.0.0.1:${port + i}`, `127.0.0.1:${port + 2000 + i}`]));
  } finally {
    const down = spawnSync(process.execPath, [cliPath, 'down'], { env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(down.status, 0, down.stderr);
    rmSync(dir, { recursive: true, force: true });
  }
});
