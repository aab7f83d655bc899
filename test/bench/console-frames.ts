// How smooth the console's renderer stays under a big cluster (issue 14): the built renderer
// in Debian's chromium, fed a generated 100-node, Q=1024 snapshot once a second through the
// Electron bridge's shape (window.gyre, injected before the page loads: the renderer cannot
// tell it from the preload), against a peer in the same run: the same pages fed a 3-node,
// Q=64 snapshot. Per screen: frame intervals (requestAnimationFrame deltas: p50, p95, max),
// long tasks (> 50 ms) and the time each snapshot's update took (from the push to the next
// frame). `npm run bench:console`; prints a table and the ratios. With GYRE_FRAMES_PROFILE=screen
// it profiles that screen under the 100-node snapshot instead (Chrome's CPU profiler through
// CDP) and prints the functions that took the most time of their own.

import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { browserPath } from '../helpers/browser.js';
import { clusterSnapshot } from '../helpers/snapshots.js';
import type { ClusterSnapshot, MemberStatus } from '../../node-core/src/wire/control.js';

/** The built renderer (this file runs from dist/test/bench/). */
const indexHtml = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'renderer', 'index.html');
const screens = ['overview', 'ring', 'membership', 'replicas', 'hints', 'conflicts', 'throughput'] as const;
const secondsPerScreen = Number(process.env.GYRE_FRAMES_SECONDS ?? 8);

/** A snapshot of `n` nodes and `q` partitions (striped ring, N=3), varying with `i`. */
function bigSnapshot(n: number, q: number, i: number): ClusterSnapshot {
  const at = Date.now();
  const nodes = Array.from({ length: n }, (_, k) => ({ id: `n${k + 1}`, at, lastSecond: 100 + ((i * 7 + k) % 50), p99: 1 + ((i + k) % 17) / 7, keys: 100_000 + i * 3 + k, bytes: 40_000_000 + i * 1024 + k * 17, status: (k === 3 && i % 10 < 5 ? 'down' : 'up') as MemberStatus }));
  const base = clusterSnapshot({ at, nodes, perSecond: 300 + (i % 40), hints: 100 + i, siblings: i % 5 });
  const ids = nodes.map((x) => x.id);
  const partitions = Array.from({ length: q }, (_, p) => {
    const pref = [ids[p % n]!, ids[(p + 1) % n]!, ids[(p + 2) % n]!];
    return { partition: p, owner: pref[0]!, pendingTo: p % 97 === i % 97 ? ids[(p + 5) % n]! : null, preferenceList: pref, replicasUp: pref.includes('n4') && i % 10 < 5 ? 2 : 3, fallbacks: pref.includes('n4') && i % 10 < 5 ? [`${ids[(p + 3) % n]}>n4`] : [], merkleAgree: p % 50 !== i % 50 };
  });
  const matrix = { observers: ids, targets: ids, status: ids.map((_, a) => ids.map((_, b) => (b === 3 && i % 10 < 5 && a !== 3 ? 'down' : 'up') as MemberStatus)) };
  return { ...base, config: { n: 3, r: 2, w: 2, partitions: q }, partitions, matrix, members: base.members.map((m, k) => ({ ...m, status: nodes[k]!.status, partitions: q / n })) };
}

/** The bridge the preload would expose, answering what the store asks at start. */
const bridge = `
  (() => {
    const listeners = new Map();
    const attachment = { name: 'bench', local: false, environment: 'development', urls: ['http://bench'], via: 'http://bench' };
    const answers = {
      connection: { state: 'attached', attachment },
      workloadStatus: { running: false, spec: null, sent: 0, ok: 0, failed: 0, startedAt: null },
      alerts: [], membershipProgress: null, alertRules: [],
    };
    window.gyre = {
      call: async (method) => (method in answers ? { ok: true, value: answers[method] } : { ok: false, error: method + ' is not part of the bench' }),
      on: (push, l) => { if (!listeners.has(push)) listeners.set(push, new Set()); listeners.get(push).add(l); return () => listeners.get(push).delete(l); },
    };
    window.__push = (push, v) => { for (const l of listeners.get(push) ?? []) l(v); };
    window.__frames = [];
    window.__updates = [];
    window.__long = 0;
    new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__long += e.duration; }).observe({ type: 'longtask', buffered: true });
    let last = performance.now();
    const loop = (t) => { window.__frames.push(t - last); last = t; requestAnimationFrame(loop); };
    requestAnimationFrame(loop);
  })();
`;

interface Figures {
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
  readonly longMs: number;
  readonly updateP95: number;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : 0;
};

async function measure(page: Page, screen: string, make: (i: number) => ClusterSnapshot): Promise<Figures> {
  await page.evaluate(`location.hash = '#/${screen}'`);
  let i = 0;
  await page.evaluate(`window.__push('cluster', ${JSON.stringify(make(i++))})`);
  await page.waitForTimeout(1000);
  await page.evaluate('window.__frames = []; window.__updates = []; window.__long = 0;');
  const end = Date.now() + secondsPerScreen * 1000;
  while (Date.now() < end) {
    const snap = JSON.stringify(make(i++));
    // The update's cost: from the push to the frame after it.
    await page.evaluate(`(() => { const t0 = performance.now(); window.__push('cluster', ${snap}); requestAnimationFrame(() => window.__updates.push(performance.now() - t0)); })()`);
    await page.waitForTimeout(1000);
  }
  const frames = (await page.evaluate('window.__frames')) as number[];
  const updates = (await page.evaluate('window.__updates')) as number[];
  const longMs = (await page.evaluate('window.__long')) as number;
  return { p50: pct(frames, 50), p95: pct(frames, 95), max: Math.max(0, ...frames), longMs, updateP95: pct(updates, 95) };
}

/** The built renderer over loopback HTTP (chromium refuses module scripts from file://). */
async function serve(): Promise<{ url: string; close: () => void }> {
  const root = dirname(indexHtml);
  const types: Record<string, string> = { html: 'text/html', js: 'text/javascript', css: 'text/css', svg: 'image/svg+xml' };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/+/, '') || 'index.html';
    if (path.includes('..')) return res.writeHead(400).end();
    try {
      const body = readFileSync(join(root, path));
      res.writeHead(200, { 'content-type': types[path.split('.').pop() ?? ''] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/index.html`, close: () => server.close() };
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number; readonly columnNumber: number };
  readonly hitCount?: number;
}

/** Self time per function of one screen under the 100-node snapshot, from a CPU profile. */
async function profile(page: Page, screen: string): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  const f = await measure(page, screen, (i) => bigSnapshot(100, 1024, i));
  const { profile: prof } = (await cdp.send('Profiler.stop')) as unknown as { profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] } };
  const selfUs = new Map<string, number>();
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  prof.samples.forEach((id, k) => {
    const n = byId.get(id)!;
    const name = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').pop() ?? ''}:${n.callFrame.lineNumber + 1}:${n.callFrame.columnNumber + 1}`;
    selfUs.set(name, (selfUs.get(name) ?? 0) + (prof.timeDeltas[k] ?? 0));
  });
  const busy = [...selfUs].filter(([name]) => !/^\((idle|program|garbage collector)\)/.test(name));
  const total = busy.reduce((a, [, us]) => a + us, 0);
  console.log(`${screen}, 100 nodes: update p95 ${f.updateP95.toFixed(1)} ms, long tasks ${f.longMs.toFixed(0)} ms/${secondsPerScreen}s; ${(total / 1000).toFixed(0)} ms of script over the run (gc ${(((selfUs.get('(garbage collector) :0') ?? 0) / 1000) | 0) } ms)`);
  for (const [name, us] of busy.sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${(us / 1000).toFixed(1).padStart(8)} ms  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${name}`);
}

async function main(): Promise<void> {
  const only = process.env.GYRE_FRAMES_PROFILE;
  const site = await serve();
  const browser = await chromium.launch({ executablePath: browserPath(), args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  const rows: string[] = [];
  try {
    if (only !== undefined) {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.addInitScript(bridge);
      await page.goto(site.url);
      await page.waitForSelector('[data-testid="connection-state"][data-state="attached"]', { timeout: 15_000 });
      await profile(page, only);
      return;
    }
    for (const [label, make] of [
      ['3 nodes, Q=64', (i: number) => bigSnapshot(3, 64, i)],
      ['100 nodes, Q=1024', (i: number) => bigSnapshot(100, 1024, i)],
    ] as const) {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.addInitScript(bridge);
      await page.goto(site.url);
      await page.waitForSelector('[data-testid="connection-state"][data-state="attached"]', { timeout: 15_000 });
      for (const screen of screens) {
        const f = await measure(page, screen, make);
        rows.push(`${label.padEnd(18)} ${screen.padEnd(11)} frame p50 ${f.p50.toFixed(1).padStart(5)} ms  p95 ${f.p95.toFixed(1).padStart(6)} ms  max ${f.max.toFixed(0).padStart(5)} ms  long tasks ${f.longMs.toFixed(0).padStart(5)} ms/${secondsPerScreen}s  update p95 ${f.updateP95.toFixed(1).padStart(6)} ms`);
        console.log(rows.at(-1));
      }
      if (errors.length) console.log(`page errors: ${errors.slice(0, 3).join('; ')}`);
      await page.close();
    }
  } finally {
    await browser.close();
    site.close();
  }
}

await main();
