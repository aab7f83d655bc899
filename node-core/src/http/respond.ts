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

/**
 * Answers a refused request at once, then reads and throws away the rest of its body before
 * closing the connection: a lingering close, as nginx and Apache do. Closing while the client
 * still sends would make our kernel reset the connection, and a reset can discard the answer
 * before the client reads it (the client sees EPIPE or ECONNRESET instead of our 503 or 413).
 * So the answer goes out as keep-alive (Node would otherwise close the socket under the unread
 * body), and the connection is ended once the body is in; a body past refusedBodyDrainBytesMax
 * or still arriving after refusedBodyLingerMs is cut off: only a client that ignores the answer
 * meets a reset. Nothing of the body is kept.
 */
export function answerAfterBody(req: IncomingMessage, res: ServerResponse, answer: () => void): void {
  const socket = req.socket;
  let drained = 0;
  const cut = () => {
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(cut, refusedBodyLingerMs);
  timer.unref();
  const finish = () => {
    clearTimeout(timer);
    // Our FIN after the answer: the client reads it, then end of stream. Nothing is left unread.
    if (!socket.destroyed) socket.end();
  };
  req.on('data', (c: Buffer) => {
    drained += c.byteLength;
    if (drained > refusedBodyDrainBytesMax) cut();
  });
  req.once('end', finish);
  req.once('error', cut);
  req.resume();
  res.shouldKeepAlive = true;
  answer();
  if (req.readableEnded) finish();
}
