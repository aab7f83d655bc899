// `gyre console`: the console program's entry, which the gyre CLI (node-core/src/cli/gyre.ts)
// loads by path. Where Electron and a display exist it opens the desktop window (main.ts hosts
// the backend); otherwise, or with --web, it serves the same backend and renderer on a local
// URL from plain Node. Either way it launches a local cluster or attaches to a running one.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConsoleBackend } from './backend/backend.js';
import { startConsoleWeb } from './backend/web.js';

export interface ConsoleCommandOptions {
  /** Serve on the web even where a window could open. */
  readonly web?: boolean;
  /** Port of the web console (0: any free port). */
  readonly port: number;
  /** Node URLs to attach to, comma-separated, instead of launching a local cluster. */
  readonly attach?: string;
  /** Data folder (absolute): the local cluster and the console's settings. */
  readonly dir: string;
  readonly nodes: number;
  readonly clusterPort: number;
  readonly token: string | undefined;
  /** With --attach https://...: the CA file the nodes' certificates are checked against. */
  readonly ca?: string | undefined;
}

/** An Electron main process that exits with an error this soon failed to start. */
const electronStartupMs = 20_000;

const here = dirname(fileURLToPath(import.meta.url));

export async function runConsole(o: ConsoleCommandOptions): Promise<void> {
  const electron = o.web ? undefined : electronBinary();
  if (electron && (await runDesktop(electron, o))) return;
  await serveOnWeb(o, electron !== undefined);
}

/** The desktop app; false when the window could not start (then the web console serves instead). */
async function runDesktop(electron: string, o: ConsoleCommandOptions): Promise<boolean> {
  // Electron's main process hosts the backend itself. If it cannot start (native modules built
  // for this Node rather than for Electron: see `npm run desktop`), the console is served on the web.
  const args = [join(here, 'main.js'), '--dir', o.dir, '--nodes', String(o.nodes), '--cluster-port', String(o.clusterPort), ...(o.attach ? ['--attach', o.attach] : []), ...(o.ca ? ['--ca', o.ca] : [])];
  const child = spawn(electron, args, { stdio: 'inherit', env: { ...process.env, ...(o.token ? { GYRE_TOKEN: o.token } : {}) } });
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const started = Date.now();
  const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  process.off('SIGINT', forward);
  process.off('SIGTERM', forward);
  if (code === 0 || Date.now() - started > electronStartupMs) process.exit(code ?? 0);
  console.error(`gyre console: the desktop window could not start (exit ${code}); serving the console on the web instead`);
  return false;
}

async function serveOnWeb(o: ConsoleCommandOptions, triedDesktop: boolean): Promise<void> {
  const backend = await ConsoleBackend.open({ dir: o.dir, nodes: o.nodes, port: o.clusterPort, token: o.token, log: (line) => console.error(`gyre console: ${line}`) });
  let stopping = false;
  const serving: { web?: { close(): Promise<void> } } = {};
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.error('gyre console: stopping');
    await serving.web?.close();
    await backend.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  if (o.attach) {
    const urls = o.attach.split(',').map((u) => u.trim()).filter(Boolean).map((u) => (u.includes('://') ? u : `http://${u}`));
    await backend.attachUrls(urls, o.token ?? null, 'remote', o.ca ?? null);
  } else {
    console.error(`gyre console: starting the local cluster in ${o.dir}`);
    await backend.attach({ kind: 'local' });
  }
  const web = await startConsoleWeb(backend, { port: o.port, staticDir: join(here, '..', 'renderer') });
  serving.web = web;
  if (!o.web && !triedDesktop) console.error('gyre console: no Electron binary or no display here; serving the console on the web instead');
  console.log(web.url);
}

/** The Electron binary, when it is installed and a display can show a window. */
function electronBinary(): string | undefined {
  const display = process.platform === 'darwin' || process.platform === 'win32' || Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
  if (!display) return undefined;
  try {
    // The electron package's main export is the path of its binary (it throws when the download never happened).
    const path = createRequire(import.meta.url)('electron') as unknown;
    return typeof path === 'string' && existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}
