// A real `gyre console --web` for the browser tests: it launches its own local cluster (real
// node processes) in a temp folder, serves the built renderer, and is driven through Debian's
// chromium by playwright-core (no browser download). Everything it started is stopped by
// SIGINT, the way an operator stops it; the folder is removed afterwards.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type Page, chromium } from 'playwright-core';
import { LocalCluster, freePortRange } from '../../node-core/src/cli/supervisor.js';
import { browserPath } from './browser.js';
import { GyreClient, type RawResponse } from '../../node-core/src/client/client.js';

const cliPath = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node-core', 'src', 'cli', 'gyre.js');
const startTimeoutMs = 90_000;
const stopTimeoutMs = 20_000;

export class TestConsole {
  readonly dir = mkdtempSync(join(tmpdir(), 'gyre-console-test-'));
  readonly token: string;
  /** Node URLs to attach to (comma-separated) instead of launching a local cluster. */
  private readonly attach: string | undefined;

  constructor(opts: { attach?: string; token?: string } = {}) {
    this.token = opts.token ?? `console-test-${Math.random().toString(36).slice(2)}`;
    this.attach = opts.attach;
  }

  url = '';
  clusterPort = 0;
  private child: ChildProcess | undefined;
  private output = '';
  browser: Browser | undefined;

  /** Starts the console (and its 3-node cluster) and a headless chromium. */
  async start(): Promise<void> {
    this.clusterPort = await freePortRange(3);
    const where = this.attach ? ['--attach', this.attach] : ['--cluster-port', String(this.clusterPort)];
    const child = spawn(process.execPath, [cliPath, 'console', '--web', '--port', '0', '--dir', this.dir, ...where], { env: { ...process.env, GYRE_TOKEN: this.token }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stderr!.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-20_000)));
    this.url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the console did not print its URL within ${startTimeoutMs} ms:\n${this.output}`)), startTimeoutMs);
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => /^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+$/.test(l.trim()));
        if (line) {
          clearTimeout(timer);
          resolve(line.trim());
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the console exited (${code}) before printing its URL:\n${this.output}`));
      });
    });
    this.browser = await chromium.launch({ executablePath: browserPath(), args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  }

  /** A fresh page on `hash` (e.g. '#/membership'), with console errors collected. */
  async page(hash = ''): Promise<{ page: Page; errors: string[] }> {
    const page = await this.browser!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
    });
    await page.goto(`${this.url}${hash}`);
    return { page, errors };
  }

  /** The URL of cluster node i (1-based). */
  nodeUrl(i: number): string {
    return `http://127.0.0.1:${this.clusterPort + i - 1}`;
  }

  /** An HTTP request to cluster node i (1-based), with the token. */
  request(i: number, method: string, path: string, body?: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<RawResponse> {
    return new GyreClient({ failover: false, url: this.nodeUrl(i), token: this.token, keepAlive: false, timeoutMs }).request({ method, path, headers, ...(body !== undefined ? { body } : {}) });
  }

  logs(): string {
    return this.output;
  }

  private stopped: Promise<{ code: number | null }> | undefined;

  /** SIGINT, as Ctrl-C (once; later calls return the first outcome). */
  stop(): Promise<{ code: number | null }> {
    this.stopped ??= this.stopOnce();
    return this.stopped;
  }

  private async stopOnce(): Promise<{ code: number | null }> {
    await this.browser?.close().catch(() => undefined);
    const child = this.child;
    let code: number | null = null;
    if (child && child.exitCode === null) {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      child.kill('SIGINT');
      code = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), stopTimeoutMs))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    // Whatever the console failed to stop (it was killed, or crashed): only our own pids.
    const left = LocalCluster.load(this.dir);
    if (left && left.running().length > 0) await left.stop();
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    return { code };
  }
}

/** An attribute of the first element with this test id. */
export function attrOf(page: Page, testId: string, name: string): Promise<string | null> {
  return page.getByTestId(testId).first().getAttribute(name);
}

/** Polls `check` every 250 ms until it holds, or fails naming `what` after `timeoutMs`. */
export async function until(page: Page, what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await page.waitForTimeout(250);
  }
}

/** Clicks a screen in the sidebar and waits until it is shown. */
export async function goTo(page: Page, route: string): Promise<void> {
  await page.getByTestId(`nav-${route}`).click();
  await page.getByTestId(`screen-${route}`).waitFor({ timeout: 10_000 });
}
