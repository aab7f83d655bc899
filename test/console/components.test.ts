// The value viewers and the causal graph (issue 14) in a real browser: a page bundled by Vite
// with the renderer's Svelte plugin, mounting the console's own ValueViewer and CausalGraph
// components, served under the console's CSP and driven in chromium. The values are made
// here as a node would store them (JSON text, raw bytes, msgpack packed by msgpackr, and
// hostile msgpack); the graph is causalGraph()'s output, as the backend will pass it.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type Page, chromium } from 'playwright-core';
import { build } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { pack } from 'msgpackr';
import { browserPath } from '../helpers/browser.js';
import { freePort } from '../helpers/cluster.js';
import { causalGraph } from '../../node-core/src/core/causal.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const components = join(root, 'renderer', 'src', 'components');
// The console's policy (renderer/index.html): no inline script, nothing remote.
const csp = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:";

function serveFolder(folder: string, port: number): Promise<http.Server> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
  const server = http.createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!)).replace(/^(\.\.[/\\])+/, '');
    const file = join(folder, path === '/' ? 'index.html' : path);
    try {
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream', 'content-security-policy': csp });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64');

describe('value viewers and the causal graph in a browser page', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gyre-components-'));
  const app = join(dir, 'app');
  const out = join(dir, 'out');
  let server: http.Server | undefined;
  let browser: Browser | undefined;
  let origin = '';
  /** Page errors and console errors (a CSP refusal is one) of the page open now. */
  let problems: string[] = [];

  before(async () => {
    mkdirSync(app, { recursive: true });
    // The page resolves svelte and msgpackr as the renderer does, from the project's packages.
    symlinkSync(join(root, 'node_modules'), join(app, 'node_modules'), 'dir');
    writeFileSync(
      join(app, 'main.js'),
      [
        "import { mount, unmount, flushSync } from 'svelte';",
        `import ValueViewer from ${JSON.stringify(join(components, 'ValueViewer.svelte'))};`,
        `import CausalGraph from ${JSON.stringify(join(components, 'CausalGraph.svelte'))};`,
        `import * as valueView from ${JSON.stringify(join(root, 'renderer', 'src', 'lib', 'value-view.ts'))};`,
        'globalThis.valueView = valueView;',
        'let shown;',
        'globalThis.show = (what, props) => {',
        '  if (shown) unmount(shown);',
        "  const target = document.getElementById('app');",
        "  shown = mount(what === 'graph' ? CausalGraph : ValueViewer, { target, props });",
        '  flushSync();',
        '};',
        'globalThis.pageReady = true;',
        '',
      ].join('\n'),
    );
    writeFileSync(join(app, 'index.html'), `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>components</title></head><body><div id="app"></div><script type="module" src="./main.js"></script></body></html>\n`);
    await build({
      root: app,
      configFile: false,
      logLevel: 'error',
      plugins: [svelte({ configFile: false })],
      build: { outDir: out, emptyOutDir: true, minify: false, modulePreload: { polyfill: false } },
    });
    const port = await freePort();
    origin = `http://127.0.0.1:${port}/`;
    server = await serveFolder(out, port);
    browser = await chromium.launch({ executablePath: browserPath(), args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  });

  after(async () => {
    await browser?.close();
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function openPage(): Promise<Page> {
    const page = await browser!.newPage();
    problems = [];
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    await page.goto(origin);
    await page.waitForFunction(() => (globalThis as unknown as { pageReady?: boolean }).pageReady === true);
    return page;
  }

  async function show(page: Page, what: 'value' | 'graph', props: unknown): Promise<void> {
    await page.evaluate(({ what, props }) => (globalThis as unknown as { show: (w: string, p: unknown) => void }).show(what, props), { what, props });
  }

  /** With GYRE_SCREENSHOT_DIR set, a picture of the page for a person to look at. */
  async function picture(page: Page, name: string): Promise<void> {
    const to = process.env.GYRE_SCREENSHOT_DIR;
    if (to) await page.screenshot({ path: join(to, `${name}.png`), fullPage: true });
  }

  const paths = (page: Page) => page.$$eval('[data-testid="json-node"]', (els) => els.map((e) => `${e.getAttribute('data-path')}:${e.getAttribute('data-type')}`));
  const tabState = (page: Page) =>
    page.$$eval('[role="tab"]', (els) => Object.fromEntries(els.map((e) => [e.getAttribute('data-testid'), `${e.getAttribute('aria-selected')}${(e as unknown as { disabled: boolean }).disabled ? ',disabled' : ''}`])));

  test('JSON: a tree with the right paths, expanded and collapsed by keyboard, big arrays a page at a time', async () => {
    const page = await openPage();
    const doc = { a: [{ b: 1 }, { b: 'two' }], 'odd key': null, n: { deep: { x: true } } };
    await show(page, 'value', { value: b64(JSON.stringify(doc)), contentType: 'application/json; charset=utf-8' });
    assert.deepEqual(await tabState(page), { 'value-view-text': 'false', 'value-view-json': 'true', 'value-view-hex': 'false', 'value-view-msgpack': 'false,disabled' });
    assert.equal(await page.getAttribute('[data-testid="value-panel"]', 'data-view'), 'json');
    // Only the first level is built.
    assert.deepEqual(await paths(page), ['$:object', '$.a:array', '$["odd key"]:null', '$.n:object']);
    await page.focus('[data-testid="json-node"][data-path="$.a"] > .row [data-testid="json-toggle"]');
    await page.keyboard.press('Enter');
    assert.deepEqual(await paths(page), ['$:object', '$.a:array', '$.a[0]:object', '$.a[1]:object', '$["odd key"]:null', '$.n:object']);
    assert.equal(await page.getAttribute('[data-testid="json-node"][data-path="$.a"]', 'aria-expanded'), 'true');
    await page.focus('[data-testid="json-node"][data-path="$.a[1]"] > .row [data-testid="json-toggle"]');
    await page.keyboard.press('Space');
    assert.ok((await paths(page)).includes('$.a[1].b:string'));
    assert.equal(await page.textContent('[data-testid="json-node"][data-path="$.a[1].b"] .v'), '"two"');
    await picture(page, 'json-tree');
    // Collapse $.a with the keyboard: its subtree goes.
    await page.focus('[data-testid="json-node"][data-path="$.a"] > .row [data-testid="json-toggle"]');
    await page.keyboard.press('Enter');
    assert.deepEqual(await paths(page), ['$:object', '$.a:array', '$["odd key"]:null', '$.n:object']);
    assert.equal(await page.getAttribute('[data-testid="json-node"][data-path="$.a"]', 'aria-expanded'), 'false');

    // A large document (about 1 MiB): the first 100 items, then 100 more per click.
    const big = Array.from({ length: 20_000 }, (_, i) => ({ i, s: 'x'.repeat(40) }));
    const bigText = JSON.stringify(big);
    assert.ok(bigText.length > 1_000_000);
    const t0 = Date.now();
    await show(page, 'value', { value: b64(bigText), contentType: 'application/json' });
    assert.equal(await page.locator('[data-testid="json-node"]').count(), 101);
    assert.ok(Date.now() - t0 < 5000, `a 1 MiB document took ${Date.now() - t0} ms to show`);
    await page.click('[data-testid="json-more"]');
    assert.equal(await page.locator('[data-testid="json-node"]').count(), 201);
    // The text tab shows the same bytes as text.
    await page.click('[data-testid="value-view-text"]');
    assert.equal(await page.getAttribute('[data-testid="value-view-text"]', 'aria-selected'), 'true');
    assert.equal(await page.getAttribute('[data-testid="value-panel"]', 'data-view'), 'text');
    await page.close();
    assert.deepEqual(problems, []);
  });

  test('the default view follows the content type; a view applies only where the bytes allow it', async () => {
    const page = await openPage();
    const json = b64('{"a":1}');
    const text = b64('plain words');
    const packed = b64(pack([1, 'two']));
    const binary = b64(Uint8Array.from([0x00, 0xff, 0xfe]));
    // [content type, value] -> default view, then which of text/json/hex/msgpack apply.
    const cases: [string, string, string, string][] = [
      ['application/json', json, 'json', 'text json hex'],
      ['Application/JSON; charset=utf-8', json, 'json', 'text json hex'],
      ['application/vnd.gyre.user+json', json, 'json', 'text json hex'],
      ['text/plain', json, 'text', 'text json hex'],
      ['text/plain', text, 'text', 'text hex'],
      ['text/html', binary, 'hex', 'hex'],
      ['application/json', binary, 'json', 'json hex'],
      ['application/msgpack', packed, 'msgpack', 'hex msgpack'],
      ['application/x-msgpack', packed, 'msgpack', 'hex msgpack'],
      ['application/octet-stream', packed, 'hex', 'hex msgpack'],
      ['application/octet-stream', text, 'text', 'text hex'],
      ['', text, 'text', 'text hex'],
      ['', binary, 'hex', 'hex'],
    ];
    const got = await page.evaluate((cases) => {
      type VV = { valueViews(b: Uint8Array, t: string): { defaultView: string; available: Record<string, boolean> } };
      const vv = (globalThis as unknown as { valueView: VV }).valueView;
      const bytes = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
      return cases.map(([type, value]) => {
        const v = vv.valueViews(bytes(value), type);
        return [v.defaultView, Object.keys(v.available).filter((k) => v.available[k]).join(' ')];
      });
    }, cases);
    assert.deepEqual(got, cases.map(([, , d, a]) => [d, a]));
    // Text past 256 Ki characters is cut, and the panel says so.
    await show(page, 'value', { value: b64('y'.repeat(300_000)), contentType: 'text/plain' });
    assert.equal((await page.textContent('[data-testid="value-text"]'))?.length, 256 * 1024);
    assert.match((await page.textContent('[data-testid="value-panel"]')) ?? '', /cut: the first 262144 characters are shown/);
    await page.close();
    assert.deepEqual(problems, []);
  });

  test('binary: hex rows of 16 bytes with offsets and ASCII, 4 KiB a page; text, JSON and msgpack do not apply', async () => {
    const page = await openPage();
    // 0xc1 is never valid msgpack and 0xff never valid UTF-8.
    const bytes = Uint8Array.from({ length: 5000 }, (_, i) => (i === 0 ? 0xc1 : i === 1 ? 0xff : i % 256));
    await show(page, 'value', { value: b64(bytes), contentType: 'application/octet-stream' });
    assert.deepEqual(await tabState(page), { 'value-view-text': 'false,disabled', 'value-view-json': 'false,disabled', 'value-view-hex': 'true', 'value-view-msgpack': 'false,disabled' });
    assert.equal(await page.locator('[data-testid="hex-row"]').count(), 256);
    const first = await page.$eval('[data-testid="hex-row"]', (tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));
    assert.deepEqual(first, ['00000000', 'c1 ff 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f', '................']);
    const printable = await page.$eval('[data-testid="hex-row"][data-offset="00000040"]', (tr) => tr.querySelectorAll('td')[2]!.textContent);
    assert.equal(printable, '@ABCDEFGHIJKLMNO');
    assert.equal(await page.getAttribute('[data-testid="hex-view"]', 'data-pages'), '2');
    await picture(page, 'hex');
    await page.click('[data-testid="hex-next"]');
    // 5000 - 4096 = 904 bytes: 56 full rows and one of 8.
    assert.equal(await page.locator('[data-testid="hex-row"]').count(), 57);
    assert.equal(await page.getAttribute('[data-testid="hex-row"] >> nth=0', 'data-offset'), '00001000');
    await page.close();
    assert.deepEqual(problems, []);
  });

  test('msgpack: decoded into a tree (maps, binary, 64-bit integers); the arrow keys move between tabs', async () => {
    const page = await openPage();
    const packed = pack({ name: 'gyre', list: [1, 2, 3], bin: Buffer.from([0xde, 0xad, 0xbe, 0xef]), big: 2n ** 60n });
    await show(page, 'value', { value: b64(packed), contentType: 'application/x-msgpack' });
    const tabs = await tabState(page);
    assert.equal(tabs['value-view-msgpack'], 'true');
    assert.equal(tabs['value-view-hex'], 'false');
    assert.deepEqual(await paths(page), ['$:map', '$.name:string', '$.list:array', '$.bin:binary', '$.big:bigint']);
    assert.equal(await page.textContent('[data-testid="json-node"][data-path="$.big"] .v'), `${2n ** 60n}n`);
    assert.equal(await page.textContent('[data-testid="json-node"][data-path="$.bin"] .v'), '<4 bytes: de ad be ef>');
    await picture(page, 'msgpack');
    await page.focus('[data-testid="value-view-msgpack"]');
    await page.keyboard.press('ArrowRight');
    // Past msgpack (the last) the arrow wraps to the first tab that applies: text and JSON do not, so hex.
    assert.equal(await page.getAttribute('[data-testid="value-panel"]', 'data-view'), 'hex');
    assert.equal(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { getAttribute(n: string): string | null } | null } }).document.activeElement?.getAttribute('data-testid')), 'value-view-hex');
    await page.close();
    assert.deepEqual(problems, []);
  });

  test('hostile msgpack and bad base64 become a message in the panel, never a page error', async () => {
    const page = await openPage();
    const hostile: [string, Uint8Array][] = [
      ['an array claiming 2^32-1 items', Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff])],
      ['a string claiming 4 GiB', Uint8Array.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61])],
      ['the never-used byte', Uint8Array.from([0xc1])],
      ['a structured-clone pointer to nothing', Uint8Array.from([0xd6, 0x70, 0, 0, 0, 1])],
      ['nesting 200000 deep', Uint8Array.from([...new Array<number>(200_000).fill(0x91), 0xc0])],
      ['nesting 600 deep (decodes, but past what the tree shows)', Uint8Array.from([...new Array<number>(600).fill(0x91), 0xc0])],
      ['trailing bytes', Uint8Array.from([0x01, 0x02])],
      ['an unknown extension', Uint8Array.from([0xd4, 0x10, 0x00])],
    ];
    for (const [what, bytes] of hostile) {
      await show(page, 'value', { value: b64(bytes), contentType: 'application/msgpack' });
      assert.equal(await page.getAttribute('[data-testid="value-panel"]', 'data-view'), 'msgpack', what);
      const msg = await page.textContent('[data-testid="value-error"]', { timeout: 2000 }).catch(() => `no message; panel: ${what}`);
      assert.match(msg ?? '', /not valid msgpack|nested deeper/, `${what}: ${msg}`);
      // Hex still shows the bytes.
      await page.click('[data-testid="value-view-hex"]');
      assert.ok((await page.locator('[data-testid="hex-row"]').count()) >= 1, what);
    }
    await show(page, 'value', { value: '%%% not base64 %%%', contentType: 'application/json' });
    assert.equal(await page.textContent('[data-testid="value-error"]'), 'the value is not valid base64');
    await show(page, 'value', { value: b64('{"half": '), contentType: 'application/json' });
    assert.match((await page.textContent('[data-testid="value-error"]')) ?? '', /not valid JSON/);
    await show(page, 'value', { value: b64(`${'['.repeat(100_000)}${']'.repeat(100_000)}`), contentType: 'application/json' });
    assert.match((await page.textContent('[data-testid="value-error"]')) ?? '', /nested deeper than 512/);
    await page.close();
    assert.deepEqual(problems, []);
  });

  test('causal graph: the nodes and edges causalGraph() computed, with kinds, siblings, holders, keyboard focus', async () => {
    const page = await openPage();
    // n3 is stale (it holds n1:1); n1 and n2 wrote concurrently from {n1:2}, which nobody holds now.
    const graph = causalGraph([
      { version: 'n1:3', clock: { n1: 3 }, deleted: false, heldBy: ['n1'] },
      { version: 'n2:1', clock: { n1: 2, n2: 1 }, deleted: true, heldBy: ['n2'] },
      { version: 'n1:1', clock: { n1: 1 }, deleted: false, heldBy: ['n3'] },
    ]);
    await show(page, 'graph', { graph });
    const g = '[data-testid="causal-graph"]';
    assert.equal(await page.getAttribute(g, 'data-nodes'), '4');
    assert.equal(await page.getAttribute(g, 'data-edges'), '3');
    const nodes = await page.$$eval('[data-testid^="causal-node-"]', (els) => els.map((e) => `${e.getAttribute('data-testid')}|${e.getAttribute('data-kind')}|${e.getAttribute('data-sibling')}`));
    assert.deepEqual(nodes.sort(), ['causal-node-ancestor(n1:2)|ancestor|false', 'causal-node-n1:1|version|false', 'causal-node-n1:3|version|true', 'causal-node-n2:1|version|true']);
    const edges = await page.$$eval('[data-testid="causal-edge"]', (els) => els.map((e) => `${e.getAttribute('data-from')}->${e.getAttribute('data-to')}`));
    assert.deepEqual(edges.sort(), ['ancestor(n1:2)->n1:3', 'ancestor(n1:2)->n2:1', 'n1:1->ancestor(n1:2)']);
    // The tooltip names the clock and the holders; a tombstone says so.
    const title = await page.textContent('[data-testid="causal-node-n2:1"] title');
    assert.match(title ?? '', /tombstone/);
    assert.match(title ?? '', /\{n1:2, n2:1\}/);
    assert.match(title ?? '', /held by n2/);
    // Keyboard: Tab reaches the nodes in order; focus shows the detail.
    await page.focus('[data-testid="causal-node-n1:1"]');
    assert.match((await page.textContent('[data-testid="causal-detail"]')) ?? '', /version n1:1: clock \{n1:1\}; held by n3/);
    await page.keyboard.press('Tab');
    assert.match((await page.textContent('[data-testid="causal-detail"]')) ?? '', /implied common ancestor, clock \{n1:2\}/);
    await picture(page, 'causal-graph');
    // Columns follow the layers: the stale version left of its implied successor, left of the siblings.
    const x = (id: string) => page.$eval(`[data-testid="causal-node-${id}"]`, (e) => e.getBoundingClientRect().left);
    assert.ok((await x('n1:1')) < (await x('ancestor(n1:2)')));
    assert.ok((await x('ancestor(n1:2)')) < (await x('n1:3')));
    assert.equal(await x('n1:3'), await x('n2:1'));
    await page.close();
    assert.deepEqual(problems, []);
  });
});
