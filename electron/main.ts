// The console's Electron main process: thin on purpose. It hosts the console backend (a plain
// Node module, the same one `gyre console --web` serves) and bridges it to the renderer over
// IPC: one channel per console method, named after it, and one per push. Electron's security
// checklist: the window is sandboxed, context-isolated, without Node integration; it loads the
// local build from app://gyre/ (backend/app-protocol.ts), never file://, with the CSP as a
// response header; every IPC handler checks its sender's frame; navigation, new windows and
// webviews are refused in every web contents; every permission request and check is refused.
// Fuses are set at packaging (build/electron-builder.yml).

import { BrowserWindow, app, ipcMain, protocol, safeStorage, session } from 'electron';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConsoleBackend } from './backend/backend.js';
import type { TokenSealer } from './backend/profiles.js';
import { type ConsoleMethod, consoleMethods, consolePushes } from '../node-core/src/wire/console.js';
import { appEntry, appFile, appScheme, desktopContentSecurityPolicy, isTrustedSender } from './backend/app-protocol.js';

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

// Before ready: app:// behaves as a standard, secure origin (relative URLs, no mixed content).
protocol.registerSchemesAsPrivileged([{ scheme: appScheme, privileges: { standard: true, secure: true } }]);

/** Serves the renderer's build on app://gyre/, with the CSP and nothing outside the build. */
function serveApp(): void {
  const root = join(here, '..', 'renderer');
  protocol.handle(appScheme, async (req) => {
    const r = appFile(root, req.url);
    if (!r.ok) return new Response(null, { status: r.status });
    try {
      return new Response(await readFile(r.file), { headers: { 'content-type': r.type, 'content-security-policy': desktopContentSecurityPolicy, 'x-content-type-options': 'nosniff' } });
    } catch {
      return new Response(null, { status: 404 });
    }
  });
}

async function createWindow(): Promise<void> {
  // Profile tokens sealed by the OS keychain where it is available; else by the key file in dir.
  const sealer: TokenSealer | undefined = safeStorage.isEncryptionAvailable()
    ? {
        seal: (plain) => `ss1:${safeStorage.encryptString(plain).toString('base64')}`,
        open: (sealed) => {
          if (!sealed.startsWith('ss1:')) return undefined;
          try {
            return safeStorage.decryptString(Buffer.from(sealed.slice(4), 'base64'));
          } catch {
            return undefined;
          }
        },
      }
    : undefined;
  backend = await ConsoleBackend.open({ dir, nodes: Number(args.nodes), port: Number(args['cluster-port']), token, log: (line) => console.error(`gyre console: ${line}`), ...(sealer ? { sealer } : {}) });
  const win = new BrowserWindow({
    width: 1400,
    height: 900,
    title: 'Gyre console',
    webPreferences: { preload: join(here, 'preload.cjs'), contextIsolation: true, nodeIntegration: false, sandbox: true, webSecurity: true },
  });
  const b = backend;
  for (const method of consoleMethods) {
    ipcMain.handle(`console:${method}`, async (e, callArgs: unknown) => {
      if (!isTrustedSender(e.senderFrame?.url)) return { ok: false, error: 'refused: this message does not come from the console page' };
      try {
        return { ok: true, value: await b.call(method as ConsoleMethod, Array.isArray(callArgs) ? callArgs : []) };
      } catch (e) {
        return { ok: false, error: (e as Error).message };
      }
    });
  }
  for (const push of consolePushes) b.on(push, (v) => win.isDestroyed() || win.webContents.send(`console:${push}`, v));
  await win.loadURL(appEntry);
  const attach = typeof args.attach === 'string' ? args.attach : undefined;
  if (attach) await b.attachUrls(attach.split(',').map((u) => (u.includes('://') ? u : `http://${u}`)), token ?? null, 'remote', typeof args.ca === 'string' ? args.ca : null);
  else await b.attach({ kind: 'local' });
}

// Every web contents, whichever creates it: no navigation away, no new windows, no webviews.
app.on('web-contents-created', (_e, contents) => {
  contents.on('will-navigate', (e) => e.preventDefault());
  contents.on('will-redirect', (e) => e.preventDefault());
  contents.on('will-attach-webview', (e) => e.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
});

app.whenReady().then(() => {
  serveApp();
  // Nothing remote: every permission request and check is refused.
  session.defaultSession.setPermissionRequestHandler((_wc, _perm, cb) => cb(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
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
