// The README's test line on a machine without a browser (issue 13): `npm test` must either
// find one, install Debian's chromium where it may, or stop at once with the command to run.
// This checks the last case on the real script, with a PATH holding no browser.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'ensure-browser.mjs');

function run(env: Record<string, string>): { status: number | null; stderr: string; ms: number } {
  const started = Date.now();
  const r = spawnSync(process.execPath, [script], { env, encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, stderr: r.stderr, ms: Date.now() - started };
}

test('without a browser and without leave to install, npm test stops at once naming the command to run', () => {
  const empty = mkdtempSync(join(tmpdir(), 'gyre-nobrowser-'));
  try {
    const r = run({ PATH: empty, GYRE_NO_INSTALL: '1' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /apt-get install -y chromium/);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    assert.ok(r.ms < 5000, `stopped in ${r.ms} ms`);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test('a browser on PATH under any of its usual names is found; GYRE_CHROMIUM comes first and must be executable', () => {
  const bin = mkdtempSync(join(tmpdir(), 'gyre-browser-'));
  try {
    const fake = join(bin, 'google-chrome-stable');
    writeFileSync(fake, '#!/bin/sh\n');
    chmodSync(fake, 0o755);
    const found = run({ PATH: bin, GYRE_NO_INSTALL: '1' });
    assert.equal(found.status, 0, found.stderr);
    assert.match(found.stderr, new RegExp(`use ${fake}`));
    symlinkSync(fake, join(bin, 'chromium'));
    assert.match(run({ PATH: bin, GYRE_NO_INSTALL: '1' }).stderr, new RegExp(`use ${join(bin, 'chromium')}`), 'chromium is preferred');
    const bad = run({ PATH: bin, GYRE_NO_INSTALL: '1', GYRE_CHROMIUM: join(bin, 'missing') });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /GYRE_CHROMIUM=.* is not an executable file/);
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});
