// `gyre bench`'s printed report and progress bar, and how it finds the CPU of the servers it
// loads: a Gyre node names its pid in GET /status, a RESP server (Gyre or Redis) in INFO.

import net from 'node:net';
import { GyreClient } from '../client/client.js';
import type { Endpoint } from './channels.js';
import type { LatencySummary, LoadResult } from './load.js';
import { workloads } from './workload.js';

const f1 = (n: number) => n.toFixed(n < 10 ? 2 : 1);

function latencyRow(name: string, s: LatencySummary): string {
  if (s.count === 0) return `${name.padEnd(8)} ${'0'.padStart(9)}`;
  return `${name.padEnd(8)} ${String(s.count).padStart(9)} ${f1(s.p50Ms).padStart(8)} ${f1(s.p99Ms).padStart(8)} ${f1(s.p999Ms).padStart(8)} ${f1(s.maxMs).padStart(8)}`;
}

export function formatResult(r: LoadResult, describe: string): string {
  const errors = Object.entries(r.errors);
  return [
    `gyre bench: workload ${workloads[r.workload].title}; ${describe}`,
    `${r.requests} requests in ${r.seconds.toFixed(1)} s: ${Math.round(r.opsPerSecond).toLocaleString('en-US')} ops/s${r.notFound > 0 ? ` (${r.notFound} reads found no value)` : ''}`,
    `${''.padEnd(8)} ${'count'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'p99.9 ms'.padStart(8)} ${'max ms'.padStart(8)}`,
    latencyRow('all', r.all),
    latencyRow('reads', r.reads),
    latencyRow('updates', r.updates),
    `errors: ${errors.length === 0 ? 'none' : errors.map(([k, n]) => `${k} ${n}`).join(', ')}`,
    `cpu seconds: ${Object.entries(r.cpuSeconds)
      .map(([k, s]) => `${k} ${s.toFixed(2)}`)
      .join(', ')}`,
  ].join('\n');
}

/** A one-line progress bar on stderr (only on a terminal). */
export function progressBar(): ((fraction: number, done: number, elapsedMs: number, phase: string) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  const width = 30;
  return (fraction, done, elapsedMs, phase) => {
    const filled = Math.round(Math.min(1, fraction) * width);
    const rate = elapsedMs > 0 ? Math.round((done / elapsedMs) * 1000) : 0;
    process.stderr.write(`\r${phase} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}% ${done} requests, ${rate.toLocaleString('en-US')}/s   `);
  };
}

export function clearProgress(): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
}

const infoTimeoutMs = 2000;

/** What a RESP server's INFO says: its pid, and a Gyre node's HTTP address. */
function respInfo(ep: Endpoint): Promise<{ pid: number; http: string | undefined } | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: ep.host, port: ep.port });
    let text = '';
    const done = (info: { pid: number; http: string | undefined } | undefined) => {
      socket.destroy();
      resolve(info);
    };
    socket.setTimeout(infoTimeoutMs, () => done(undefined));
    socket.on('error', () => done(undefined));
    socket.on('connect', () => socket.write(`${ep.token !== undefined ? `AUTH ${ep.token}\r\n` : ''}INFO server\r\n`));
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      const pid = /process_id:(\d+)/.exec(text);
      if (pid) done({ pid: Number(pid[1]), http: /gyre_http:(\S+)/.exec(text)?.[1] });
    });
  });
}

/** Every member of the Gyre cluster behind `http` (host:port) with its pid, by node id. */
async function clusterPids(http: string, token: string | undefined, out: Map<string, number>): Promise<void> {
  const client = (address: string) => new GyreClient({ failover: false, url: `http://${address}`, token, keepAlive: false, timeoutMs: infoTimeoutMs });
  try {
    const status = await client(http).status();
    if (status.node.pid !== undefined && !out.has(status.node.id)) out.set(status.node.id, status.node.pid);
    for (const m of status.members) {
      if (out.has(m.id) || !m.address) continue;
      const pid = m.id === status.node.id ? status.node.pid : (await client(m.address).status().catch(() => undefined))?.node.pid;
      if (pid !== undefined) out.set(m.id, pid);
    }
  } catch {
    // Not a Gyre node, or not answering: no CPU figures for it.
  }
}

/** The pids of the servers behind the endpoints (for a Gyre node, of every member of its cluster), by name. */
export async function discoverPids(endpoints: readonly Endpoint[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const ep of endpoints) {
    if (ep.protocol === 'http') {
      await clusterPids(`${ep.host}:${ep.port}`, ep.token, out);
      continue;
    }
    const info = await respInfo(ep);
    if (info?.http) await clusterPids(info.http, ep.token, out);
    else if (info) out.set(`${ep.host}:${ep.port}`, info.pid);
  }
  return out;
}
