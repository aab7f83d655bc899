// A get, put or delete with tracing on (issue 5), shared by Socket.IO (`trace`) and HTTP
// (`POST /admin/trace`): the request is validated like any client request, coordinated here,
// and answered with what happened step by step, once the steps that continue after the answer
// (the remaining replies, read repair, the remaining acks) have finished or timed out.

import { encodeContext } from '../core/context.js';
import { contentTypeBytesMax, keyBytesMax, valueBytesMax } from '../core/codec.js';
import { sleep } from '../core/env.js';
import { Trace } from '../core/trace.js';
import { emptyClock, type VClock } from '../core/vclock.js';
import type { GyreNode } from '../node/node.js';
import type { OpKind, TraceRequest, TraceResult } from '../wire/control.js';

export type TraceOutcome = { readonly ok: true; readonly value: TraceResult } | { readonly ok: false; readonly error: string; readonly message: string };

const ops: readonly OpKind[] = ['get', 'put', 'delete'];
/** After the answer, how long the trace waits at most for the steps still running. */
const followMaxMs = 10_000;

function bytes(raw: unknown, encoding: unknown, what: string, max: number, min: number): Buffer | string {
  if (typeof raw !== 'string') return `${what} must be a string`;
  if (encoding !== undefined && encoding !== 'utf8' && encoding !== 'base64') return `${what}Encoding must be utf8 or base64`;
  const b = Buffer.from(raw, encoding === 'base64' ? 'base64' : 'utf8');
  if (b.byteLength < min || b.byteLength > max) return `${what} must be ${min} to ${max} bytes`;
  return b;
}

function quorum(raw: unknown, what: string, n: number, fallback: number): number | string {
  if (raw === undefined || raw === null) return fallback;
  if (!Number.isSafeInteger(raw) || (raw as number) < 1 || (raw as number) > n) return `${what} must be an integer in 1..${n}`;
  return raw as number;
}

export async function runTrace(node: GyreNode, raw: unknown): Promise<TraceOutcome> {
  const bad = (message: string): TraceOutcome => ({ ok: false, error: 'bad_request', message });
  if (typeof raw !== 'object' || raw === null) return bad('a trace request is an object {op, key, ...}');
  const req = raw as Partial<TraceRequest>;
  if (!ops.includes(req.op as OpKind)) return bad(`op must be one of ${ops.join(', ')}`);
  const op = req.op as OpKind;
  const key = bytes(req.key, req.keyEncoding, 'key', keyBytesMax, 1);
  if (typeof key === 'string') return bad(key);
  const cfg = node.config;
  const r = quorum(req.r, 'r', cfg.n, cfg.r);
  if (typeof r === 'string') return bad(r);
  const w = quorum(req.w, 'w', cfg.n, cfg.w);
  if (typeof w === 'string') return bad(w);
  const timeoutMs = req.timeoutMs ?? cfg.requestTimeoutMs;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60_000) return bad('timeoutMs must be an integer in 1..60000');
  const secret = node.contextKeys();
  let context: VClock | undefined;
  if (req.context !== undefined && req.context !== null && req.context !== '') {
    if (typeof req.context !== 'string') return bad('context must be a string');
    const d = await node.checkContext(req.context, key);
    if (!d.ok) return { ok: false, error: 'notJoined' in d ? 'unavailable' : 'bad_context', message: d.reason };
    context = d.clock;
  }
  let value: Uint8Array = new Uint8Array(0);
  if (op === 'put') {
    const v = bytes(req.value ?? '', req.valueEncoding, 'value', valueBytesMax, 0);
    if (typeof v === 'string') return bad(v);
    value = v;
  }
  const contentType = req.contentType ?? (op === 'put' ? 'application/octet-stream' : '');
  if (typeof contentType !== 'string' || Buffer.byteLength(contentType) > contentTypeBytesMax) return bad(`contentType must be a string of at most ${contentTypeBytesMax} bytes`);

  const env = node.env;
  const trace = new Trace(env);
  const started = env.now();
  const finish = async (partial: Omit<TraceResult, 'steps' | 'durationMs' | 'coordinator'>): Promise<TraceOutcome> => {
    const durationMs = env.now() - started;
    await Promise.race([trace.settled(), sleep(env, followMaxMs)]);
    return { ok: true, value: { ...partial, coordinator: cfg.id, durationMs, steps: trace.events.map((e) => ({ ...e })) } };
  };
  const id = (d: { actor: string; counter: number }) => `${d.actor}:${d.counter}`;

  if (op === 'get' || (op === 'delete' && context === undefined)) {
    if (op === 'delete') trace.add('note', cfg.id, 'no context given: the key is read first, and what the read returns is deleted');
    const got = await node.coordinator.get(key, r, timeoutMs, trace);
    if (!('versions' in got)) return finish({ status: got.status, error: { error: got.error, message: got.message } });
    if (op === 'get') {
      return finish({
        status: got.status,
        ...(got.context ? { context: encodeContext(got.context, key, secret) } : {}),
        siblings: got.versions.map((v) => ({ version: id(v.dot), value: Buffer.from(v.value).toString('base64'), contentType: v.contentType, deleted: v.deleted })),
      });
    }
    if (got.versions.length === 0) return finish({ status: 404, error: { error: 'not_found', message: 'no such key' } });
    context = got.context;
  }
  const out = await node.coordinator.put({ key, payload: { deleted: op === 'delete', value, contentType }, context: context ?? emptyClock, w, timeoutMs, trace });
  if (out.status !== 204) return finish({ status: out.status, error: { error: out.error, message: out.message }, ...(out.dot ? { version: id(out.dot) } : {}) });
  return finish({ status: 204, context: encodeContext(out.clock, key, secret), ...(out.dot ? { version: id(out.dot) } : {}) });
}
