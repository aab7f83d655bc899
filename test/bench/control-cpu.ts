// What the control plane costs (npm run bench:control): two idle local clusters side by side,
// one started with --no-control, the other with the control plane on; the CPU time of every
// node process is read from /proc over the same windows: first with nobody attached, then with
// one Socket.IO subscriber on the first node of the control cluster (which then gathers every
// member's snapshot once a second). Figures are ratios to the cluster without a control plane,
// measured in the same run, so the machine's noise cancels out as far as it can.
//
//   npm run bench:control -- --nodes 3 --seconds 20

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { io } from 'socket.io-client';
import { LocalCluster, freePortRange } from '../../node-core/src/cli/supervisor.js';

const { values: args } = parseArgs({ options: { nodes: { type: 'string', default: '3' }, seconds: { type: 'string', default: '20' } } });
const nodes = Number(args.nodes);
const seconds = Number(args.seconds);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** utime + stime of a process, in clock ticks (Linux). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function clusterTicks(c: LocalCluster): number[] {
  return c.nodes.map((n) => cpuTicks(n.pid!));
}

async function measure(a: LocalCluster, b: LocalCluster, ms: number): Promise<{ a: number[]; b: number[] }> {
  const a0 = clusterTicks(a);
  const b0 = clusterTicks(b);
  await sleep(ms);
  const a1 = clusterTicks(a);
  const b1 = clusterTicks(b);
  return { a: a1.map((x, i) => x - a0[i]!), b: b1.map((x, i) => x - b0[i]!) };
}

const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
const ratio = (x: number, y: number) => (y === 0 ? 'n/a' : (x / y).toFixed(2));

const root = mkdtempSync(join(tmpdir(), 'gyre-bench-control-'));
const token = 'bench-control-token';
const portA = await freePortRange(nodes);
const on = LocalCluster.create({ dir: join(root, 'on'), nodes, port: portA, token });
const portB = await freePortRange(nodes);
const off = LocalCluster.create({ dir: join(root, 'off'), nodes, port: portB, token, nodeArgs: ['--no-control'] });
try {
  on.start();
  off.start();
  await on.waitUntilUp();
  await off.waitUntilUp();
  await sleep(3000); // past start-up work (claims, first exchanges)
  const idle = await measure(on, off, seconds * 1000);
  const socket = io(on.url('n1'), { auth: { token }, transports: ['websocket'], reconnection: false });
  let snapshots = 0;
  let bytes = 0;
  socket.on('cluster', (s) => {
    snapshots++;
    bytes += JSON.stringify(s).length;
  });
  await new Promise<void>((resolve, reject) => {
    socket.on('connect_error', reject);
    socket.on('connect', () => socket.emit('subscribe', () => resolve()));
  });
  await sleep(2000);
  const watched = await measure(on, off, seconds * 1000);
  socket.close();
  const t = (xs: number[]) => xs.join('/');
  console.log(`control-plane CPU, ${nodes} idle nodes per cluster, ${seconds} s windows (clock ticks per node, n1 first)`);
  console.log(`  idle, nobody attached: control on ${t(idle.a)} (sum ${sum(idle.a)}), off ${t(idle.b)} (sum ${sum(idle.b)}): ratio ${ratio(sum(idle.a), sum(idle.b))}`);
  console.log(`  one subscriber on n1:  control on ${t(watched.a)} (sum ${sum(watched.a)}), off ${t(watched.b)} (sum ${sum(watched.b)}): ratio ${ratio(sum(watched.a), sum(watched.b))}; n1 alone ${ratio(watched.a[0]!, watched.b[0]!)}`);
  console.log(`  the subscriber got ${snapshots} cluster snapshots, ${Math.round(bytes / Math.max(1, snapshots))} bytes each as JSON`);
} finally {
  await on.stop().catch(() => undefined);
  await off.stop().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
}
