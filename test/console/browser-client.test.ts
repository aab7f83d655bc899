// The client library in a browser (issue 13: "for Node and the browser"): a page bundled by
// Vite from `import { GyreClient } from 'gyre'`, as an application would bundle it, served from
// its own origin, running in chromium against a real 3-node cluster started with that origin in
// --cors-origins. The bundle takes the fetch transport (package.json "browser") and no Node
// module; the page reads, writes, resolves siblings, fails over past a dead node, and is told
// of a wrong token; a page from an origin not named is kept from the answers by the browser.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type Page, chromium } from 'playwright-core';
import { build } from 'vite';
import { browserPath } from '../helpers/browser.js';
import { TestCluster, freePort } from '../helpers/cluster.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** A static server for the built page, on its own loopback port (its own origin). */
function serveFolder(folder: string, port: number): Promise<http.Server> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript' };
  const server = http.createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!)).replace(/^(\.\.[/\\])+/, '');
    const file = join(folder, path === '/' ? 'index.html' : path);
    try {
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

interface PageResult {
  readonly ok: boolean;
  readonly error?: string;
  readonly errorName?: string;
  readonly [k: string]: unknown;
}

describe('GyreClient in a browser page', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gyre-browser-client-'));
  const app = join(dir, 'app');
  const out = join(dir, 'out');
  let origin = '';
  let strangerOrigin = '';
  let cluster: TestCluster;
  const servers: http.Server[] = [];
  let browser: Browser | undefined;
  let bundle = '';

  before(async () => {
    // An application that depends on gyre: node_modules/gyre is this package, as npm would link it.
    mkdirSync(join(app, 'node_modules'), { recursive: true });
    symlinkSync(root, join(app, 'node_modules', 'gyre'), 'dir');
    writeFileSync(join(app, 'main.js'), "import * as gyre from 'gyre';\nglobalThis.gyre = gyre;\n");
    writeFileSync(join(app, 'index.html'), '<!doctype html><title>app</title><script type="module" src="./main.js"></script>\n');
    await build({ root: app, configFile: false, logLevel: 'error', build: { outDir: out, emptyOutDir: true, minify: false } });
    bundle = readdirSync(join(out, 'assets')).map((f) => readFileSync(join(out, 'assets', f), 'utf8')).join('\n');
    const [pagePort, strangerPort] = [await freePort(), await freePort()];
    origin = `http://127.0.0.1:${pagePort}`;
    strangerOrigin = `http://127.0.0.1:${strangerPort}`;
    servers.push(await serveFolder(out, pagePort), await serveFolder(out, strangerPort));
    cluster = new TestCluster({ nodes: 3, args: ['--partitions', '16', '--cors-origins', origin] });
    await cluster.start();
    browser = await chromium.launch({ executablePath: browserPath(), args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  });

  after(async () => {
    await browser?.close();
    for (const s of servers) s.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function openPage(at: string): Promise<Page> {
    const page = await browser!.newPage();
    await page.goto(at);
    await page.waitForFunction(() => (globalThis as unknown as { gyre?: unknown }).gyre !== undefined);
    return page;
  }

  test('the bundle carries the fetch transport and no Node module', () => {
    assert.match(bundle, /function fetchTransport/);
    assert.doesNotMatch(bundle, /function nodeTransport|node:http|node:https/);
  });

  test('a page reads and writes, resolves siblings with update, and learns every member', async () => {
    const page = await openPage(origin);
    const dead = `http://127.0.0.1:${await freePort()}`;
    const urls = ['n1', 'n2', 'n3'].map((id) => cluster.url(id));
    const key = `browser-${Date.now()}`;
    const r = await page.evaluate(
      async ({ urls, dead, token, key }) => {
        type Gyre = typeof import('../../node-core/src/client/index.js');
        const { GyreClient, jsonSetUnion } = (globalThis as unknown as { gyre: Gyre }).gyre;
        const text = (b: Uint8Array) => new TextDecoder().decode(b);
        try {
          // The dead node first: the client must go past it.
          const db = new GyreClient({ urls: [dead, urls[0]!], token, retry: { baseDelayMs: 20, maxDelayMs: 100 } });
          await db.put(key, 'hello', { contentType: 'text/plain' });
          const one = await db.get(key);
          // Two blind writes through two nodes: concurrent, so siblings.
          const pinned = (u: string) => new GyreClient({ url: u, token, failover: false });
          await pinned(urls[1]!).put(`${key}-set`, JSON.stringify(['a']));
          await pinned(urls[2]!).put(`${key}-set`, JSON.stringify(['b']));
          const before = await db.get(`${key}-set`, { r: 3 });
          await db.update(`${key}-set`, (cur) => JSON.stringify([...(JSON.parse(text(cur!.value)) as string[]), 'c']), { resolve: jsonSetUnion, r: 3, w: 3 });
          const after = await db.getValue(`${key}-set`, { r: 3 });
          const bytes = new Uint8Array([0, 1, 127, 128, 254, 255]);
          await db.put(`${key}-bin`, bytes);
          const bin = await db.get(`${key}-bin`);
          return {
            ok: true,
            value: text(one.siblings[0]!.value),
            contentType: one.siblings[0]!.contentType,
            context: typeof one.context === 'string' && one.context.length > 0,
            siblingsBefore: before.siblings.length,
            statusBefore: before.status,
            merged: (JSON.parse(text(after!.value)) as string[]).sort(),
            bin: [...bin.siblings[0]!.value],
            members: db.members,
          };
        } catch (e) {
          return { ok: false, error: String(e), errorName: (e as Error).name };
        }
      },
      { urls, dead, token: cluster.token, key },
    );
    const res = r as PageResult;
    assert.ok(res.ok, `the page failed: ${res.error}`);
    assert.equal(res.value, 'hello');
    assert.equal(res.contentType, 'text/plain');
    assert.equal(res.context, true, 'the page can read X-Gyre-Context (exposed by CORS)');
    assert.equal(res.statusBefore, 300);
    assert.equal(res.siblingsBefore, 2);
    assert.deepEqual(res.merged, ['a', 'b', 'c']);
    assert.deepEqual(res.bin, [0, 1, 127, 128, 254, 255]);
    for (const u of urls) assert.ok((res.members as string[]).includes(u), `the client learned ${u} from /status: ${JSON.stringify(res.members)}`);
    await page.close();
  });

  test('a wrong token is an AuthError in the page; a page of an origin not named cannot read any answer', async () => {
    const urls = ['n1', 'n2', 'n3'].map((id) => cluster.url(id));
    const run = async (at: string, token: string) => {
      const page = await openPage(at);
      const r = await page.evaluate(
        async ({ urls, token }) => {
          type Gyre = typeof import('../../node-core/src/client/index.js');
          const { GyreClient } = (globalThis as unknown as { gyre: Gyre }).gyre;
          try {
            await new GyreClient({ urls, token, discover: false, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 } }).get('anything');
            return { ok: true };
          } catch (e) {
            return { ok: false, error: String(e), errorName: (e as Error).constructor.name };
          }
        },
        { urls, token },
      );
      await page.close();
      return r as PageResult;
    };
    const wrong = await run(origin, 'not-the-cluster-token');
    assert.equal(wrong.ok, false);
    assert.equal(wrong.errorName, 'AuthError', wrong.error);
    const stranger = await run(strangerOrigin, cluster.token);
    assert.equal(stranger.ok, false, 'the browser must keep the answer from a page of another origin');
    assert.equal(stranger.errorName, 'UnavailableError', stranger.error);
    assert.match(stranger.error ?? '', /network/);
  });
});
