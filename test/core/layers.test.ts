// The layering check (.dependency-cruiser.cjs, run by `npm run lint`) holds for the code as
// it is, and fails on each kind of violation it exists for: planted in a scratch copy of the
// folder layout, never in the source tree, so the check is seen to bite.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository: the nearest folder above this compiled test that holds the layering config. */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, '.dependency-cruiser.cjs'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('no .dependency-cruiser.cjs above the test');
    dir = up;
  }
  return dir;
}
const root = findRoot();
const depcruise = join(root, 'node_modules', '.bin', 'depcruise');
const config = join(root, '.dependency-cruiser.cjs');

interface Violation {
  readonly rule: string;
  readonly from: string;
  readonly to: string;
}

/** Runs the real check on `dirs` under `cwd`; the violations it reports. */
function cruise(cwd: string, dirs: readonly string[]): Violation[] {
  let out: string;
  try {
    out = execFileSync(depcruise, ['--config', config, '--output-type', 'json', ...dirs], { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    // Violations make it exit non-zero; the JSON report is on stdout either way.
    out = String((e as { stdout?: unknown }).stdout ?? '');
  }
  const report = JSON.parse(out) as { summary: { violations: { rule: { name: string }; from: string; to: string }[] } };
  return report.summary.violations.map((v) => ({ rule: v.rule.name, from: v.from, to: v.to }));
}

/** A scratch tree with the repo's folder names, the given files, and the repo's tsconfig. */
function scratch(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'gyre-layers-'));
  copyFileSync(join(root, 'tsconfig.json'), join(dir, 'tsconfig.json'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

function withScratch(files: Record<string, string>, dirs: readonly string[]): Violation[] {
  const dir = scratch(files);
  try {
    return cruise(dir, dirs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('layers: the code as it is has no violation and no import cycle', () => {
  assert.deepEqual(cruise(root, ['node-core', 'electron', 'renderer/src', 'test']), []);
});

const cases: { readonly name: string; readonly files: Record<string, string>; readonly rule: string; readonly from: string }[] = [
  {
    name: 'the pure core importing the node driver',
    files: { 'node-core/src/core/a.ts': "import { d } from '../node/d.js';\nexport const a = d;\n", 'node-core/src/node/d.ts': 'export const d = 1;\n' },
    rule: 'not-in-allowed',
    from: 'node-core/src/core/a.ts',
  },
  {
    name: 'the pure core importing node:fs',
    files: { 'node-core/src/core/a.ts': "import { readFileSync } from 'node:fs';\nexport const a = readFileSync;\n" },
    rule: 'not-in-allowed',
    from: 'node-core/src/core/a.ts',
  },
  {
    name: 'node-core importing the console',
    files: { 'node-core/src/http/a.ts': "import { b } from '../../../electron/backend/b.js';\nexport const a = b;\n", 'electron/backend/b.ts': 'export const b = 1;\n' },
    rule: 'not-in-allowed',
    from: 'node-core/src/http/a.ts',
  },
  {
    name: 'a replication loop importing the driver it runs in',
    files: { 'node-core/src/replication/a.ts': "import { d } from '../node/d.js';\nexport const a = d;\n", 'node-core/src/node/d.ts': 'export const d = 1;\n' },
    rule: 'not-in-allowed',
    from: 'node-core/src/replication/a.ts',
  },
  {
    name: 'the renderer importing code (not types) from node-core',
    files: { 'renderer/src/a.ts': "import { w } from '../../node-core/src/wire/w.js';\nexport const a = w;\n", 'node-core/src/wire/w.ts': 'export const w = 1;\n' },
    rule: 'renderer-types-only',
    from: 'renderer/src/a.ts',
  },
  {
    name: 'the simulator reaching SQLite through another module',
    files: {
      'test/harness/sim/a.ts': "import { s } from '../../../node-core/src/node/s.js';\nexport const a = s;\n",
      'node-core/src/node/s.ts': "import { t } from '../store/sqlite-store.js';\nexport const s = t;\n",
      'node-core/src/store/sqlite-store.ts': 'export const t = 1;\n',
    },
    rule: 'simulator-runs-no-io',
    from: 'test/harness/sim/a.ts',
  },
  {
    name: 'a replication loop importing the TCP transport (it may know only the messages and the Transport interface)',
    files: { 'node-core/src/replication/tcp-user.ts': "import { t } from '../net/tcp-transport.js';\nexport const u = t;\n", 'node-core/src/net/tcp-transport.ts': 'export const t = 1;\n' },
    rule: 'not-in-allowed',
    from: 'node-core/src/replication/tcp-user.ts',
  },
  {
    name: 'the harness importing the console (the general test rule does not cover it)',
    files: { 'test/harness/chaos/c.ts': "import { b } from '../../../electron/backend/b2.js';\nexport const c = b;\n", 'electron/backend/b2.ts': 'export const b = 1;\n' },
    rule: 'not-in-allowed',
    from: 'test/harness/chaos/c.ts',
  },
  {
    name: 'an import cycle inside one folder',
    files: { 'node-core/src/net/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n", 'node-core/src/net/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n" },
    rule: 'no-circular',
    from: 'node-core/src/net/a.ts',
  },
];

// One scratch tree holds every planted case (their file names differ), checked in one run.
let planted: Violation[] | undefined;
function plantedViolations(): Violation[] {
  planted ??= withScratch(
    Object.assign(
      { 'renderer/src/typed.ts': "import type { W } from '../../node-core/src/wire/t.js';\nexport type A = W;\n", 'node-core/src/wire/t.ts': 'export type W = number;\n' },
      ...cases.map((c) => c.files),
    ) as Record<string, string>,
    ['node-core', 'electron', 'renderer', 'test'],
  );
  return planted;
}

for (const c of cases) {
  test(`layers: the check fails on ${c.name}`, () => {
    const violations = plantedViolations();
    assert.ok(
      violations.some((v) => v.rule === c.rule && v.from === c.from),
      `expected ${c.rule} from ${c.from}; got ${JSON.stringify(violations)}`,
    );
  });
}

test('layers: the renderer may import node-core wire types as types', () => {
  assert.deepEqual(plantedViolations().filter((v) => v.from === 'renderer/src/typed.ts'), []);
});
