// The console's Electron main process: thin on purpose. It hosts the console backend (a plain
// Node module, the same one `gyre console --web` serves) and bridges it to the renderer over
// IPC: one channel per console method, named after it, and one per push. The window is
// sandboxed, context-isolated, without Node integration, and loads only the local build
// under a strict CSP; navigation and new windows are refused.

import { BrowserWindow, app, ipcMain, session } from 'electron';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConsoleBackend } from './backend/backend.js';
import { type ConsoleMethod, consoleMethods, consolePushes } from '../node-core/src/wire/console.js';
import { contentSecurityPolicy } from './backend/web.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  args: process.argv.slice(process.defaultApp ? 2 : 1),
  options: { dir: { type: 'string' }, nodes: { type: 'string', default: '3' }, 'cluster-port': { type: 'string', default: '7070' }, attach: { type: 'string' }, ca: { type: 'string' } },
  strict: false,
});

const dir = resolve(typeof args.dir === 'string' ? args.dir : (process.env.GYRE_DIR ?? join(homedir(), '.gyre')));
const token = process.env.GYRE_TOKEN || undefined;
let backend: ConsoleBackend | undefined;
let quitting = false;

async function createWindow(): Promise<void> {
  backend = await ConsoleBackend.open({ dir, nodes: Number(args.nodes), port: Number(args['cluster-port']), token, log: (line) => console.error(`gyre console: ${line}`) });
  const win = new BrowserWindow({
    width: 1400,
    height: 900,
    title: 'Gyre console',
    webPreferences: { preload: join(here, 'preload.cjs'), contextIsolation: true, nodeIntegration: false, sandbox: true, webSecurity: true },
  });
  const b = backend;
  for (const method of consoleMethods) {
    ipcMain.handle(`console:${method}`, async (_e, callArgs: unknown) => {
      try {
        return { ok: true, value: await b.call(method as ConsoleMethod, Array.isArray(callArgs) ? callArgs : []) };
      } catch (e) {
        return { ok: false, error: (e as Error).message };
      }
    });
  }
  for (const push of consolePushes) b.on(push, (v) => win.isDestroyed() || win.webContents.send(`console:${push}`, v));
  win.webContents.on('will-navigate', (e) => e.preventDefault());
  win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  await win.loadFile(join(here, '..', 'renderer', 'index.html'));
  const attach = typeof args.attach === 'string' ? args.attach : undefined;
  if (attach) await b.attachUrls(attach.split(',').map((u) => (u.includes('://') ? u : `http://${u}`)), token ?? null, 'remote', typeof args.ca === 'string' ? args.ca : null);
  else await b.attach({ kind: 'local' });
}

app.whenReady().then(() => {
  session.defaultSession.webRequest.onHeadersReceived((details, cb) => cb({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [contentSecurityPolicy] } }));
  // Nothing remote: every permission request is refused.
  session.defaultSession.setPermissionRequestHandler((_wc, _perm, cb) => cb(false));
  createWindow().catch((e: unknown) => {
    console.error(`gyre console: ${(e as Error).message}`);
    app.exit(1);
  });
});

// Closing the window (or Ctrl-C) stops what the console started, then quits.
app.on('before-quit', (e) => {
  if (quitting || !backend) return;
  e.preventDefault();
  quitting = true;
  backend.close().finally(() => app.exit(0));
});
app.on('window-all-closed', () => app.quit());
process.on('SIGINT', () => app.quit());
process.on('SIGTERM', () => app.quit());
