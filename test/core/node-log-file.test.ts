// A local node's log as the node page reads it (issue 14): a line's seq is its byte offset, so
// following picks up exactly what was appended; a partial last line waits for its newline; a
// file that shrank is read again from its start; a reader that fell too far behind is told
// lines were dropped; the filter is case-insensitive.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkLogQuery, readLogFile } from '../../electron/backend/backend.js';

const dir = mkdtempSync(join(tmpdir(), 'gyre-log-test-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('tail, then follow from next: every appended line once, a partial line only once it is whole', () => {
  const f = join(dir, 'a.log');
  writeFileSync(f, 'one\ntwo\nthree\n');
  const first = readLogFile('n1', f, { lines: 2, filter: null, after: null });
  assert.deepEqual(first.lines.map((l) => l.text), ['two', 'three']);
  assert.equal(first.lines[0]!.seq, 4, "a line's seq is its byte offset");
  appendFileSync(f, 'four\nfiv');
  const second = readLogFile('n1', f, { lines: 100, filter: null, after: first.next });
  assert.deepEqual(second.lines.map((l) => l.text), ['four']);
  appendFileSync(f, 'e\n');
  const third = readLogFile('n1', f, { lines: 100, filter: null, after: second.next });
  assert.deepEqual(third.lines.map((l) => l.text), ['five'], 'the partial line, once whole, comes whole');
  assert.equal(readLogFile('n1', f, { lines: 100, filter: null, after: third.next }).lines.length, 0);
});

test('a file that shrank (rotated) is read from its start; a missing file is empty', () => {
  const f = join(dir, 'b.log');
  writeFileSync(f, 'x'.repeat(50) + '\n');
  const a = readLogFile('n1', f, { lines: 10, filter: null, after: null });
  writeFileSync(f, 'fresh\n');
  const b = readLogFile('n1', f, { lines: 10, filter: null, after: a.next });
  assert.deepEqual(b.lines.map((l) => l.text), ['fresh']);
  assert.deepEqual(readLogFile('n1', join(dir, 'none.log'), { lines: 10, filter: null, after: null }).lines, []);
});

test('a reader more than a read behind is told lines were dropped, and resumes on a whole line', () => {
  const f = join(dir, 'c.log');
  writeFileSync(f, 'start\n');
  const a = readLogFile('n1', f, { lines: 10, filter: null, after: null });
  const line = 'y'.repeat(999) + '\n';
  appendFileSync(f, line.repeat(1200)); // 1.2 MB: past the 1 MiB a request reads
  const b = readLogFile('n1', f, { lines: 1000, filter: null, after: a.next });
  assert.equal(b.dropped, true);
  assert.ok(b.lines.every((l) => l.text === 'y'.repeat(999)), 'no cut line');
});

test('the filter is case-insensitive; queries are validated', () => {
  const f = join(dir, 'd.log');
  writeFileSync(f, '{"msg":"Node ready"}\n{"msg":"transfer complete"}\n');
  assert.deepEqual(readLogFile('n1', f, { lines: 10, filter: 'node READY', after: null }).lines.map((l) => l.text), ['{"msg":"Node ready"}']);
  assert.deepEqual(checkLogQuery({}), { lines: 200, filter: null, after: null });
  for (const bad of [{ lines: 0 }, { lines: 1001 }, { lines: 1.5 }, { filter: 'x'.repeat(201) }, { filter: 3 }, { after: -1 }, { after: 1.5 }]) assert.throws(() => checkLogQuery(bad), Error, JSON.stringify(bad));
});
