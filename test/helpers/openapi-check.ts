// Reading an OpenAPI 3.1 document as the JSON a server sent (unknown until checked): its
// structure, every $ref resolving, and its operations listed for tests to walk.

import { resolvePointer, unsupportedKeywords } from './json-schema.js';

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The methods OpenAPI 3.1 can name on a path item. */
export const openApiMethods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

export interface DocOperation {
  readonly path: string;
  /** Upper case, as sent. */
  readonly method: string;
  readonly operationId: string;
  readonly operation: Json;
  readonly pathItem: Json;
}

/** An object that may be a `{$ref}`: what it refers to (one level), else itself. */
export function deref(doc: unknown, v: unknown): unknown {
  return isObject(v) && typeof v.$ref === 'string' ? resolvePointer(doc, v.$ref) : v;
}

/** Every operation of the document, in document order. */
export function operationsOf(doc: Json): DocOperation[] {
  const out: DocOperation[] = [];
  const paths = isObject(doc.paths) ? doc.paths : {};
  for (const [path, item] of Object.entries(paths)) {
    if (!isObject(item)) continue;
    for (const m of openApiMethods) {
      const op = item[m];
      if (isObject(op)) out.push({ path, method: m.toUpperCase(), operationId: String(op.operationId), operation: op, pathItem: item });
    }
  }
  return out;
}

/** Every `$ref` string in the document, with where it is. */
function refs(v: unknown, at: string, out: { at: string; ref: string }[]): void {
  if (Array.isArray(v)) v.forEach((x, i) => refs(x, `${at}[${i}]`, out));
  else if (isObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (k === '$ref' && typeof x === 'string') out.push({ at, ref: x });
      else refs(x, `${at}.${k}`, out);
    }
  }
}

/** What keeps `doc` from being a structurally sound OpenAPI 3.1 document (empty: nothing). */
export function openApiProblems(doc: unknown): string[] {
  if (!isObject(doc)) return ['the document is not a JSON object'];
  const out: string[] = [];
  if (typeof doc.openapi !== 'string' || !/^3\.1\.\d+$/.test(doc.openapi)) out.push(`openapi is ${JSON.stringify(doc.openapi)}, not 3.1.x`);
  if (!isObject(doc.info) || typeof doc.info.title !== 'string' || typeof doc.info.version !== 'string') out.push('info needs a title and a version');
  if (!isObject(doc.paths)) out.push('paths is not an object');
  if (!isObject(doc.components)) out.push('components is not an object');
  const found: { at: string; ref: string }[] = [];
  refs(doc, '$', found);
  for (const r of found) if (resolvePointer(doc, r.ref) === undefined) out.push(`${r.at}: $ref ${r.ref} does not resolve`);
  const components = isObject(doc.components) ? doc.components : {};
  const schemes = isObject(components.securitySchemes) ? components.securitySchemes : {};
  const checkSecurity = (security: unknown, at: string) => {
    if (security === undefined) return;
    if (!Array.isArray(security)) return out.push(`${at}: security is not a list`);
    for (const req of security) if (isObject(req)) for (const name of Object.keys(req)) if (!(name in schemes)) out.push(`${at}: security scheme ${name} is not in components.securitySchemes`);
  };
  checkSecurity(doc.security, '$');
  for (const [name, s] of Object.entries(isObject(components.schemas) ? components.schemas : {})) out.push(...unsupportedKeywords(s, `components.schemas.${name}`));
  const ids = new Set<string>();
  for (const path of Object.keys(isObject(doc.paths) ? doc.paths : {})) if (!path.startsWith('/')) out.push(`path ${path} does not start with /`);
  for (const { path, method, operationId, operation, pathItem } of operationsOf(doc)) {
    const at = `${method} ${path}`;
    if (typeof operation.operationId !== 'string' || operationId === '') out.push(`${at}: no operationId`);
    else if (ids.has(operationId)) out.push(`${at}: operationId ${operationId} is used twice`);
    ids.add(operationId);
    checkSecurity(operation.security, at);
    const params = [...(Array.isArray(pathItem.parameters) ? pathItem.parameters : []), ...(Array.isArray(operation.parameters) ? operation.parameters : [])].map((p) => deref(doc, p));
    for (const name of [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!)) {
      if (!params.some((p) => isObject(p) && p.in === 'path' && p.name === name && p.required === true)) out.push(`${at}: the path parameter {${name}} is not declared (in: path, required: true)`);
    }
    for (const p of params) if (!isObject(p) || typeof p.name !== 'string' || !['path', 'query', 'header', 'cookie'].includes(String(p.in)) || !isObject(p.schema)) out.push(`${at}: a parameter without name, in or schema`);
    const responses = operation.responses;
    if (!isObject(responses) || Object.keys(responses).length === 0) {
      out.push(`${at}: no responses`);
      continue;
    }
    for (const [status, r] of Object.entries(responses)) {
      if (!/^[1-5]\d\d$/.test(status) && status !== 'default') out.push(`${at}: response key ${status} is not a status`);
      const resolved = deref(doc, r);
      if (!isObject(resolved) || typeof resolved.description !== 'string') {
        out.push(`${at} ${status}: a response needs a description`);
        continue;
      }
      if (resolved.content !== undefined) {
        if (!isObject(resolved.content)) out.push(`${at} ${status}: content is not an object`);
        else for (const [media, m] of Object.entries(resolved.content)) if (!isObject(m) || !isObject(m.schema)) out.push(`${at} ${status} ${media}: no schema`);
      }
    }
  }
  return out;
}
