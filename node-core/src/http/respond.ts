// How the HTTP API answers and reads: the JSON error shape of CONTRACT.md, request bodies read
// under a byte limit, and refused requests answered so the client actually sees the answer.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Failure } from '../core/coordinator.js';
import type { ErrorDocument } from '../wire/api.js';

/** A refusal a route throws; the server answers it with `status` and the contract's `{error, message}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A version's id as the API shows it: its event, `actor:counter`. */
export function versionId(dot: { readonly actor: string; readonly counter: number }): string {
  return `${dot.actor}:${dot.counter}`;
}

export function send(res: ServerResponse, status: number, body: string | Buffer | undefined, headers: Record<string, string> = {}): void {
  // A guard or route may already have answered before a later step failed: the first answer stands.
  if (res.headersSent) return;
  res.writeHead(status, { ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers });
  res.end(body);
}

/** A document of the API (wire/api.ts) with the fields a node adds beyond it. */
export type Documented<T> = T & Readonly<Record<string, unknown>>;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, JSON.stringify(body), { 'content-type': 'application/json', ...headers });
}

export function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  const body: ErrorDocument = { error: code, message };
  sendJson(res, status, body, headers);
}

export function failureResponse(res: ServerResponse, f: Failure): void {
  // A write that may still be applied says which version it would be.
  sendError(res, f.status, f.error, f.message, f.dot ? { 'X-Gyre-Version': versionId(f.dot) } : {});
}

/** Reads the whole body, refusing with 413 as soon as it is known to pass `bytesMax`. */
export function readBody(req: IncomingMessage, bytesMax: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > bytesMax) {
      reject(new HttpError(413, 'value_too_large', `values are at most ${bytesMax} bytes; this one is ${declared}`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return; // already refused: keep nothing more of it
      size += c.byteLength;
      if (size > bytesMax) {
        failed = true;
        reject(new HttpError(413, 'value_too_large', `values are at most ${bytesMax} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      if (!failed) reject(e);
    });
  });
}

/** Bytes of a refused body read and thrown away after the answer; past this the connection is cut. */
const refusedBodyDrainBytesMax = 8 * 1024 * 1024;
/** How long the rest of a refused body may take to arrive after the answer; then the connection is cut. */
const refusedBodyLingerMs = 10_000;

/** Connections closing after a refused request: whatever else arrives on them is not served. */
const lingering = new WeakSet<object>();

/** Whether `socket` carried a refused request and is closing (api.ts drops any later request on it). */
export function isLingering(socket: object): boolean {
  return lingering.has(socket);
}

/**
 * Answers a refused request at once with its error and `Connection: close`,
 * then reads and throws away the rest of its body before the connection closes: a lingering
 * close, as nginx and Apache do. Node closes such an answer with socket.destroySoon(), which,
 * with body bytes still unread, makes the kernel reset the connection, and a reset can discard
 * the answer before the client reads it (the client sees EPIPE or ECONNRESET instead of our 503
 * or 413). So on this socket destroySoon only ends our side; the connection closes when the
 * client, having read the answer, closes its side, or is cut once the body passes
 * refusedBodyDrainBytesMax or the client holds it past refusedBodyLingerMs. Nothing of the body
 * is kept, and nothing sent after it is served.
 */
export function answerAndLinger(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  const socket = req.socket as IncomingMessage['socket'] & { destroySoon?: () => void };
  lingering.add(socket);
  let drained = 0;
  const cut = () => socket.destroy();
  const timer = setTimeout(cut, refusedBodyLingerMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.destroySoon = () => {
    if (!socket.writableEnded) socket.end();
  };
  req.on('data', (c: Buffer) => {
    drained += c.byteLength;
    if (drained > refusedBodyDrainBytesMax) cut();
  });
  req.once('error', cut);
  req.resume();
  sendError(res, status, code, message, { ...headers, connection: 'close' });
}
