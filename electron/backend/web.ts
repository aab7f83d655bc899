// `gyre console --web`: the console served over HTTP on loopback, for headless machines, remote
// operators (through an SSH tunnel) and the browser tests. It serves the renderer's build and
// bridges the console backend to it over Socket.IO (namespace /console): the same requests and
// pushes the Electron preload carries over IPC.

import http from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { Server } from 'socket.io';
import type { ConsoleBackend } from './backend.js';
import { type CallResult, type ConsoleMethod, consoleMethods, consolePushes } from '../../node-core/src/wire/console.js';

/** The renderer loads only its own files and talks only to this origin. */
export const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

const notBuilt = `<!doctype html><meta charset="utf-8"><title>Gyre console</title><p>The console's renderer is not built: run <code>npm run build</code>.</p>`;

export interface WebConsole {
  readonly url: string;
  close(): Promise<void>;
}

export async function startConsoleWeb(backend: ConsoleBackend, opts: { port: number; host?: string; staticDir: string }): Promise<WebConsole> {
  const host = opts.host ?? '127.0.0.1';
  const root = normalize(opts.staticDir);
  const server = http.createServer((req, res) => {
    const headers = { 'content-security-policy': contentSecurityPolicy, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cache-control': 'no-cache' };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, headers).end();
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://console.invalid').pathname);
    } catch {
      res.writeHead(400, headers).end();
      return;
    }
    const file = normalize(join(root, path === '/' ? 'index.html' : path));
    // Never outside the build folder.
    if (file !== root && !file.startsWith(root + sep)) {
      res.writeHead(404, headers).end();
      return;
    }
    if (!existsSync(file) || !statSync(file).isFile()) {
      if (path === '/' || path === '/index.html') {
        res.writeHead(200, { ...headers, 'content-type': types['.html'] }).end(notBuilt);
        return;
      }
      res.writeHead(404, headers).end();
      return;
    }
    let body: Buffer;
    try {
      body = readFileSync(file);
    } catch {
      res.writeHead(404, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const address = server.address() as { port: number };
  const url = `http://${host}:${address.port}/`;
  const origins = new Set([`http://${host}:${address.port}`, `http://localhost:${address.port}`]);

  const io = new Server(server, {
    serveClient: false,
    maxHttpBufferSize: 4 * 1024 * 1024,
    // WebSockets ignore CORS: without this check any web page could drive the console.
    allowRequest: (req, cb) => cb(null, req.headers.origin === undefined || origins.has(req.headers.origin)),
  });
  const ns = io.of('/console');
  ns.on('connection', (socket) => {
    const offs = consolePushes.map((push) => backend.on(push, (v) => socket.emit(push, v)));
    socket.on('disconnect', () => offs.forEach((off) => off()));
    socket.on('call', (req: unknown, ack: unknown) => {
      if (typeof ack !== 'function') return;
      const reply = ack as (r: CallResult<unknown>) => void;
      const r = req as { method?: unknown; args?: unknown } | null;
      if (typeof r?.method !== 'string' || !(consoleMethods as readonly string[]).includes(r.method) || !Array.isArray(r.args) || r.args.length > 8) {
        reply({ ok: false, error: 'a call is {method, args} with one of the console methods' });
        return;
      }
      backend.call(r.method as ConsoleMethod, r.args).then(
        (value) => reply({ ok: true, value }),
        (e: unknown) => reply({ ok: false, error: (e as Error).message ?? String(e) }),
      );
    });
  });

  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        io.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
