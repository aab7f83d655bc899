// `gyre console --web`: the console served over HTTP on loopback, for headless machines, remote
// operators (through an SSH tunnel) and the browser tests. It serves the renderer's build and
// bridges the console backend to it over Socket.IO (namespace /console): the same requests and
// pushes the Electron preload carries over IPC.
//
// Locked, as Jupyter is: each launch draws a secret, and the URL printed carries it
// (`/?token=...`). The page opened with it keeps the secret in its tab's sessionStorage (which
// only this origin, port included, can read) and takes it out of the address bar; its Socket.IO
// connection presents it (`auth: { token }`), and a connection without it is refused whatever
// its Origin. Files are served to the URL with the secret and, for reloads, to a cookie it sets
// (HttpOnly, SameSite=Strict). Cookies are shared by every port of a host, so another local
// user's server on 127.0.0.1 could see that cookie in the operator's browser: it opens the
// renderer's files (public code) and nothing else, never the console itself.

import http from 'node:http';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { Server } from 'socket.io';
import type { ConsoleBackend } from './backend.js';
import { contentTypes as types } from './app-protocol.js';
import { type CallResult, type ConsoleMethod, consoleMethods, consolePushes } from '../../node-core/src/wire/console.js';

/** The renderer loads only its own files and talks only to this origin. */
export const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

const notBuilt = `<!doctype html><meta charset="utf-8"><title>Gyre console</title><p>The console's renderer is not built: run <code>npm run build</code>.</p>`;

export interface WebConsole {
  /** The URL to open, with the launch secret. */
  readonly url: string;
  /** The page's origin, without the secret. */
  readonly origin: string;
  /** The launch secret (for tools: Socket.IO `auth: { token }`). */
  readonly secret: string;
  close(): Promise<void>;
}

const cookieName = 'gyre_console';
const locked = `<!doctype html><meta charset="utf-8"><title>Gyre console</title><p>This console is locked: open the URL <code>gyre console --web</code> printed (it carries this launch's secret).</p>`;

/** Constant-time comparison of a presented secret with the launch's (digests: no length leaks). */
function secretCheck(secret: string): (given: unknown) => boolean {
  const want = createHash('sha256').update(secret).digest();
  return (given) => typeof given === 'string' && timingSafeEqual(want, createHash('sha256').update(given).digest());
}

function cookieValue(header: string | undefined): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === cookieName) return v.join('=');
  }
  return undefined;
}

/** The static files of the renderer's build, behind the launch secret (see the header). */
function staticFiles(root: string, secret: string, isSecret: (given: unknown) => boolean): http.RequestListener {
  return (req, res) => {
    const headers = { 'content-security-policy': contentSecurityPolicy, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cache-control': 'no-cache' };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, headers).end();
      return;
    }
    let path: string;
    let given: string | null;
    try {
      const u = new URL(req.url ?? '/', 'http://console.invalid');
      path = decodeURIComponent(u.pathname);
      given = u.searchParams.get('token');
    } catch {
      res.writeHead(400, headers).end();
      return;
    }
    const opened = given !== null && isSecret(given);
    if (opened) res.setHeader('set-cookie', `${cookieName}=${secret}; HttpOnly; SameSite=Strict; Path=/`);
    else if (!isSecret(cookieValue(req.headers.cookie))) {
      res.writeHead(403, { ...headers, 'content-type': types['.html'] }).end(locked);
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
  
  };
}

export async function startConsoleWeb(backend: ConsoleBackend, opts: { port: number; host?: string; staticDir: string }): Promise<WebConsole> {
  const host = opts.host ?? '127.0.0.1';
  const secret = randomBytes(32).toString('base64url');
  const isSecret = secretCheck(secret);
  const server = http.createServer(staticFiles(normalize(opts.staticDir), secret, isSecret));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const address = server.address() as { port: number };
  const origin = `http://${host}:${address.port}`;
  const url = `${origin}/?token=${secret}`;
  const origins = new Set([`http://${host}:${address.port}`, `http://localhost:${address.port}`]);

  const io = new Server(server, {
    serveClient: false,
    maxHttpBufferSize: 4 * 1024 * 1024,
    // WebSockets ignore CORS: without this check any web page could drive the console.
    allowRequest: (req, cb) => cb(null, req.headers.origin === undefined || origins.has(req.headers.origin)),
  });
  const ns = io.of('/console');
  ns.use((socket, next) => {
    const auth = socket.handshake.auth as { token?: unknown } | undefined;
    // The secret itself, never the cookie: the cookie reaches other ports of this host too.
    if (isSecret(auth?.token)) next();
    else next(new Error('locked: this console takes the secret of the URL it printed'));
  });
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
    origin,
    secret,
    close: () =>
      new Promise<void>((resolve) => {
        io.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
