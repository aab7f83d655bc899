// The API's documents as a client receives them: parsed and checked field by field, once. A
// client trusts a server no more than a server trusts a client.

import type { ErrorDocument, ReplicasDocument, SiblingsDocument, StatusDocument } from '../wire/api.js';
import { AuthError, GyreError, UnavailableError } from './errors.js';
import { type RawResponse, header } from './transport.js';

export const contextHeader = 'x-gyre-context';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function jsonOf(res: RawResponse): unknown {
  try {
    return JSON.parse(res.body.toString('utf8')) as unknown;
  } catch {
    throw new GyreError(res.status, 'bad_response', `expected JSON, got ${JSON.stringify(res.body.subarray(0, 200).toString('utf8'))}`);
  }
}

export function requiredContext(res: RawResponse): string {
  const c = header(res, contextHeader);
  if (!c) throw new GyreError(res.status, 'bad_response', 'a write was acknowledged without the new version\'s context');
  return c;
}

/** The error a non-success answer carries (the API's `{error, message}`, or what came instead). */
export function errorOf(res: RawResponse, url = ''): GyreError {
  let doc: ErrorDocument;
  try {
    doc = parseErrorDocument(res);
  } catch {
    doc = { error: 'bad_response', message: res.body.subarray(0, 300).toString('utf8') };
  }
  if (res.status === 401 || res.status === 403) return new AuthError(res.status, doc.error, doc.message);
  if (res.status === 503) return new UnavailableError(doc.message, [{ url, status: 503, code: doc.error, message: doc.message }]);
  return new GyreError(res.status, doc.error, doc.message);
}

export function parseErrorDocument(res: RawResponse): ErrorDocument {
  const b = jsonOf(res);
  if (!isRecord(b) || typeof b.error !== 'string' || b.error.length === 0 || typeof b.message !== 'string') throw new GyreError(res.status, 'bad_response', `not an error document: ${res.body.subarray(0, 300).toString('utf8')}`);
  return { error: b.error, message: b.message };
}

/** The `{context, siblings}` form, checked field by field. */
export function parseSiblingsDocument(res: RawResponse): SiblingsDocument {
  const b = jsonOf(res);
  if (!isRecord(b) || typeof b.context !== 'string' || !Array.isArray(b.siblings)) throw new GyreError(res.status, 'bad_response', `not a siblings document: ${res.body.subarray(0, 300).toString('utf8')}`);
  const siblings = (b.siblings as unknown[]).map((s) => {
    if (!isRecord(s) || typeof s.value !== 'string' || typeof s.contentType !== 'string' || typeof s.deleted !== 'boolean') throw new GyreError(res.status, 'bad_response', `malformed sibling: ${JSON.stringify(s)?.slice(0, 200)}`);
    if (s.lastModified !== undefined && !(Number.isSafeInteger(s.lastModified) && (s.lastModified as number) >= 0)) throw new GyreError(res.status, 'bad_response', `malformed sibling time: ${JSON.stringify(s.lastModified)}`);
    return { value: s.value, contentType: s.contentType, deleted: s.deleted, ...(s.lastModified !== undefined ? { lastModified: s.lastModified as number } : {}) };
  });
  return { context: b.context, siblings };
}

export function parseStatusDocument(res: RawResponse): StatusDocument {
  const b = jsonOf(res);
  const ok =
    isRecord(b) &&
    isRecord(b.node) &&
    typeof b.node.id === 'string' &&
    (b.node.pid === undefined || (Number.isSafeInteger(b.node.pid) && (b.node.pid as number) > 0)) &&
    // Not in the contract's minimum, so optional; when present, what seed lookup relies on.
    (b.listeners === undefined || (isRecord(b.listeners) && typeof b.listeners.http === 'string' && typeof b.listeners.internode === 'string')) &&
    isRecord(b.config) &&
    ['n', 'r', 'w', 'partitions'].every((k) => typeof (b.config as Record<string, unknown>)[k] === 'number') &&
    Array.isArray(b.members) &&
    b.members.every((m) => isRecord(m) && typeof m.id === 'string' && typeof m.address === 'string' && typeof m.status === 'string') &&
    typeof b.hintsPending === 'number';
  if (!ok) throw new GyreError(res.status, 'bad_response', `not a status document: ${res.body.subarray(0, 300).toString('utf8')}`);
  return b as unknown as StatusDocument;
}

export function parseReplicasDocument(res: RawResponse): ReplicasDocument {
  const b = jsonOf(res);
  const ok =
    isRecord(b) &&
    typeof b.partition === 'number' &&
    Array.isArray(b.preferenceList) &&
    b.preferenceList.every((p) => typeof p === 'string') &&
    Array.isArray(b.replicas) &&
    b.replicas.every((r) => isRecord(r) && typeof r.node === 'string' && typeof r.reachable === 'boolean' && Array.isArray(r.versions) && r.versions.every((v) => isRecord(v) && isRecord(v.clock) && typeof v.deleted === 'boolean'));
  if (!ok) throw new GyreError(res.status, 'bad_response', `not a replicas document: ${res.body.subarray(0, 300).toString('utf8')}`);
  return b as unknown as ReplicasDocument;
}
