// The route table (node-core/src/http/routes.ts) and the OpenAPI document (openapi.ts) are one
// API: they list the same operations, the matcher routes by the table's templates, the
// document is sound OpenAPI 3.1, and the schema checker the integration test relies on
// refuses what it should. Each check is also shown failing on a planted mistake.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openApiDocument } from '../../node-core/src/http/openapi.js';
import { matchRoute, methodNotAllowedPaths, routeTableMismatches, routes } from '../../node-core/src/http/routes.js';
import { schemaErrors } from '../helpers/json-schema.js';
import { openApiProblems, operationsOf } from '../helpers/openapi-check.js';

/** The document as a client gets it: JSON, without the TypeScript types. */
const served = JSON.parse(JSON.stringify(openApiDocument)) as Record<string, unknown>;

describe('routes.ts and /openapi.json list exactly the same operations', () => {
  test('every route of the table is an operation of the document, and the other way round, by path, method and operationId', () => {
    assert.deepEqual(routeTableMismatches(routes, openApiDocument, methodNotAllowedPaths), []);
    const table = routes.map((r) => `${r.method} ${r.path} ${r.operationId}`).sort();
    const doc = operationsOf(served).map((o) => `${o.method} ${o.path} ${o.operationId}`).sort();
    assert.deepEqual(doc, table);
  });

  test('the check names an undocumented route, a documented operation nobody serves, and a 405 path the document does not mark', () => {
    const extra = [...routes, { method: 'GET' as const, path: '/debug', operationId: 'debug' }];
    assert.deepEqual(routeTableMismatches(extra, openApiDocument, methodNotAllowedPaths), ['served but not documented: GET /debug debug']);
    const missing = routes.filter((r) => r.operationId !== 'healFault');
    assert.deepEqual(routeTableMismatches(missing, openApiDocument, methodNotAllowedPaths), ['documented but not served: DELETE /admin/faults/{id} healFault']);
    const renamed = routes.map((r) => (r.operationId === 'getStatus' ? { ...r, operationId: 'status' } : r));
    assert.equal(routeTableMismatches(renamed, openApiDocument, methodNotAllowedPaths).length, 2, 'a renamed operation is one served and one documented that do not meet');
    assert.deepEqual(routeTableMismatches(routes, openApiDocument, new Set([...methodNotAllowedPaths, '/status'])), ['/status: other methods answer 405, the document says 404']);
  });
});

describe('matchRoute: by path template, then method', () => {
  const cases: { method: string; path: string; want: string }[] = [
    { method: 'GET', path: '/kv/a', want: 'getValue key=a' },
    { method: 'HEAD', path: '/kv/a%2Fb', want: 'headValue key=a%2Fb' },
    { method: 'PUT', path: '/kv/a/b/c', want: 'putValue key=a/b/c' },
    { method: 'DELETE', path: '/kv/', want: 'deleteValue key=' },
    { method: 'POST', path: '/kv/a', want: '405 GET, HEAD, PUT, DELETE' },
    { method: 'GET', path: '/kv', want: 'no_route' },
    { method: 'GET', path: '/kvx/a', want: 'no_route' },
    { method: 'GET', path: '/replicas/k', want: 'getReplicas key=k' },
    { method: 'DELETE', path: '/replicas/k', want: 'no_route' },
    { method: 'GET', path: '/status', want: 'getStatus' },
    { method: 'DELETE', path: '/status', want: 'no_route' },
    { method: 'HEAD', path: '/status', want: 'no_route' },
    { method: 'GET', path: '/status/', want: 'no_route' },
    { method: 'GET', path: '/openapi.json', want: 'getOpenApi' },
    { method: 'POST', path: '/admin/leave', want: 'leave' },
    { method: 'GET', path: '/admin/leave', want: 'no_route' },
    { method: 'GET', path: '/admin/faults', want: 'listFaults' },
    { method: 'PUT', path: '/admin/faults', want: '405 GET, POST, DELETE' },
    { method: 'DELETE', path: '/admin/faults/n1:3', want: 'healFault id=n1:3' },
    { method: 'GET', path: '/admin/faults/n1:3', want: '405 DELETE' },
    { method: 'GET', path: '/', want: 'no_route' },
  ];
  for (const c of cases) {
    test(`${c.method} ${c.path} -> ${c.want}`, () => {
      const m = matchRoute(c.method, c.path);
      const got = m.kind === 'no_route' ? 'no_route' : m.kind === 'method_not_allowed' ? `405 ${m.allow.join(', ')}` : [m.route.operationId, ...Object.entries(m.params).map(([k, v]) => `${k}=${v}`)].join(' ');
      assert.equal(got, c.want);
    });
  }
});

describe('the document is sound OpenAPI 3.1', () => {
  test('openapi 3.1.x, info, paths, components; every $ref resolves; every path parameter declared; operationIds unique; every schema keyword one the checker knows', () => {
    assert.deepEqual(openApiProblems(served), []);
  });

  test('the structural check finds a dangling $ref, a wrong version and an undeclared path parameter', () => {
    const broken = JSON.parse(JSON.stringify(served)) as { openapi: string; paths: Record<string, { parameters?: unknown[]; get?: { responses: Record<string, unknown> } }> };
    broken.openapi = '3.0.3';
    broken.paths['/status']!.get!.responses['200'] = { $ref: '#/components/responses/Nope' };
    delete broken.paths['/replicas/{key}']!.parameters;
    assert.deepEqual(openApiProblems(broken), [
      'openapi is "3.0.3", not 3.1.x',
      '$.paths./status.get.responses.200: $ref #/components/responses/Nope does not resolve',
      'GET /replicas/{key}: the path parameter {key} is not declared (in: path, required: true)',
      'GET /status 200: a response needs a description',
    ]);
  });
});

describe('the schema checker refuses what a schema rules out', () => {
  const root = served;
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const cases: { name: string; schema: unknown; value: unknown; errors: number }[] = [
    { name: 'an error document', schema: ref('ErrorDocument'), value: { error: 'not_found', message: 'no such key' }, errors: 0 },
    { name: 'an error document without message', schema: ref('ErrorDocument'), value: { error: 'not_found' }, errors: 1 },
    { name: 'an error document with a field it does not document', schema: ref('ErrorDocument'), value: { error: 'x', message: 'y', extra: 1 }, errors: 1 },
    { name: 'an error code outside the enum', schema: { allOf: [ref('ErrorDocument')], properties: { error: { enum: ['a'] } } }, value: { error: 'b', message: '' }, errors: 1 },
    { name: 'a sibling whose value is not base64', schema: ref('Sibling'), value: { value: 'not base64!', contentType: 't', deleted: false }, errors: 1 },
    { name: 'a pause spec matches exactly one of the fault kinds', schema: ref('FaultSpec'), value: { kind: 'pause', node: 'n1' }, errors: 0 },
    { name: 'a fault spec of no kind', schema: ref('FaultSpec'), value: { kind: 'flood' }, errors: 1 },
    { name: 'an integer where a number with a fraction came', schema: { type: 'integer' }, value: 1.5, errors: 1 },
    { name: 'null where null is allowed', schema: { type: ['integer', 'null'] }, value: null, errors: 0 },
    { name: 'a keyword the checker does not know', schema: { type: 'string', uniqueItems: true }, value: 'x', errors: 1 },
    { name: 'a $ref that does not resolve', schema: { $ref: '#/components/schemas/Nope' }, value: {}, errors: 1 },
  ];
  for (const c of cases) {
    test(`${c.name}: ${c.errors} error(s)`, () => {
      const errors = schemaErrors(c.schema, c.value, root);
      assert.equal(errors.length, c.errors, errors.join('; '));
    });
  }
});
