// The HTTP API's routes, in one table: what the server answers (api.ts matches every request
// against it) and what /openapi.json documents (openapi.ts). Each entry names its OpenAPI path
// template, method and operationId; when this module loads, the table and the document must
// list exactly the same operations, or the node does not start.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { healAllFaultsRoute, healFaultRoute, injectFaultRoute, joinRoute, leaveRoute, listFaultsRoute, traceRoute } from './admin.js';
import { keysPath, listKeysRoute } from './keys.js';
import { kvReadRoute, kvWriteRoute } from './kv.js';
import { configPath, configRoute, logPath, logRoute, partitionsPath, partitionsRoute, repairPath, repairRoute } from './node-admin.js';
import { type OpenApiDocument, type OperationMethod, openApiDocument, operationMethods } from './openapi.js';
import { replicasRoute } from './replicas.js';
import { send } from './respond.js';
import type { ApiContext, Op, PathParams, RouteHandler } from './route.js';
import { metricsPath, metricsRoute, statusPath, statusRoute } from './status.js';

export type Method = Uppercase<OperationMethod>;

export interface Route {
  readonly method: Method;
  /**
   * The OpenAPI path template: literal segments, and at most one `{param}`, as the last
   * segment, which takes the rest of the path as sent (slashes and percent-escapes included:
   * keys are bytes, and the handler decodes them).
   */
  readonly path: string;
  /** The operation's id in /openapi.json. */
  readonly operationId: string;
  /** The label the request is counted under in the metrics. */
  readonly op: Op;
  readonly handle: RouteHandler;
}

const openApiJson = JSON.stringify(openApiDocument);

async function openApiRoute(_ctx: ApiContext, _req: IncomingMessage, res: ServerResponse): Promise<number> {
  send(res, 200, openApiJson, { 'content-type': 'application/json' });
  return 200;
}

export const routes: readonly Route[] = [
  { method: 'GET', path: '/kv/{key}', operationId: 'getValue', op: 'get', handle: kvReadRoute },
  { method: 'HEAD', path: '/kv/{key}', operationId: 'headValue', op: 'get', handle: kvReadRoute },
  { method: 'PUT', path: '/kv/{key}', operationId: 'putValue', op: 'put', handle: kvWriteRoute },
  { method: 'DELETE', path: '/kv/{key}', operationId: 'deleteValue', op: 'delete', handle: kvWriteRoute },
  { method: 'GET', path: '/replicas/{key}', operationId: 'getReplicas', op: 'replicas', handle: replicasRoute },
  { method: 'GET', path: keysPath, operationId: 'listKeys', op: 'keys', handle: listKeysRoute },
  { method: 'GET', path: statusPath, operationId: 'getStatus', op: 'status', handle: statusRoute },
  { method: 'GET', path: metricsPath, operationId: 'getMetrics', op: 'metrics', handle: metricsRoute },
  { method: 'GET', path: '/openapi.json', operationId: 'getOpenApi', op: 'openapi', handle: openApiRoute },
  { method: 'POST', path: '/admin/join', operationId: 'join', op: 'admin', handle: joinRoute },
  { method: 'POST', path: '/admin/leave', operationId: 'leave', op: 'admin', handle: leaveRoute },
  { method: 'POST', path: '/admin/trace', operationId: 'trace', op: 'admin', handle: traceRoute },
  { method: 'GET', path: '/admin/faults', operationId: 'listFaults', op: 'admin', handle: listFaultsRoute },
  { method: 'POST', path: '/admin/faults', operationId: 'injectFault', op: 'admin', handle: injectFaultRoute },
  { method: 'DELETE', path: '/admin/faults', operationId: 'healFaults', op: 'admin', handle: healAllFaultsRoute },
  { method: 'DELETE', path: '/admin/faults/{id}', operationId: 'healFault', op: 'admin', handle: healFaultRoute },
  { method: 'GET', path: logPath, operationId: 'getLog', op: 'admin', handle: logRoute },
  { method: 'GET', path: partitionsPath, operationId: 'getPartitions', op: 'admin', handle: partitionsRoute },
  { method: 'POST', path: repairPath, operationId: 'repair', op: 'admin', handle: repairRoute },
  { method: 'GET', path: configPath, operationId: 'getConfig', op: 'admin', handle: configRoute },
];

/**
 * Paths that take several methods, where a client that picks another is told which (405 and
 * Allow). On the others an unknown method is an unknown route (404 no_route), as is any path
 * not in the table.
 */
export const methodNotAllowedPaths: ReadonlySet<string> = new Set(['/kv/{key}', '/admin/faults', '/admin/faults/{id}']);

/** A path template split for matching: the literal part, and the parameter that takes the rest. */
interface Template {
  readonly path: string;
  readonly literal: string;
  readonly param: string | undefined;
}

function compile(path: string): Template {
  const open = path.indexOf('{');
  if (open < 0) return { path, literal: path, param: undefined };
  // The one shape the matcher knows: `/literal/{param}`, the parameter last and alone in its segment.
  if (!path.endsWith('}') || path[open - 1] !== '/' || path.indexOf('{', open + 1) >= 0 || path.indexOf('}') !== path.length - 1) throw new Error(`route ${path}: a template takes one {param}, as its last segment`);
  return { path, literal: path.slice(0, open), param: path.slice(open + 1, -1) };
}

const templates: readonly Template[] = [...new Set(routes.map((r) => r.path))].map(compile);
// Exact paths first, then the longest prefix: /admin/faults is not /admin/faults/{id}.
const exact = new Map(templates.filter((t) => t.param === undefined).map((t) => [t.literal, t]));
const prefixed = templates.filter((t) => t.param !== undefined).sort((a, b) => b.literal.length - a.literal.length);

export type RouteMatch =
  | { readonly kind: 'route'; readonly route: Route; readonly params: PathParams }
  | { readonly kind: 'method_not_allowed'; readonly path: string; readonly allow: readonly Method[] }
  | { readonly kind: 'no_route' };

/** The route a request takes: by its path (without the query), then its method. */
export function matchRoute(method: string | undefined, path: string): RouteMatch {
  const template = exact.get(path) ?? prefixed.find((t) => path.startsWith(t.literal));
  if (template === undefined) return { kind: 'no_route' };
  const route = routes.find((r) => r.path === template.path && r.method === method);
  if (route !== undefined) return { kind: 'route', route, params: template.param === undefined ? {} : { [template.param]: path.slice(template.literal.length) } };
  if (!methodNotAllowedPaths.has(template.path)) return { kind: 'no_route' };
  return { kind: 'method_not_allowed', path: template.path, allow: routes.filter((r) => r.path === template.path).map((r) => r.method) };
}

/**
 * Where the route table and the document disagree: operations one lists and the other does
 * not (by path, method and operationId), and paths that answer 405 without the document
 * saying so, or the other way round. Empty when they agree.
 */
export function routeTableMismatches(table: readonly Pick<Route, 'method' | 'path' | 'operationId'>[], doc: Pick<OpenApiDocument, 'paths'>, otherMethods: ReadonlySet<string>): string[] {
  const inTable = new Set(table.map((r) => `${r.method} ${r.path} ${r.operationId}`));
  const inDoc = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const m of operationMethods) {
      const op = item[m];
      if (op !== undefined) inDoc.add(`${m.toUpperCase()} ${path} ${op.operationId}`);
    }
  }
  const out: string[] = [];
  for (const r of inTable) if (!inDoc.has(r)) out.push(`served but not documented: ${r}`);
  for (const d of inDoc) if (!inTable.has(d)) out.push(`documented but not served: ${d}`);
  for (const [path, item] of Object.entries(doc.paths)) {
    const documented = item['x-gyre-other-methods'] !== undefined;
    if (documented !== otherMethods.has(path)) out.push(`${path}: other methods answer ${otherMethods.has(path) ? 405 : 404}, the document says ${documented ? 405 : 404}`);
  }
  for (const path of otherMethods) if (doc.paths[path] === undefined) out.push(`${path} answers 405 to other methods but is not documented`);
  return out;
}

const mismatches = routeTableMismatches(routes, openApiDocument, methodNotAllowedPaths);
if (mismatches.length > 0) throw new Error(`the route table and /openapi.json disagree:\n  ${mismatches.join('\n  ')}`);
