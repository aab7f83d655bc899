// What the Electron shell serves its window from, as plain functions (testable under Node):
// the renderer's build under app://gyre/ instead of file:// (a custom scheme keeps the page off
// the file system's origin, where any local file would be same-origin), the CSP sent with it,
// and the one check every IPC handler makes of its sender.

import { extname, join, normalize, sep } from 'node:path';

export const appScheme = 'app';
export const appOrigin = 'app://gyre';
export const appEntry = `${appOrigin}/index.html`;

/**
 * The window's CSP, sent as a response header with every file. The desktop renderer talks to
 * the backend over IPC only, so it connects nowhere ('self' is the app scheme, where nothing
 * answers a fetch but these files).
 */
export const desktopContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

/** Content types of the renderer's build, for app:// and the web console alike. */
export const contentTypes: Readonly<Record<string, string>> = {
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

/** The file an app:// request names inside `root`, or the status to answer: never a file outside it. */
export function appFile(root: string, requestUrl: string): { ok: true; file: string; type: string } | { ok: false; status: number } {
  let u: URL;
  let path: string;
  try {
    u = new URL(requestUrl);
    path = decodeURIComponent(u.pathname);
  } catch {
    return { ok: false, status: 400 };
  }
  if (`${u.protocol}//${u.host}` !== appOrigin) return { ok: false, status: 404 };
  const base = normalize(root);
  const file = normalize(join(base, path === '/' ? 'index.html' : path));
  if (!file.startsWith(base + sep)) return { ok: false, status: 404 };
  return { ok: true, file, type: contentTypes[extname(file)] ?? 'application/octet-stream' };
}

/** Whether an IPC message comes from our own page (its frame's URL on app://gyre/), not an injected frame or a navigated-away window. */
export function isTrustedSender(frameUrl: string | undefined): boolean {
  if (frameUrl === undefined) return false;
  try {
    const u = new URL(frameUrl);
    return `${u.protocol}//${u.host}` === appOrigin;
  } catch {
    return false;
  }
}
