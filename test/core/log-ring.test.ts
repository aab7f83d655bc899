// node/log-ring.ts, the buffer behind GET /admin/log: bounded in bytes (oldest lines dropped
// first), numbered lines a reader follows with `after`, told when it fell behind.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LogRing, logLineBytesMax } from '../../node-core/src/node/log-ring.js';

test('the ring never holds more than its byte budget, and what it holds is the newest lines, consecutive', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 300 }), { maxLength: 400 }), fc.integer({ min: 64, max: 4096 }), (lines, budget) => {
      const ring = new LogRing(budget);
      for (const l of lines) ring.push(`${l}\n`);
      const all = ring.read({ after: 0, filter: undefined, lines: 100_000 });
      const held = all.lines.reduce((n, l) => n + Buffer.byteLength(l.text) + 32, 0);
      assert.ok(all.lines.length <= 1 || held <= budget, `${held} bytes held of ${budget}`);
      assert.equal(ring.last, lines.length);
      if (all.lines.length > 0) {
        assert.equal(all.lines[all.lines.length - 1]!.seq, lines.length, 'the newest line is kept');
        all.lines.forEach((l, i) => assert.equal(l.seq, all.lines[0]!.seq + i));
        assert.deepEqual(all.lines.map((l) => l.text), lines.slice(all.lines[0]!.seq - 1));
      }
      assert.equal(all.dropped, all.lines.length > 0 ? all.lines[0]!.seq > 1 : lines.length > 0);
    }),
  );
});

test('following: after=next gets exactly the lines pushed since; lines caps a read, and next resumes where it stopped', () => {
  const ring = new LogRing();
  for (let i = 1; i <= 10; i++) ring.push(`line ${i}\n`);
  const tail = ring.read({ after: undefined, filter: undefined, lines: 3 });
  assert.deepEqual(tail.lines.map((l) => l.text), ['line 8', 'line 9', 'line 10']);
  assert.equal(tail.next, 10);
  ring.push('line 11\n');
  ring.push('LINE 12 Fault\n');
  const more = ring.read({ after: tail.next, filter: undefined, lines: 1 });
  assert.deepEqual(more.lines.map((l) => [l.seq, l.text]), [[11, 'line 11']]);
  const rest = ring.read({ after: more.next, filter: 'fault', lines: 10 });
  assert.deepEqual(rest.lines.map((l) => l.seq), [12], 'filter ignores case');
  assert.equal(rest.next, 12);
  const none = ring.read({ after: rest.next, filter: undefined, lines: 10 });
  assert.deepEqual(none, { lines: [], next: 12, dropped: false });
  assert.deepEqual(ring.read({ after: 500, filter: undefined, lines: 10 }), { lines: [], next: 12, dropped: false }, 'a cursor from before a restart starts again from the present');
});

test('a reader that fell behind is told: dropped, and it gets the oldest lines still held', () => {
  const ring = new LogRing(400);
  for (let i = 1; i <= 50; i++) ring.push(`line number ${i}\n`);
  const r = ring.read({ after: 2, filter: undefined, lines: 5 });
  assert.equal(r.dropped, true);
  assert.ok(r.lines[0]!.seq > 3);
  assert.equal(r.next, r.lines[4]!.seq);
});

test('a line over 16 KiB is kept cut, so one line never takes the ring', () => {
  const ring = new LogRing();
  ring.push(`${'é'.repeat(20_000)}\n`);
  const [line] = ring.read({ after: undefined, filter: undefined, lines: 1 }).lines;
  assert.ok(Buffer.byteLength(line!.text) <= logLineBytesMax);
  assert.ok(line!.text.endsWith('[cut]'));
  assert.ok(!line!.text.includes('\uFFFD'));
});
