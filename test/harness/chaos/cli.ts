// The chaos run's command line (npm run chaos -- ...):
//   --nodes 5 --seconds 60   cluster size and workload duration
//   --seed S                 the nemesis's and clients' choices (timing still varies: real processes)
//   --clients 8 --keys 24    workload shape (a small hot key set, so writes conflict)
//   --keep                   keep the data folder and node logs
// Prints each violation (rule, key, the key's last events) and one summary line; exits 1 on any.

import { parseArgs } from 'node:util';
import { ruleNumber } from '../../../node-core/src/verify/checker.js';
import { runChaos } from './run.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string', default: String(Date.now()) },
    clients: { type: 'string', default: '8' },
    keys: { type: 'string', default: '24' },
    keep: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
  strict: true,
});

function int(name: string, v: string, min: number, max: number): number {
  const x = Number(v);
  if (!Number.isSafeInteger(x) || x < min || x > max) {
    process.stderr.write(`chaos: --${name} must be an integer in ${min}..${max}\n`);
    process.exit(2);
  }
  return x;
}

const opts = {
  nodes: int('nodes', values.nodes, 3, 9),
  seconds: int('seconds', values.seconds, 5, 3600),
  clients: int('clients', values.clients, 1, 64),
  keys: int('keys', values.keys, 1, 10_000),
  seed: values.seed,
  keep: values.keep,
  log: values.quiet ? () => {} : (line: string) => process.stdout.write(`${line}\n`),
};
process.stdout.write(`chaos: seed ${opts.seed}, ${opts.nodes} nodes, ${opts.seconds} s, ${opts.clients} clients, ${opts.keys} keys\n`);
const r = await runChaos(opts);
for (const v of r.violations) {
  process.stdout.write(`rule ${ruleNumber[v.rule]} (${v.rule})${v.key !== undefined ? ` key ${v.key}` : ''}: ${v.message}\n`);
  for (const t of (v.key !== undefined ? r.traces.get(v.key) : undefined)?.slice(-15) ?? []) process.stdout.write(`    ${t}\n`);
}
const s = r.stats;
const faults = Object.entries(s.faults).map(([k, n]) => `${k}:${n}`).join(' ') || 'none';
process.stdout.write(
  [
    `faults: ${faults}`,
    `operations: ${s.ops} (${s.reads} reads, ${s.siblingReads} with siblings; ${s.writes} writes: ${s.acked} acknowledged, ${s.failed} failed, ${s.unknown} unknown)`,
    `checked: ${s.check.ackedWrites} acknowledged writes (${s.check.superseded} superseded by writes that saw them), ${s.check.availabilityJudged} writes judged for availability; ${s.unidentifiedKeys} key(s) with a tombstone whose delete went unanswered and could not be named (clocks not compared there)`,
    `converged ${s.convergedAfterMs === undefined ? 'never' : `${s.convergedAfterMs} ms after healing`}; ${(s.wallMs / 1000).toFixed(1)} s in all${r.dir ? `; kept ${r.dir}` : ''}`,
    `chaos: ${r.violations.length} violation(s)`,
  ].join('\n') + '\n',
);
process.exit(r.violations.length > 0 ? 1 : 0);
