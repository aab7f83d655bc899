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

/** Bytes of a refused body we read and discard so the client sees our answer; past this we answer and hang up. */
const refusedBodyDrainBytesMax = 8 * 1024 * 1024;
/** How long a refused request's body is drained before the answer goes anyway, unless it is arriving fast enough to end soon. */
const refusedBodyWaitMs = 1000;
/** However fast it arrives, a refused body is answered by then. */
const refusedBodyWaitMaxMs = 3000;

/**
 * Answers a refused request once its body has arrived (read and thrown away), or after
 * refusedBodyWaitMs or refusedBodyDrainBytesMax, whichever comes first. Answering at once and
 * closing while the client still sends makes its kernel reset the connection, and a reset
 * can discard our answer before the client reads it (the lingering-close problem).
 */
export function answerAfterBody(req: IncomingMessage, answer: () => void): void {
  let done = false;
  let drained = 0;
  const started = Date.now();
  let firstByteAt = 0;
  const go = () => {
    if (done) return; // end, error, close and the timer may all fire: answer once
    done = true;
    clearTimeout(timer);
    answer();
  };
  // A body still streaming in at a rate that ends it within another wait is let finish (up to
  // refusedBodyWaitMaxMs): answering mid-body closes the connection under a client that is
  // still writing, which then never reads the answer. A trickle is answered at the first wait.
  const announced = Number(req.headers['content-length']);
  const onTimer = () => {
    const now = Date.now();
    const elapsed = now - started;
    const left = announced - drained;
    // The rate since the body's first byte (a client may send its headers well before its body).
    const msToEnd = drained > 0 ? (left * Math.max(1, now - firstByteAt)) / drained : Infinity;
    if (Number.isSafeInteger(announced) && left > 0 && msToEnd <= refusedBodyWaitMs && elapsed + msToEnd <= refusedBodyWaitMaxMs) timer = setTimeout(onTimer, Math.ceil(msToEnd) + 20);
    else go();
  };
  let timer = setTimeout(onTimer, refusedBodyWaitMs);
  req.on('data', (c: Buffer) => {
    if (drained === 0) firstByteAt = Date.now();
    drained += c.byteLength;
    if (drained > refusedBodyDrainBytesMax) {
      go();
      req.socket.destroySoon();
    }
  });
  req.once('end', go);
  req.once('error', go);
  req.once('close', go);
  req.resume();
  if (req.readableEnded) go();
}
