// The simulator's command line (npm run sim -- ...):
//   --seeds 1000            runs seeds 1..1000; prints each violation, then one summary line
//   --seed 42 [--verbose]   replays one seed (with --verbose, its whole event trace)
//   --scale 100,1000,5000   membership at scale, on paper (pure core only)
//   --no-membership, --no-reaping, --no-faults   switch parts of the runs off (to isolate a bug)

import type { RunResult } from './run.js';

// Stack traces in reports (a livelock's frames) name the TypeScript sources; the simulator's
// modules are imported after this, so their source maps are loaded.
process.setSourceMapsEnabled(true);
const { formatViolation, runSeed } = await import('./run.js');
const { scaleReport } = await import('./scale.js');

function usage(): never {
  process.stderr.write('usage: sim --seeds N [--from S] | --seed S [--verbose] | --scale 100,1000,5000  [--no-membership] [--no-reaping] [--no-faults] [--no-adversary]\n');
  process.exit(2);
}

function intArg(v: string | undefined, name: string): number {
  const n = Number(v);
  if (v === undefined || !Number.isSafeInteger(n) || n < 0) {
    process.stderr.write(`${name} needs a non-negative integer\n`);
    usage();
  }
  return n;
}

function summary(r: RunResult): string {
  const s = r.stats;
  const faults = Object.entries(s.faults).map(([k, n]) => `${k}:${n}`).join(' ') || 'none';
  return [
    `seed ${r.seed}: ${s.nodes} nodes, ${s.clients} clients, ${s.keys} keys; faults ${faults}`,
    `  writes ok/fail/unknown ${s.writes.ok}/${s.writes.fail}/${s.writes.unknown}, reads ${s.reads.ok}/${s.reads.fail}/${s.reads.unknown}; max siblings ${s.siblingsMax}`,
    `  checked: ${s.check.ackedWrites} acknowledged writes (${s.check.superseded} superseded by writes that saw them), ${s.check.availabilityJudged} writes judged for availability`,
    `  messages sent ${s.network.sent}, lost ${s.network.lost}, cut ${s.network.cut}, duplicated ${s.network.duplicated}, resets ${s.network.resets}`,
    `  formed at ${s.formedAt ?? 'never'} ms, converged ${s.convergedAfterMs === undefined ? 'never' : `${s.convergedAfterMs} ms after healing`}; ${s.events} events, ${s.virtualMs} virtual ms, ${r.realMs.toFixed(0)} real ms; trace ${r.traceHash}`,
    `  ${r.violations.length} violation(s)`,
  ].join('\n');
}

async function main(argv: readonly string[]): Promise<void> {
  const args = new Map<string, string | undefined>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) usage();
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      args.set(a, next);
      i++;
    } else args.set(a, undefined);
  }
  if (args.has('--scale')) {
    const sizes = (args.get('--scale') ?? '').split(',').map((x) => intArg(x.trim(), '--scale'));
    process.stdout.write(scaleReport(sizes));
    return;
  }
  const features = { membership: !args.has('--no-membership'), reaping: !args.has('--no-reaping'), faults: !args.has('--no-faults'), adversary: !args.has('--no-adversary') };
  if (args.has('--seed')) {
    const seed = intArg(args.get('--seed'), '--seed');
    const verbose = args.has('--verbose');
    const r = await runSeed(seed, verbose ? { features, onTrace: (line) => process.stdout.write(`${line}\n`) } : { features });
    for (const v of r.violations) process.stdout.write(`${formatViolation(r, v)}\n`);
    process.stdout.write(`${summary(r)}\n`);
    process.exitCode = r.violations.length > 0 ? 1 : 0;
    return;
  }
  if (args.has('--seeds')) {
    const count = intArg(args.get('--seeds'), '--seeds');
    const from = args.has('--from') ? intArg(args.get('--from'), '--from') : 1;
    let violations = 0;
    const bad: number[] = [];
    const started = performance.now();
    for (let seed = from; seed < from + count; seed++) {
      const r = await runSeed(seed, { features });
      if (r.violations.length > 0) {
        violations += r.violations.length;
        bad.push(seed);
        for (const v of r.violations) process.stdout.write(`${formatViolation(r, v)}\n`);
      }
    }
    const secs = (performance.now() - started) / 1000;
    if (bad.length > 0) process.stdout.write(`seeds with violations: ${bad.join(' ')}\n`);
    process.stderr.write(`(${secs.toFixed(1)} s, ${(count / secs).toFixed(1)} seeds/s)\n`);
    process.stdout.write(`sim: ${count} seeds run, ${violations} violations\n`);
    process.exitCode = violations > 0 ? 1 : 0;
    return;
  }
  usage();
}

// `| head` closes stdout early: stop quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
void main(process.argv.slice(2));
