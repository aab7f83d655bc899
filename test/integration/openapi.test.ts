// /openapi.json against the server that serves it, on real node processes (STYLE 16): the
// document is OpenAPI 3.1 and every $ref resolves; every path, method and status it lists is
// produced by a real request here and the answer (status, headers, body) matches what the
// document says of it; every answer these requests get is one the document lists; and the
// server answers nothing the document does not describe: other methods get the documented 405
// or 404, unknown paths 404 no_route, unparsable requests 400, and /socket.io/ is Socket.IO.
//
// Two clusters: three nodes with a cluster token and an admin token (most statuses), and one
// tokenless node without --allow-faults (what only such a node answers: forbidden_host,
// forbidden, faults_disabled, and 409 for the last member's leave). Last, a fourth node started
// alone joins the three (POST /admin/join) and one of them leaves.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { openApiDocument } from '../../node-core/src/http/openapi.js';
import { type HttpResponse, TestCluster, bearer, header, httpRequest, sleep, uniqueKey } from '../helpers/cluster.js';
import { schemaErrors } from '../helpers/json-schema.js';
import { type DocOperation, type Json, deref, isObject, openApiMethods, openApiProblems, operationsOf } from '../helpers/openapi-check.js';

/** The one origin whose pages the main cluster answers (x-gyre-cors). */
const pageOrigin = 'https://app.example';
const main = new TestCluster({ nodes: 3, adminToken: true, args: ['--partitions', '16', '--cors-origins', pageOrigin] });
const bare = new TestCluster({ nodes: 1, token: false, allowFaults: false, args: ['--partitions', '16', '--n', '1', '--r', '1', '--w', '1'] });

const json = { 'content-type': 'application/json' };
const mib = 1024 * 1024;
/** Over the HTTP parser's 16 KiB header limit. */
const oversizedHeaderBytes = 20 * 1024;
/** Bodies that hold the request budget: each reserves 1 MiB until it is destroyed. */
const holdBodyBytes = mib;
/** More than the node-wide body budget (32 MiB, budget.ts) can take, in holds. */
const holdsMax = 64;
const holdsBeforeProbing = 30;
const probeWaitMs = 50;
const releaseWaitMs = 10_000;
/** Short quorum waits for the requests a partition is to fail. */
const cutOffTimeoutMs = 300;

let doc: Json = {};
before(async () => {
  await Promise.all([main.start(), bare.start()]);
  const res = await httpRequest(main.url('n1'), 'GET', '/openapi.json', { headers: bearer(main.token) });
  assert.equal(res.status, 200, res.body.toString('utf8').slice(0, 300));
  doc = JSON.parse(res.body.toString('utf8')) as Json;
});
after(() => Promise.all([main.stop(), bare.stop()]));

// --- requests, checked against the document ----------------------------------------------

/** What was produced: `operationId status` for operations, the extension's name for the rest. */
const covered = new Set<string>();

function operation(operationId: string): DocOperation {
  const op = operationsOf(doc).find((o) => o.operationId === operationId);
  assert.ok(op, `the document has no operation ${operationId}`);
  return op;
}

/** Every way `res` differs from the documented response `documented` (a Response object or its $ref). */
function responseProblems(documented: unknown, res: HttpResponse): string[] {
  const r = deref(doc, documented);
  if (!isObject(r)) return ['the documented response does not resolve'];
  const problems: string[] = [];
  for (const [name, h] of Object.entries(isObject(r.headers) ? r.headers : {})) {
    const spec = deref(doc, h);
    if (!isObject(spec)) {
      problems.push(`header ${name}: does not resolve`);
      continue;
    }
    const value = header(res, name);
    if (value === undefined) {
      if (spec.required === true) problems.push(`header ${name} is missing`);
    } else problems.push(...schemaErrors(spec.schema, value, doc, `header ${name}`));
  }
  if (!isObject(r.content)) {
    if (res.body.byteLength > 0) problems.push(`a body of ${res.body.byteLength} bytes where none is documented`);
    return problems;
  }
  const type = (header(res, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const media = r.content[type] ?? r.content['*/*'];
  if (!isObject(media)) return [...problems, `Content-Type ${JSON.stringify(type)} is not among ${Object.keys(r.content).join(', ')}`];
  let body: unknown = res.body.toString('utf8');
  if (type === 'application/json') {
    try {
      body = JSON.parse(res.body.toString('utf8'));
    } catch {
      return [...problems, 'the body is not JSON'];
    }
  }
  return [...problems, ...schemaErrors(media.schema, body, doc, 'body')];
}

function show(res: HttpResponse): string {
  return `${res.status} ${JSON.stringify(res.headers)} ${res.body.toString('utf8').slice(0, 400)}`;
}

type Auth = 'cluster' | 'admin' | 'none';

interface CallOptions {
  readonly cluster?: TestCluster;
  readonly node?: string;
  /** Which token to send (default the admin token, which opens everything; a tokenless node ignores it). */
  readonly auth?: Auth;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  readonly timeoutMs?: number;
}

function authHeaders(cluster: TestCluster, auth: Auth): Record<string, string> {
  return auth === 'none' ? {} : bearer(auth === 'admin' ? cluster.adminToken : cluster.token);
}

/**
 * One request to the operation `operationId` at `target` (its path with the parameters filled
 * in, and a query). The answer's status must be one the operation documents, and the answer
 * must match it; a request the node accepted (2xx) must match the documented request body.
 */
async function call(operationId: string, target: string, opts: CallOptions = {}): Promise<HttpResponse> {
  const op = operation(operationId);
  const literal = op.path.replace(/\{[^}]+\}$/, '');
  const path = target.split('?')[0]!;
  assert.ok(op.path.includes('{') ? path.startsWith(literal) : path === op.path, `${target} is not a path of ${op.path}`);
  const cluster = opts.cluster ?? main;
  const res = await httpRequest(cluster.url(opts.node ?? 'n1'), op.method, target, {
    headers: { ...authHeaders(cluster, opts.auth ?? 'admin'), ...(opts.headers ?? {}) },
    ...(opts.body !== undefined ? { body: opts.body } : {}),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
  });
  const responses = op.operation.responses as Json;
  const documented = responses[String(res.status)];
  assert.ok(documented !== undefined, `${op.method} ${target} (${operationId}) answered ${res.status}, which the document does not list for it (${Object.keys(responses).join(', ')}): ${show(res)}`);
  const problems = responseProblems(documented, res);
  assert.deepEqual(problems, [], `${op.method} ${target} ${res.status} does not match the document: ${show(res)}`);
  const requestBody = deref(doc, op.operation.requestBody);
  const requestSchema = isObject(requestBody) && isObject(requestBody.content) && isObject(requestBody.content['application/json']) ? requestBody.content['application/json'].schema : undefined;
  if (res.status < 300 && requestSchema !== undefined && typeof opts.body === 'string') {
    assert.deepEqual(schemaErrors(requestSchema, JSON.parse(opts.body), doc, 'request'), [], `${op.method} ${target}: the node took a body the document's request schema refuses`);
  }
  covered.add(`${operationId} ${res.status}`);
  return res;
}

/** `call`, and the status must be `status` (with the error code `code`, for an error with a body). */
async function expect(status: number, operationId: string, target: string, opts: CallOptions & { code?: string } = {}): Promise<HttpResponse> {
  const res = await call(operationId, target, opts);
  assert.equal(res.status, status, `${operationId} ${target}: ${show(res)}`);
  // A HEAD answer has no body to carry the code.
  if (opts.code !== undefined && operation(operationId).method !== 'HEAD') assert.equal((JSON.parse(res.body.toString('utf8')) as { error?: unknown }).error, opts.code, `${operationId} ${target}`);
  return res;
}

/** An answer to a request the document describes outside its operations (`x-gyre-...`), checked against the response it names. */
function expectUnrouted(extension: string, documented: unknown, status: number, res: HttpResponse, what: string): void {
  assert.equal(res.status, status, `${what}: ${show(res)}`);
  assert.deepEqual(responseProblems(documented, res), [], `${what}: ${show(res)}`);
  covered.add(extension);
}

function contextOf(res: HttpResponse): string {
  const c = header(res, 'x-gyre-context');
  assert.ok(c, `no X-Gyre-Context: ${show(res)}`);
  return c;
}

// --- the document -------------------------------------------------------------------------

describe('GET /openapi.json', () => {
  test('serves an OpenAPI 3.1 document (openapi 3.1.x, info, paths, components, every $ref resolving): the one node-core builds', async () => {
    const res = await expect(200, 'getOpenApi', '/openapi.json');
    const served = JSON.parse(res.body.toString('utf8')) as unknown;
    assert.deepEqual(openApiProblems(served), []);
    assert.deepEqual(served, JSON.parse(JSON.stringify(openApiDocument)));
  });
});

// --- /kv/{key} ------------------------------------------------------------------------------

describe('/kv/{key}: every documented status from a real request', () => {
  test('GET and HEAD: 200 (the value, or JSON with Accept), 300 for siblings, 404 absent and deleted, 400 for a bad r', async () => {
    const key = uniqueKey('oa-read');
    await expect(204, 'putValue', `/kv/${key}`, { body: 'hello', headers: { 'content-type': 'text/plain' } });
    const raw = await expect(200, 'getValue', `/kv/${key}`);
    assert.equal(raw.body.toString('utf8'), 'hello');
    const asJson = await expect(200, 'getValue', `/kv/${key}?r=3`, { headers: { accept: 'application/json' } });
    assert.equal((JSON.parse(asJson.body.toString('utf8')) as { siblings: unknown[] }).siblings.length, 1);
    await expect(200, 'headValue', `/kv/${key}`);

    const split = uniqueKey('oa-siblings');
    await expect(204, 'putValue', `/kv/${split}?w=3`, { body: 'a', headers: { 'content-type': 'text/plain' } });
    await expect(204, 'putValue', `/kv/${split}?w=3`, { body: 'b', headers: { 'content-type': 'text/plain' } });
    const siblings = await expect(300, 'getValue', `/kv/${split}?r=3`);
    assert.equal((JSON.parse(siblings.body.toString('utf8')) as { siblings: unknown[] }).siblings.length, 2);
    await expect(300, 'headValue', `/kv/${split}?r=3`);

    await expect(404, 'getValue', `/kv/${uniqueKey('oa-absent')}`, { code: 'not_found' });
    await expect(404, 'headValue', `/kv/${uniqueKey('oa-absent')}`);
    await expect(204, 'deleteValue', `/kv/${key}?w=3`);
    const deleted = await expect(404, 'getValue', `/kv/${key}?r=3`, { code: 'not_found' });
    contextOf(deleted);
    await expect(400, 'getValue', `/kv/${key}?r=0`, { code: 'bad_r' });
    await expect(400, 'headValue', `/kv/${key}?timeout=0`);
  });

  test('PUT: 204 with and without a context, 400 for a context the cluster did not make, 413 for a value over 1 MiB', async () => {
    const key = uniqueKey('oa-put');
    const first = await expect(204, 'putValue', `/kv/${key}`, { body: 'one' });
    await expect(204, 'putValue', `/kv/${key}?w=3&timeout=5000`, { body: 'two', headers: { 'x-gyre-context': contextOf(first), 'content-type': 'text/x-two' } });
    await expect(400, 'putValue', `/kv/${key}`, { body: 'forged', headers: { 'x-gyre-context': 'not-a-context' }, code: 'bad_context' });
    await expect(413, 'putValue', `/kv/${key}`, { body: Buffer.alloc(mib + 1), code: 'value_too_large' });
  });

  test('DELETE: 204 with and without a context, 404 without one on an absent key, 400 for a bad w', async () => {
    const key = uniqueKey('oa-del');
    const put = await expect(204, 'putValue', `/kv/${key}`, { body: 'x' });
    await expect(204, 'deleteValue', `/kv/${key}`, { headers: { 'x-gyre-context': contextOf(put) } });
    await expect(404, 'deleteValue', `/kv/${uniqueKey('oa-del-absent')}`, { code: 'not_found' });
    await expect(400, 'deleteValue', `/kv/${key}?w=4`, { code: 'bad_w' });
  });

  test('PUT and DELETE: 413 too_many_siblings once a key holds 100 versions and the write covers none of them', async () => {
    const key = uniqueKey('oa-many');
    const v1 = await expect(204, 'putValue', `/kv/${key}?w=3`, { body: 'v1' });
    const stale = contextOf(v1);
    // v2 supersedes v1, so `stale` covers nothing that remains.
    await expect(204, 'putValue', `/kv/${key}?w=3`, { body: 'v2', headers: { 'x-gyre-context': stale } });
    const blindWrites = 99;
    const batch = 10;
    for (let i = 0; i < blindWrites; i += batch) {
      await Promise.all(Array.from({ length: Math.min(batch, blindWrites - i) }, (_, j) => expect(204, 'putValue', `/kv/${key}?w=3`, { body: `blind-${i + j}` })));
    }
    await expect(413, 'putValue', `/kv/${key}`, { body: 'one too many', code: 'too_many_siblings' });
    await expect(413, 'deleteValue', `/kv/${key}`, { headers: { 'x-gyre-context': stale }, code: 'too_many_siblings' });
  });

  test('GET, HEAD, PUT and DELETE: 503 unavailable while n1 is cut off from the other replicas (r=3, w=3)', async () => {
    const key = uniqueKey('oa-cut');
    const put = await expect(204, 'putValue', `/kv/${key}?w=3`, { body: 'before' });
    const injected = await expect(201, 'injectFault', '/admin/faults', { node: 'n2', body: JSON.stringify({ kind: 'partition', from: ['n1'], durationMs: 60_000 }), headers: json });
    const id = (JSON.parse(injected.body.toString('utf8')) as { fault: { id: string } }).fault.id;
    try {
      const q = `timeout=${cutOffTimeoutMs}`;
      await expect(503, 'getValue', `/kv/${key}?r=3&${q}`, { code: 'unavailable' });
      await expect(503, 'headValue', `/kv/${key}?r=3&${q}`);
      await expect(503, 'putValue', `/kv/${key}?w=3&${q}`, { body: 'during', headers: { 'x-gyre-context': contextOf(put) }, code: 'unavailable' });
      await expect(503, 'deleteValue', `/kv/${key}?w=3&${q}`, { headers: { 'x-gyre-context': contextOf(put) }, code: 'unavailable' });
    } finally {
      await expect(200, 'healFault', `/admin/faults/${encodeURIComponent(id)}`, { node: 'n3' });
    }
    await main.waitUntilUp();
  });
});

// --- the other routes ---------------------------------------------------------------------------

describe('/replicas/{key}, /status, /metrics', () => {
  test('GET /replicas: 200 with every replica\'s versions (and their values with values=true), 400 for a key over 1024 bytes', async () => {
    const key = uniqueKey('oa-replicas');
    await expect(204, 'putValue', `/kv/${key}?w=3`, { body: 'replicated' });
    const res = await expect(200, 'getReplicas', `/replicas/${key}?values=true`);
    const body = JSON.parse(res.body.toString('utf8')) as { replicas: { versions: { value?: string }[] }[] };
    assert.equal(body.replicas.length, 3);
    for (const r of body.replicas) assert.equal(Buffer.from(r.versions[0]?.value ?? '', 'base64').toString('utf8'), 'replicated');
    await expect(400, 'getReplicas', `/replicas/${'k'.repeat(1025)}`, { code: 'key_too_long' });
  });

  test('GET /status and GET /metrics: 200', async () => {
    await expect(200, 'getStatus', '/status');
    const metrics = await expect(200, 'getMetrics', '/metrics');
    assert.match(metrics.body.toString('utf8'), /^# HELP /m);
  });
});

describe('GET /keys', () => {
  test('200 with a page, X-Gyre-Cost: scan as its x-gyre-cost says, a cursor that walks on; 400 for a bad limit', async () => {
    const key = uniqueKey('oa-keys');
    await expect(204, 'putValue', `/kv/${key}?w=3`, { body: 'listed' });
    const first = await expect(200, 'listKeys', `/keys?prefix=${encodeURIComponent(key)}&limit=1`);
    const cost = (operation('listKeys').operation['x-gyre-cost'] as Json | undefined)?.cost;
    assert.equal(cost, 'scan');
    assert.equal(header(first, 'x-gyre-cost'), cost);
    covered.add('listKeys x-gyre-cost');
    const page = JSON.parse(first.body.toString('utf8')) as { keys: { key: string }[]; cursor: string | null };
    let keys = page.keys.map((k) => k.key);
    let cursor = page.cursor;
    for (let i = 0; cursor !== null && i < 64; i++) {
      const next = JSON.parse((await expect(200, 'listKeys', `/keys?prefix=${encodeURIComponent(key)}&cursor=${encodeURIComponent(cursor)}`)).body.toString('utf8')) as typeof page;
      keys = [...keys, ...next.keys.map((k) => k.key)];
      cursor = next.cursor;
    }
    assert.deepEqual(keys, [key]);
    await expect(400, 'listKeys', '/keys?limit=0', { code: 'bad_limit' });
    await expect(400, 'listKeys', '/keys?cursor=nope', { code: 'bad_cursor' });
  });
});

describe('/admin/log, /admin/partitions, /admin/repair, /admin/config', () => {
  test('GET /admin/log: 200 with lines, 400 for a bad lines', async () => {
    const res = await expect(200, 'getLog', '/admin/log?lines=3&filter=cluster');
    assert.ok((JSON.parse(res.body.toString('utf8')) as { lines: unknown[] }).lines.length <= 3);
    await expect(400, 'getLog', '/admin/log?lines=0', { code: 'bad_lines' });
  });

  test('GET /admin/partitions and GET /admin/config: 200', async () => {
    const res = await expect(200, 'getPartitions', '/admin/partitions');
    assert.equal((JSON.parse(res.body.toString('utf8')) as { partitions: unknown[] }).partitions.length, 16, 'N=3 of 3: every partition');
    const config = await expect(200, 'getConfig', '/admin/config');
    assert.ok(!config.body.toString('utf8').includes(main.adminToken));
  });

  test('POST /admin/repair: 200 for one partition and for all, 400 for a bad partition, 413 past 1 KiB, 415 without JSON', async () => {
    await expect(200, 'repair', '/admin/repair', { body: JSON.stringify({ partition: 3 }), headers: json });
    const all = await expect(200, 'repair', '/admin/repair', { body: '{}', headers: json });
    assert.equal((JSON.parse(all.body.toString('utf8')) as { partitions: unknown[] }).partitions.length, 16);
    await expect(400, 'repair', '/admin/repair', { body: JSON.stringify({ partition: 16 }), headers: json, code: 'bad_partition' });
    await expect(413, 'repair', '/admin/repair', { body: JSON.stringify({ partition: 1, pad: 'x'.repeat(2048) }), headers: json });
    await expect(415, 'repair', '/admin/repair', { body: 'partition=1', headers: { 'content-type': 'text/plain' } });
  });
});

describe('/admin/*: every documented status', () => {
  test('POST /admin/trace: 200 with the steps, 400 for a body that is no trace request, 413 past 2 MiB, 415 without JSON', async () => {
    const res = await expect(200, 'trace', '/admin/trace', { body: JSON.stringify({ op: 'put', key: uniqueKey('oa-trace'), value: 'traced', w: 3 }), headers: json });
    assert.ok((JSON.parse(res.body.toString('utf8')) as { steps: unknown[] }).steps.length > 0);
    await expect(200, 'trace', '/admin/trace', { body: JSON.stringify({ op: 'get', key: uniqueKey('oa-trace') }), headers: json });
    await expect(400, 'trace', '/admin/trace', { body: '{"op": "scan"}', headers: json, code: 'bad_request' });
    await expect(413, 'trace', '/admin/trace', { body: `"${'x'.repeat(2 * mib)}"`, headers: json });
    await expect(415, 'trace', '/admin/trace', { body: 'op=get', headers: { 'content-type': 'text/plain' } });
  });

  test('/admin/faults: 200 list, 201 inject, 400 bad or unknown node, 413, 415; heal all 200; heal one 200, 404 unknown, 400 malformed', async () => {
    const injected = await expect(201, 'injectFault', '/admin/faults', { body: JSON.stringify({ kind: 'latency', delayMs: 1, jitterMs: 1, durationMs: 30_000 }), headers: json });
    const id = (JSON.parse(injected.body.toString('utf8')) as { fault: { id: string } }).fault.id;
    const listed = await expect(200, 'listFaults', '/admin/faults');
    assert.ok((JSON.parse(listed.body.toString('utf8')) as { faults: { id: string }[] }).faults.some((f) => f.id === id));
    await expect(400, 'injectFault', '/admin/faults', { body: JSON.stringify({ kind: 'flood' }), headers: json, code: 'bad_fault' });
    await expect(400, 'injectFault', '/admin/faults', { body: JSON.stringify({ kind: 'pause', node: 'n9' }), headers: json, code: 'unknown_node' });
    await expect(413, 'injectFault', '/admin/faults', { body: JSON.stringify({ kind: 'latency', delayMs: 1, pad: 'x'.repeat(64 * 1024) }), headers: json });
    await expect(415, 'injectFault', '/admin/faults', { body: 'kind=latency', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    await expect(200, 'healFault', `/admin/faults/${encodeURIComponent(id)}`);
    await expect(404, 'healFault', `/admin/faults/${encodeURIComponent(id)}`, { code: 'no_such_fault' });
    await expect(400, 'healFault', '/admin/faults/%E0%A4%A', { code: 'bad_fault_id' });
    await expect(400, 'healFault', '/admin/faults/', { code: 'bad_fault_id' });
    await expect(201, 'injectFault', '/admin/faults', { body: JSON.stringify({ kind: 'loss', probability: 0, nodes: ['n3'] }), headers: json });
    const healed = await expect(200, 'healFaults', '/admin/faults');
    assert.equal((JSON.parse(healed.body.toString('utf8')) as { healed: unknown[] }).healed.length, 1);
  });

  test('POST /admin/leave: 415 with a body that is not JSON; 409 from the last member of a cluster', async () => {
    await expect(415, 'leave', '/admin/leave', { body: 'now', headers: { 'content-type': 'text/plain' } });
    await expect(409, 'leave', '/admin/leave', { cluster: bare, auth: 'none', code: 'cannot_leave' });
  });

  test('POST /admin/join: 400 for a body that is not {seeds}, 409 from a node that has members, 413 past 8 KiB, 415 without JSON', async () => {
    await expect(400, 'join', '/admin/join', { body: '{"seeds": "127.0.0.1:1"', headers: json, code: 'bad_request' });
    await expect(400, 'join', '/admin/join', { body: JSON.stringify({ seeds: ['127.0.0.1:1'], also: 1 }), headers: json, code: 'bad_request' });
    await expect(400, 'join', '/admin/join', { body: JSON.stringify({ seeds: [] }), headers: json, code: 'bad_seeds' });
    await expect(400, 'join', '/admin/join', { body: JSON.stringify({ seeds: ['http://127.0.0.1:1/'] }), headers: json, code: 'bad_seeds' });
    await expect(409, 'join', '/admin/join', { body: JSON.stringify({ seeds: [`127.0.0.1:${bare.node('n1').port}`] }), headers: json, code: 'cannot_join' });
    await expect(413, 'join', '/admin/join', { body: JSON.stringify({ seeds: ['a'.repeat(9000)] }), headers: json });
    await expect(415, 'join', '/admin/join', { body: 'seeds=127.0.0.1:1', headers: { 'content-type': 'text/plain' } });
  });

  test('POST /admin/faults: 403 faults_disabled on a node started without --allow-faults', async () => {
    await expect(403, 'injectFault', '/admin/faults', { cluster: bare, auth: 'none', body: JSON.stringify({ kind: 'latency', delayMs: 1 }), headers: json, code: 'faults_disabled' });
  });
});

// --- the guards, on every operation ---------------------------------------------------------------

const sampleKey = 'openapi-sample';
/** One harmless request per operation, for the refusals every operation can get. */
const samples: Readonly<Record<string, { readonly target: string; readonly body?: string; readonly headers?: Readonly<Record<string, string>> }>> = {
  getValue: { target: `/kv/${sampleKey}` },
  headValue: { target: `/kv/${sampleKey}` },
  putValue: { target: `/kv/${sampleKey}`, body: 'sample', headers: { 'content-type': 'text/plain' } },
  deleteValue: { target: `/kv/${sampleKey}` },
  getReplicas: { target: `/replicas/${sampleKey}` },
  getStatus: { target: '/status' },
  getMetrics: { target: '/metrics' },
  getOpenApi: { target: '/openapi.json' },
  leave: { target: '/admin/leave' },
  join: { target: '/admin/join', body: JSON.stringify({ seeds: ['127.0.0.1:1'] }), headers: json },
  trace: { target: '/admin/trace', body: JSON.stringify({ op: 'get', key: sampleKey }), headers: json },
  listFaults: { target: '/admin/faults' },
  injectFault: { target: '/admin/faults', body: JSON.stringify({ kind: 'latency', delayMs: 1, durationMs: 1000 }), headers: json },
  healFaults: { target: '/admin/faults' },
  healFault: { target: '/admin/faults/openapi-none' },
  listKeys: { target: '/keys?limit=1' },
  getLog: { target: '/admin/log?lines=1' },
  getPartitions: { target: '/admin/partitions' },
  repair: { target: '/admin/repair', body: JSON.stringify({ partition: 0 }), headers: json },
  getConfig: { target: '/admin/config' },
};

function sampleOf(op: DocOperation): (typeof samples)[string] {
  const s = samples[op.operationId];
  assert.ok(s, `no sample request for ${op.operationId}: add one, so the guards are checked on it`);
  return s;
}

const isAdmin = (op: DocOperation) => op.path.startsWith('/admin/');

/** A raw connection that sends a PUT's headers announcing a 1 MiB body, and no body: the node holds its budget for it. */
function openHold(port: number, token: string, i: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`PUT /kv/openapi-hold-${i} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nContent-Type: text/plain\r\nContent-Length: ${holdBodyBytes}\r\n\r\n`);
      resolve(socket);
    });
    socket.on('error', reject);
    socket.resume(); // a hold the node sheds gets its 503 here; nobody reads it
  });
}

/** Whether the node sheds a request with a body now. */
async function shedding(cluster: TestCluster, id: string): Promise<boolean> {
  const res = await httpRequest(cluster.url(id), 'GET', '/openapi.json', { headers: bearer(cluster.adminToken), body: 'x' });
  return res.status === 503;
}

describe('the guards, on every operation', () => {
  test('401 for every operation asked without a token', async () => {
    for (const op of operationsOf(doc)) {
      const s = sampleOf(op);
      await expect(401, op.operationId, s.target, { auth: 'none', ...s, code: 'unauthorized' });
    }
  });

  test('403 admin_required for every /admin/ operation asked with the cluster token where an admin token is set', async () => {
    for (const op of operationsOf(doc).filter(isAdmin)) {
      const s = sampleOf(op);
      await expect(403, op.operationId, s.target, { auth: 'cluster', ...s, code: 'admin_required' });
    }
  });

  test('403 forbidden_host for every operation a tokenless node is asked by a name that is not loopback', async () => {
    for (const op of operationsOf(doc)) {
      const s = sampleOf(op);
      await expect(403, op.operationId, s.target, { cluster: bare, auth: 'none', ...s, headers: { ...(s.headers ?? {}), host: 'evil.example' }, code: 'forbidden_host' });
    }
  });

  test('403 forbidden for every /admin/ operation a browser (Origin) asks of a tokenless node', async () => {
    for (const op of operationsOf(doc).filter(isAdmin)) {
      const s = sampleOf(op);
      await expect(403, op.operationId, s.target, { cluster: bare, auth: 'none', ...s, headers: { ...(s.headers ?? {}), origin: 'http://evil.example' }, code: 'forbidden' });
    }
  });

  test('431 for every operation asked with headers over the parser\'s limit', async () => {
    for (const op of operationsOf(doc)) {
      const s = sampleOf(op);
      await expect(431, op.operationId, s.target, { ...s, headers: { ...(s.headers ?? {}), 'x-filler': 'f'.repeat(oversizedHeaderBytes) }, code: 'headers_too_large' });
    }
  });

  test('503 overloaded, with Retry-After, for every operation that documents it while the body budget is held; the others (status, metrics) still answer', async () => {
    const port = main.node('n1').port;
    const holds: net.Socket[] = [];
    try {
      let full = false;
      for (let i = 0; i < holdsMax && !full; i++) {
        holds.push(await openHold(port, main.token, i));
        if (i + 1 >= holdsBeforeProbing) {
          await sleep(probeWaitMs);
          full = await shedding(main, 'n1');
        }
      }
      assert.ok(full, `${holdsMax} held MiB did not fill the body budget`);
      for (const op of operationsOf(doc)) {
        const s = sampleOf(op);
        // A body of one byte: the budget is full, so anything with a body is shed.
        const res = await call(op.operationId, s.target, { ...s, body: s.body ?? 'x' });
        const documents503 = '503' in (op.operation.responses as Json);
        if (documents503) assert.equal(res.status, 503, `${op.operationId} under load: ${show(res)}`);
        else assert.equal(res.status, 200, `${op.operationId} is outside the budget: ${show(res)}`);
      }
    } finally {
      for (const s of holds) s.destroy();
    }
    const deadline = Date.now() + releaseWaitMs;
    while (await shedding(main, 'n1')) {
      assert.ok(Date.now() < deadline, 'the budget was not released after the holds hung up');
      await sleep(probeWaitMs);
    }
  });
});

// --- nothing undocumented -----------------------------------------------------------------------

/** A concrete path for a template. */
const concrete = (template: string) => template.replace(/\{[^}]+\}/g, 'openapi-sample');
const unlistedMethods = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE'];

/** One request, sent byte for byte on a fresh connection; the answer as the node wrote it. */
function rawExchange(port: number, bytes: string): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      const head = all.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0), headers, body: all.subarray(end + 4) });
    });
  });
}

describe('the server serves nothing the document does not describe', () => {
  test('on a path with x-gyre-other-methods, every other method answers 405 with Allow naming the documented methods; on the others, 404 no_route', async () => {
    const paths = doc.paths as Record<string, Json>;
    for (const [template, item] of Object.entries(paths)) {
      const documented = openApiMethods.filter((m) => isObject(item[m])).map((m) => m.toUpperCase());
      const other = item['x-gyre-other-methods'];
      for (const method of unlistedMethods.filter((m) => !documented.includes(m))) {
        const res = await httpRequest(main.url('n1'), method, concrete(template), { headers: bearer(main.adminToken) });
        const what = `${method} ${template}`;
        if (isObject(other)) {
          expectUnrouted(`${template} x-gyre-other-methods`, method === 'HEAD' ? { description: 'no body' } : other.response, 405, res, what);
          assert.deepEqual((header(res, 'allow') ?? '').split(', ').sort(), [...documented].sort(), `${what}: Allow`);
        } else expectUnrouted('x-gyre-no-route', method === 'HEAD' ? { description: 'no body' } : (doc['x-gyre-no-route'] as Json).response, 404, res, what);
      }
    }
  });

  test('paths the document does not list answer 404 no_route', async () => {
    const cases = ['GET /', 'GET /nope', 'GET /kv', 'GET /kvx/a', 'GET /replicas', 'GET /status/', 'GET /openapi.yaml', 'GET /admin/nope', 'POST /admin/leave/now', 'GET /socket.io', 'GET /metrics.json'];
    for (const c of cases) {
      const [method, path] = c.split(' ') as [string, string];
      const res = await httpRequest(main.url('n1'), method, path, { headers: bearer(main.adminToken) });
      expectUnrouted('x-gyre-no-route', (doc['x-gyre-no-route'] as Json).response, 404, res, c);
    }
  });

  test('a request the HTTP parser cannot read answers 400 bad_request as x-gyre-unparsable says', async () => {
    const res = await rawExchange(main.node('n1').port, 'GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header: x\r\n\r\n');
    expectUnrouted('x-gyre-unparsable', (doc['x-gyre-unparsable'] as Json).response, 400, res, 'a header name with a space');
  });

  test('x-gyre-cors: a page of the origin named gets the CORS headers the document lists and its preflight, before the token; others and /admin/* get none', async () => {
    const cors = doc['x-gyre-cors'] as Json;
    const key = uniqueKey('cors');
    const preflight = await httpRequest(main.url('n1'), 'OPTIONS', `/kv/${key}`, { headers: { origin: pageOrigin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization, x-gyre-context' } });
    assert.equal(preflight.status, 204, show(preflight));
    assert.equal(header(preflight, 'access-control-allow-origin'), pageOrigin);
    assert.equal(header(preflight, 'access-control-allow-methods'), cors.allowMethods);
    assert.equal(header(preflight, 'access-control-allow-headers'), cors.allowHeaders);
    const put = await httpRequest(main.url('n1'), 'PUT', `/kv/${key}`, { headers: { origin: pageOrigin, ...bearer(main.token) }, body: Buffer.from('v') });
    assert.equal(put.status, 204, show(put));
    assert.equal(header(put, 'access-control-allow-origin'), pageOrigin);
    assert.equal(header(put, 'access-control-expose-headers'), cors.exposeHeaders);
    const refused = await httpRequest(main.url('n1'), 'GET', `/kv/${key}`, { headers: { origin: pageOrigin } });
    assert.equal(refused.status, 401, 'CORS opens nothing the token does not');
    assert.equal(header(refused, 'access-control-allow-origin'), pageOrigin, 'the page may read why it was refused');
    for (const [origin, path] of [['https://evil.example', `/kv/${key}`], [pageOrigin, '/admin/faults']] as const) {
      const other = await httpRequest(main.url('n1'), 'OPTIONS', path, { headers: { origin, 'access-control-request-method': 'GET' } });
      assert.notEqual(other.status, 204, `${origin} ${path}`);
      assert.equal(header(other, 'access-control-allow-origin'), undefined, `${origin} ${path}`);
    }
    covered.add('x-gyre-cors');
  });

  test('x-gyre-socket-io: the path it names is Socket.IO (an Engine.IO 4 handshake answers)', async () => {
    const io = doc['x-gyre-socket-io'] as Json;
    const res = await httpRequest(main.url('n1'), 'GET', `${String(io.path)}?EIO=4&transport=polling`, {});
    assert.equal(res.status, 200, show(res));
    assert.match(res.body.toString('utf8'), /^0\{"sid":"[^"]+"/, 'an Engine.IO open packet');
    covered.add('x-gyre-socket-io');
  });
});

// --- last: a node leaves ------------------------------------------------------------------------

describe('POST /admin/leave (last: the node goes away)', () => {
  test('POST /admin/join on a node started alone: 503 when no seed answers, 400 for its own address, then 202 and it joins', async () => {
    const id = await main.addNode([]);
    const self = `127.0.0.1:${main.node(id).port}`;
    await main.waitForStatus([id], [id], 'up');
    await expect(503, 'join', '/admin/join', { node: id, body: JSON.stringify({ seeds: ['127.0.0.1:1'] }), headers: json, code: 'seeds_unreachable' });
    await expect(400, 'join', '/admin/join', { node: id, body: JSON.stringify({ seeds: [self] }), headers: json, code: 'bad_seeds' });
    await expect(202, 'join', '/admin/join', { node: id, body: JSON.stringify({ seeds: [`127.0.0.1:${main.node('n1').port}`] }), headers: json });
    await main.waitForStatus(['n1', id], ['n1', 'n2', 'n3', id], 'up');
  });

  test('202 when a member of three leaves', async () => {
    main.node('n3').expectedExit = true;
    await expect(202, 'leave', '/admin/leave', { node: 'n3' });
  });
});

test('every path, method and status in the document, and every x-gyre- request it describes, was produced by a real request above', () => {
  const missing: string[] = [];
  for (const op of operationsOf(doc)) {
    for (const status of Object.keys(op.operation.responses as Json)) {
      // `default` is the 500 of an unexpected failure: no correct request produces it.
      if (status !== 'default' && !covered.has(`${op.operationId} ${status}`)) missing.push(`${op.method} ${op.path} ${status} (${op.operationId})`);
    }
  }
  for (const [template, item] of Object.entries(doc.paths as Record<string, Json>)) if (item['x-gyre-other-methods'] !== undefined && !covered.has(`${template} x-gyre-other-methods`)) missing.push(`${template} x-gyre-other-methods`);
  for (const ext of Object.keys(doc).filter((k) => k.startsWith('x-gyre-'))) if (!covered.has(ext)) missing.push(ext);
  for (const op of operationsOf(doc)) if (op.operation['x-gyre-cost'] !== undefined && !covered.has(`${op.operationId} x-gyre-cost`)) missing.push(`${op.method} ${op.path} x-gyre-cost`);
  assert.deepEqual(missing, []);
});
