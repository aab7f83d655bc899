// The node's log file rotates by size and keeps a fixed number of old files; no line is split
// or lost across a rotation.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RotatingLog } from '../../node-core/src/start/rotating-log.js';

test('the log rotates past maxBytes, keeps `files` old ones, and every kept line is whole and in order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gyre-log-'));
  try {
    const file = join(dir, 'node.log');
    const log = new RotatingLog({ file, maxBytes: 1000, files: 3 });
    const lines = Array.from({ length: 200 }, (_, i) => `${JSON.stringify({ i, pad: 'x'.repeat(i % 40) })}\n`);
    for (const l of lines) log.write(l);
    log.close();
    assert.deepEqual(readdirSync(dir).sort(), ['node.log', 'node.log.1', 'node.log.2', 'node.log.3']);
    for (const f of readdirSync(dir)) {
      assert.ok(statSync(join(dir, f)).size <= 1000, `${f} is over maxBytes`);
      assert.equal(statSync(join(dir, f)).mode & 0o077, 0, `${f} is readable by others`);
    }
    const kept = ['node.log.3', 'node.log.2', 'node.log.1', 'node.log'].flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
    const numbers = kept.map((l) => (JSON.parse(l) as { i: number }).i);
    assert.equal(numbers.at(-1), 199);
    for (let k = 1; k < numbers.length; k++) assert.equal(numbers[k], (numbers[k - 1] as number) + 1, 'a line is missing or out of order');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a log reopened after a restart appends, and rotates on what the file already holds', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gyre-log-'));
  try {
    const file = join(dir, 'node.log');
    const a = new RotatingLog({ file, maxBytes: 100, files: 1 });
    a.write(`${'a'.repeat(59)}\n`);
    a.close();
    const b = new RotatingLog({ file, maxBytes: 100, files: 1 });
    b.write(`${'b'.repeat(59)}\n`);
    b.close();
    assert.equal(readFileSync(join(dir, 'node.log.1'), 'utf8'), `${'a'.repeat(59)}\n`);
    assert.equal(readFileSync(file, 'utf8'), `${'b'.repeat(59)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a log whose folder vanishes drops lines and counts them; it does not throw', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gyre-log-'));
  const log = new RotatingLog({ file: join(dir, 'node.log'), maxBytes: 50, files: 2 });
  rmSync(dir, { recursive: true, force: true });
  for (let i = 0; i < 10; i++) log.write(`${'z'.repeat(30)}\n`);
  assert.ok(log.dropped > 0);
  log.close();
});
