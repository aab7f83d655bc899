// The HTTP API described as an OpenAPI 3.1 document, served at GET /openapi.json. It is the
// reference for what every route takes and every status it answers; routes.ts checks at load
// that it names exactly the operations of the route table, and test/integration/openapi.test.ts
// sends a real request for every path, method and status listed here and checks each answer
// against the schema. Statuses a guard sends (401, 403, 431, 503 overloaded) are listed on each
// operation they can reach. The schemas mirror wire/api.ts and what the node adds to it.

import { contentTypeBytesMax, keyBytesMax, valueBytesMax } from '../core/codec.js';
import { defaultSiblingsMax } from '../core/coordinator.js';
import { faultKinds, faultsMax, latencyMaxMs, pauseDurationDefaultMs, pauseDurationMaxMs, faultDurationMaxMs, faultNodesMax } from '../core/faults.js';
import type { MemberState } from '../core/gossip.js';
import type { TraceStep } from '../core/trace.js';
import type { MemberStatus, OpKind } from '../wire/control.js';
import { faultRequestBytesMax, joinRequestBytesMax, traceRequestBytesMax } from './admin.js';
import { joinSeedsMax } from '../node/node.js';
import { seedCharsMax, seedPattern } from '../core/ids.js';
import { requestTimeoutMsMax } from './kv.js';
import { nodeVersion } from './status.js';
import { logFilterCharsMax, logLinesDefault, logReadLinesMax, repairBudgetMs, repairRequestBytesMax } from './node-admin.js';
import { logRingBytesMax } from '../node/log-ring.js';
import { costHeader, listKeysMax, listLimitDefault, listPartitionsPerRequestMax, listPrefixBytesMax, listResponseBytesMax, listTimeBudgetMs } from './keys.js';
import { allowHeaders, allowMethods, exposeHeaders } from './cors.js';

// --- the subset of OpenAPI 3.1 this document uses ------------------------------------------

export type JsonType = 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array' | 'null';

/** JSON Schema (2020-12, OpenAPI 3.1's dialect), the keywords used here. */
export interface Schema {
  readonly $ref?: string;
  readonly type?: JsonType | readonly JsonType[];
  readonly description?: string;
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | Schema;
  readonly items?: Schema;
  readonly enum?: readonly (string | number | boolean | null)[];
  readonly const?: string | number | boolean | null;
  readonly allOf?: readonly Schema[];
  readonly oneOf?: readonly Schema[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly pattern?: string;
  readonly format?: string;
  readonly contentEncoding?: string;
  readonly examples?: readonly unknown[];
}

export interface Ref {
  readonly $ref: string;
}

export interface Header {
  readonly description: string;
  readonly required?: boolean;
  readonly schema: Schema;
}

export interface Parameter {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header';
  readonly description: string;
  readonly required?: boolean;
  readonly schema: Schema;
  readonly examples?: Readonly<Record<string, { readonly value: unknown }>>;
}

export interface MediaType {
  readonly schema: Schema;
  readonly example?: unknown;
}

export interface Response {
  readonly description: string;
  readonly headers?: Readonly<Record<string, Header | Ref>>;
  readonly content?: Readonly<Record<string, MediaType>>;
}

export interface RequestBody {
  readonly description: string;
  readonly required?: boolean;
  readonly content: Readonly<Record<string, MediaType>>;
}

export type SecurityRequirement = Readonly<Record<string, readonly string[]>>;

export interface Operation {
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  readonly parameters?: readonly (Parameter | Ref)[];
  readonly requestBody?: RequestBody;
  readonly security?: readonly SecurityRequirement[];
  readonly responses: Readonly<Record<string, Response | Ref>>;
  /** What a request costs the cluster beyond its node: `scan` reads every replica of every partition it walks (and says so in X-Gyre-Cost). */
  readonly 'x-gyre-cost'?: { readonly cost: 'scan'; readonly description: string };
}

/** The methods the API serves; OpenAPI names them in lower case. */
export type OperationMethod = 'get' | 'head' | 'put' | 'post' | 'delete';
export const operationMethods: readonly OperationMethod[] = ['get', 'head', 'put', 'post', 'delete'];

/** A path where a method not listed answers 405 with Allow, not 404 no_route. */
export interface OtherMethods {
  readonly description: string;
  readonly response: Ref;
}

export type PathItem = { readonly summary?: string; readonly parameters?: readonly (Parameter | Ref)[]; readonly 'x-gyre-other-methods'?: OtherMethods } & { readonly [M in OperationMethod]?: Operation };

/** A request the API's router never sees, and what it gets. */
export interface Unrouted {
  readonly description: string;
  readonly response: Ref;
}

export interface OpenApiDocument {
  readonly openapi: string;
  readonly info: { readonly title: string; readonly version: string; readonly summary?: string; readonly description?: string; readonly license?: { readonly name: string; readonly identifier?: string } };
  readonly tags: readonly { readonly name: string; readonly description: string }[];
  readonly security: readonly SecurityRequirement[];
  readonly paths: Readonly<Record<string, PathItem>>;
  readonly components: {
    readonly schemas: Readonly<Record<string, Schema>>;
    readonly responses: Readonly<Record<string, Response>>;
    readonly parameters: Readonly<Record<string, Parameter>>;
    readonly headers: Readonly<Record<string, Header>>;
    readonly securitySchemes: Readonly<Record<string, { readonly type: 'http'; readonly scheme: 'bearer'; readonly description: string }>>;
  };
  /** Served on the same port, but not by the REST router: the control plane. */
  readonly 'x-gyre-socket-io': { readonly path: string; readonly description: string; readonly protocol: string; readonly events: string };
  /** Browsers: what a page of an origin in --cors-origins gets (http/cors.ts). */
  readonly 'x-gyre-cors': { readonly description: string; readonly allowMethods: string; readonly allowHeaders: string; readonly exposeHeaders: string };
  /** What a request for no path of this document gets, after the guards. */
  readonly 'x-gyre-no-route': Unrouted;
  /** What a request the HTTP parser cannot read gets; it has no method or path to route by. */
  readonly 'x-gyre-unparsable': Unrouted;
}

// --- building blocks ----------------------------------------------------------------------

const json = 'application/json';
const schemaRef = (name: string): Ref => ({ $ref: `#/components/schemas/${name}` });
const responseRef = (name: string): Ref => ({ $ref: `#/components/responses/${name}` });
const parameterRef = (name: string): Ref => ({ $ref: `#/components/parameters/${name}` });
const headerRef = (name: string): Ref => ({ $ref: `#/components/headers/${name}` });

/** Exhaustive lists of a union's members: the compiler fails when one is added and not listed. */
const members = <T extends string>(all: Record<T, true>): readonly T[] => Object.keys(all) as T[];
const memberStatuses = members<MemberStatus>({ up: true, suspect: true, down: true, joining: true, leaving: true });
const memberStates = members<MemberState>({ joining: true, member: true, leaving: true, left: true });
const opKinds = members<OpKind>({ get: true, put: true, delete: true });
const traceSteps = members<TraceStep>({ plan: true, ask: true, reply: true, fail: true, decided: true, stale: true, repair: true, forward: true, forwarded: true, commit: true, send: true, ack: true, hint: true, note: true });

const integer = (description?: string, minimum = 0): Schema => ({ type: 'integer', minimum, ...(description ? { description } : {}) });
const text = (description?: string): Schema => ({ type: 'string', ...(description ? { description } : {}) });
const nodeIds = (description: string): Schema => ({ type: 'array', items: { type: 'string' }, description });
/** An object whose every listed property is required, and which has no others. */
const closed = (properties: Readonly<Record<string, Schema>>, optional: readonly string[] = [], description?: string): Schema => ({
  type: 'object',
  ...(description ? { description } : {}),
  properties,
  required: Object.keys(properties).filter((k) => !optional.includes(k)),
  additionalProperties: false,
});
/** A map from names (node ids, partitions) to values of one schema. */
const mapOf = (values: Schema, description: string): Schema => ({ type: 'object', additionalProperties: values, description });

/** An error answer: the `{error, message}` document, with the codes this response can carry. */
function errorResponse(description: string, codes: readonly string[], headers?: Readonly<Record<string, Header | Ref>>): Response {
  return { description, ...(headers ? { headers } : {}), content: { [json]: { schema: { allOf: [schemaRef('ErrorDocument')], properties: { error: { enum: codes } } } } } };
}

function jsonResponse(description: string, schema: Schema, headers?: Readonly<Record<string, Header | Ref>>): Response {
  return { description, ...(headers ? { headers } : {}), content: { [json]: { schema } } };
}

// --- components -----------------------------------------------------------------------------

const faultView: Schema = {
  type: 'object',
  description: 'A fault in force: its spec (the fields of its kind, as injected), plus what the node adds.',
  properties: {
    id: text('unique in the cluster: the injecting node and its counter'),
    kind: { enum: faultKinds },
    description: text('the fault in words'),
    startedAt: integer('when it was injected, ms since the epoch on this node\'s clock'),
    ageMs: integer(),
    remainingMs: { type: ['integer', 'null'], minimum: 0, description: 'null: until healed' },
    from: nodeIds('partition: one side'),
    to: nodeIds('partition: the other side (absent: every other node)'),
    oneWay: { type: 'boolean', description: 'partition: only messages from `from` to `to` are lost' },
    nodes: nodeIds('latency, loss: the nodes whose links are affected (absent: every link)'),
    delayMs: integer(),
    jitterMs: integer(),
    probability: { type: 'number', minimum: 0, maximum: 1 },
    node: text('pause, crash: the node'),
  },
  required: ['id', 'kind', 'description', 'startedAt', 'ageMs', 'remainingMs'],
  additionalProperties: false,
};

const durationMs: Schema = { type: 'integer', minimum: 1, maximum: faultDurationMaxMs, description: `how long the fault lasts (ms); absent: until healed (pause: default ${pauseDurationDefaultMs}, at most ${pauseDurationMaxMs}; a crash has none)` };
const faultSpec: Schema = {
  description: `A fault to inject into the whole cluster (at most ${faultsMax} in force). Node lists name 1 to ${faultNodesMax} members.`,
  oneOf: [
    closed({ kind: { const: 'partition' }, from: nodeIds('one side'), to: nodeIds('the other side (default: every other node)'), oneWay: { type: 'boolean' }, durationMs }, ['to', 'oneWay', 'durationMs'], 'messages between the two sides are lost (from `from` to `to` only, with oneWay)'),
    closed({ kind: { const: 'latency' }, delayMs: { type: 'integer', minimum: 0, maximum: latencyMaxMs }, jitterMs: { type: 'integer', minimum: 0, maximum: latencyMaxMs }, nodes: nodeIds('default: every link'), durationMs }, ['jitterMs', 'nodes', 'durationMs'], 'messages to and from `nodes` wait delayMs plus up to jitterMs'),
    closed({ kind: { const: 'loss' }, probability: { type: 'number', minimum: 0, maximum: 1 }, nodes: nodeIds('default: every link'), durationMs }, ['nodes', 'durationMs'], 'messages to and from `nodes` are lost with this probability'),
    closed({ kind: { const: 'pause' }, node: text(), durationMs }, ['durationMs'], 'the node stops processing anything (its event loop is blocked)'),
    closed({ kind: { const: 'crash' }, node: text() }, [], 'the node kills itself with SIGKILL'),
  ],
};

const traceVersion: Schema = closed({ version: text('actor:counter'), deleted: { type: 'boolean' }, size: integer('value bytes') });

const schemas: Readonly<Record<string, Schema>> = {
  ErrorDocument: {
    ...closed({ error: text('a stable code, lower case with underscores'), message: text('a sentence for people') }),
    description: 'Every error answer (CONTRACT.md).',
    examples: [{ error: 'unavailable', message: 'only 1 of r=2 replicas answered within 3000 ms' }],
  },
  Sibling: closed(
    {
      value: { type: 'string', contentEncoding: 'base64', description: 'the value bytes' },
      contentType: text('as stored with the value'),
      deleted: { type: 'boolean', description: 'a tombstone (its value is empty)' },
      lastModified: integer('when the coordinator wrote it, ms since the epoch on its clock'),
    },
    ['lastModified'],
  ),
  SiblingsDocument: {
    ...closed({ context: text('opaque; covers every sibling returned: send it back as X-Gyre-Context to supersede them'), siblings: { type: 'array', items: schemaRef('Sibling'), maxItems: defaultSiblingsMax } }),
    description: 'A read of concurrent versions (300), or of one with Accept: application/json (200).',
  },
  ReplicaVersion: closed(
    {
      clock: mapOf(integer(), 'the highest counter seen per actor (a summary; `context` is exact)'),
      dot: closed({ actor: text(), counter: integer() }, [], 'the event that created this version'),
      events: closed(
        { entries: mapOf(integer(), 'every event of the actor up to this counter'), dots: { type: 'array', items: closed({ actor: text(), counter: integer() }), description: 'single events beyond the entries' } },
        [],
        'the exact events the clock covers (`clock` is their summary): b saw a exactly when b\'s events include a\'s',
      ),
      timestamp: integer('the dot\'s time, ms since the epoch on the coordinator\'s clock'),
      deleted: { type: 'boolean' },
      size: integer('value bytes'),
      version: text('actor:counter, as in X-Gyre-Version'),
      contentType: text(),
      context: text('this version\'s own clock, sealed like any context'),
      value: { type: 'string', contentEncoding: 'base64', description: 'with ?values=true' },
    },
    ['value'],
  ),
  ReplicasDocument: {
    ...closed({
      key: text('the key as UTF-8 (lossy for keys that are not)'),
      partition: integer(),
      preferenceList: nodeIds('the N nodes that replicate the key, in order'),
      replicas: {
        type: 'array',
        items: closed({ node: text(), reachable: { type: 'boolean' }, error: text('why the replica could not be read'), versions: { type: 'array', items: schemaRef('ReplicaVersion') } }, ['error']),
      },
    }),
    description: 'What every replica of the key holds right now, read from each directly; an unreachable replica is part of the answer.',
  },
  Member: closed(
    {
      id: text(),
      address: text('host:port of its client HTTP API'),
      status: { enum: memberStatuses, description: 'this node\'s failure detector\'s view (or the membership state while joining or leaving)' },
      state: { enum: memberStates },
      phi: { type: ['number', 'null'], description: 'phi accrual suspicion (null: no heartbeat seen yet)' },
      heartbeatAgeMs: { type: ['integer', 'null'] },
      partitions: integer('partitions it owns'),
      internode: text('host:port of its internode listener'),
      heartbeat: integer('its gossip heartbeat counter'),
    },
    ['internode', 'heartbeat'],
  ),
  StatusDocument: {
    ...closed({
      node: closed({ id: text(), address: text(), state: { enum: memberStates }, startedAt: { type: 'string', format: 'date-time' }, uptimeMs: integer(), version: text(), pid: integer() }),
      listeners: closed(
        {
          http: text('host:port'),
          internode: text('host:port'),
          resp: text('host:port of the RESP2 front end (docs/resp.md)'),
          control: text('the Socket.IO control plane\'s URL'),
          controlPath: { const: '/socket.io' },
        },
        ['resp', 'control', 'controlPath'],
      ),
      config: closed({ n: integer(undefined, 1), r: integer(undefined, 1), w: integer(undefined, 1), partitions: integer(undefined, 1), requestTimeoutMs: integer(undefined, 1) }),
      members: { type: 'array', items: schemaRef('Member') },
      hintsPending: integer('hints this node holds for others'),
      hints: closed({ byTarget: mapOf(integer(), 'hints held per target node'), delivered: integer(), lastDeliveryMs: integer(), backingOff: nodeIds('targets whose delivery is backing off') }, ['lastDeliveryMs']),
      transfers: closed({
        pending: { type: 'array', items: closed({ partition: integer(), from: text(), to: text() }) },
        active: { type: 'array', items: closed({ partition: integer(), from: text(), to: text(), keys: integer() }) },
        completed: integer(),
        keysReceived: integer(),
      }),
      antiEntropy: closed({ exchanges: integer(), keysRepaired: integer(), lastExchangeMs: mapOf(integer(), 'per partition: when it was last compared with a peer'), partitionsInSync: integer(), partitionsDiffering: integer() }),
      tombstones: closed({ candidates: integer(), reaped: integer(), graceMs: integer() }),
      ring: closed({ partitions: integer(undefined, 1), owners: nodeIds('the owner of each partition (left out past 4096 partitions)') }, ['owners']),
      storage: closed({ keys: integer(), bytes: integer(), quarantined: integer(), writable: { type: 'boolean' }, lastError: text() }, ['lastError']),
      faults: { type: 'array', items: schemaRef('Fault') },
      security: closed({ tokenRequired: { type: 'boolean' }, adminTokenRequired: { type: 'boolean' }, faultsAllowed: { type: 'boolean' } }),
    }),
    description: 'This node\'s view of the cluster. CONTRACT.md fixes node.id, config, members (id, address, status) and hintsPending; the rest may grow.',
  },
  Fault: faultView,
  FaultSpec: faultSpec,
  FaultList: closed({ version: integer('bumped by every change this node has seen'), faults: { type: 'array', items: schemaRef('Fault') } }),
  FaultInjected: closed({ fault: schemaRef('Fault'), reached: nodeIds('members that took the change at once'), missed: nodeIds('members that did not (gossip carries it to them)') }),
  FaultsHealed: closed({ healed: { type: 'array', items: schemaRef('Fault') }, reached: nodeIds('members that took the change at once'), missed: nodeIds('members that did not') }),
  LeaveAccepted: closed({ ok: { const: true }, message: text() }),
  JoinRequest: closed({
    seeds: { type: 'array', minItems: 1, maxItems: joinSeedsMax, items: { type: 'string', pattern: seedPattern.source, maxLength: seedCharsMax }, description: 'client addresses (host:port) of members of the cluster to join, as --seeds takes them' },
  }),
  JoinAccepted: closed({ ok: { const: true }, message: text(), seeds: { type: 'array', items: { type: 'string' }, description: 'the seeds it joins through (duplicates dropped)' } }),
  TraceRequest: closed(
    {
      op: { enum: opKinds },
      key: { type: 'string', minLength: 1, description: `1 to ${keyBytesMax} bytes once decoded` },
      keyEncoding: { enum: ['utf8', 'base64'] },
      value: text(`put: 0 to ${valueBytesMax} bytes once decoded`),
      valueEncoding: { enum: ['utf8', 'base64'] },
      contentType: { type: 'string', description: `at most ${contentTypeBytesMax} bytes` },
      context: text('as from X-Gyre-Context'),
      r: integer(undefined, 1),
      w: integer(undefined, 1),
      timeoutMs: { type: 'integer', minimum: 1, maximum: requestTimeoutMsMax },
    },
    ['keyEncoding', 'value', 'valueEncoding', 'contentType', 'context', 'r', 'w', 'timeoutMs'],
  ),
  TraceResult: closed(
    {
      status: { type: 'integer', description: 'the status the same request would have got from /kv' },
      coordinator: text(),
      context: text(),
      version: text(),
      siblings: { type: 'array', items: closed({ version: text(), value: { type: 'string', contentEncoding: 'base64' }, contentType: text(), deleted: { type: 'boolean' } }) },
      error: schemaRef('ErrorDocument'),
      durationMs: integer('until the answer'),
      steps: {
        type: 'array',
        items: closed({ at: integer('ms since the trace began'), step: { enum: traceSteps }, node: text(), hintFor: text('a stand-in: the node it holds a hint for'), versions: { type: 'array', items: traceVersion }, detail: text() }, ['node', 'hintFor', 'versions']),
      },
    },
    ['context', 'version', 'siblings', 'error'],
  ),
  ListedKey: closed({
    key: { type: ['string', 'null'], description: 'the key as text; null when it is not valid printable UTF-8 (key64 has the bytes)' },
    key64: { type: 'string', contentEncoding: 'base64', description: 'the key\'s bytes' },
    siblings: integer('live (not deleted) versions, merged over the replicas that answered'),
    bytes: integer('value bytes of the live versions'),
    deleted: { type: 'boolean', description: 'only tombstones are left (listed with tombstones=1 only)' },
    partition: integer(),
  }),
  KeyListing: {
    ...closed({
      keys: { type: 'array', items: schemaRef('ListedKey'), maxItems: listKeysMax },
      cursor: { type: ['string', 'null'], description: 'opaque: pass as `cursor` for the next page (with the same prefix); null: the listing is complete' },
      scanned: closed({ partitions: integer('partitions walked so far: those before the cursor'), total: integer('partitions of the cluster (Q)', 1) }),
      unavailable: { type: 'array', items: integer(), description: 'partitions of this page no replica answered for: their keys are missing from the listing' },
    }),
    description: 'One page of the cluster\'s keys, in partition order, then key order within a partition.',
  },
  LogPage: closed({
    lines: { type: 'array', maxItems: logReadLinesMax, items: closed({ seq: integer('the line\'s number: consecutive from 1 since the node started', 1), text: text('the line as logged (pino JSON)') }) },
    next: integer('pass as `after` to get only the lines logged since'),
    dropped: { type: 'boolean', description: 'lines after `after` were already dropped from the buffer (the reader fell behind)' },
  }),
  PartitionsDocument: closed({
    node: text(),
    partitions: {
      type: 'array',
      items: closed({
        partition: integer(),
        replica: { type: 'boolean', description: 'this node is in the partition\'s preference list (false: data it still holds, waiting to be handed off)' },
        keys: integer('keys held'),
        bytes: integer('bytes of its rows as stored (values, clocks, content types), from counters the store keeps'),
        lastExchangeMs: { type: ['integer', 'null'], minimum: 0, description: 'when anti-entropy last compared it with a peer, ms since the epoch on this node\'s clock; null: not since start' },
        keysRepaired: integer('keys anti-entropy repaired in it since start'),
        merkleRoot: { type: ['string', 'null'], pattern: '^[0-9a-f]{32}$', description: 'the root of its Merkle tree (hex); null: no tree yet' },
      }),
    },
  }),
  RepairRequest: {
    ...closed({ partition: integer('one partition this node replicates') }, ['partition']),
    description: '{} for every partition this node replicates, or one partition.',
  },
  RepairResult: closed({
    partitions: {
      type: 'array',
      items: closed({
        partition: integer(),
        peers: nodeIds('the replicas exchanged with'),
        keysRepaired: integer('keys that differed and were merged, in either direction'),
        skipped: { type: 'array', items: closed({ node: text(), reason: text() }), description: 'replicas not exchanged with: seen down, or the exchange failed or timed out' },
        agreed: { type: 'boolean', description: 'every replica of the partition was exchanged with and its Merkle tree agreed with this node\'s at the end' },
      }),
    },
    complete: { type: 'boolean', description: `false: the ${repairBudgetMs} ms budget ran out before every partition was started (those are left out)` },
  }),
  ConfigDocument: closed({
    node: text(),
    settings: mapOf({ type: ['string', 'integer', 'boolean', 'array', 'null'], items: { type: 'string' } }, 'setting name to effective value (docs/deploy.md names them); token and adminToken are "set" or "unset", never the secret'),
  }),
  OpenApiDocument: { type: 'object', required: ['openapi', 'info', 'paths', 'components'], description: 'This document.', properties: { openapi: { type: 'string', pattern: '^3\\.1\\.\\d+$' } } },
};

const headers: Readonly<Record<string, Header>> = {
  'X-Gyre-Context': { description: 'Opaque, sealed by the cluster: the versions read or written. Send it back with the next write of the key.', required: true, schema: { type: 'string', minLength: 1 } },
  'X-Gyre-Version': { description: 'The ids (actor:counter) of the versions returned, comma-separated in the order of the siblings; on a write, the version created.', schema: { type: 'string', pattern: '^[^,]+:\\d+(, [^,]+:\\d+)*$' } },
  'Retry-After': { description: 'Seconds to wait before trying again.', required: true, schema: { type: 'string', pattern: '^\\d+$' } },
  'WWW-Authenticate': { description: 'The scheme to authenticate with.', required: true, schema: { const: 'Bearer' } },
  Allow: { description: 'The methods this path takes.', required: true, schema: { type: 'string' } },
};

const parameters: Readonly<Record<string, Parameter>> = {
  key: {
    name: 'key',
    in: 'path',
    required: true,
    description: `The key: 1 to ${keyBytesMax} bytes, percent-encoded where a byte is not a path character (any bytes, not only UTF-8). Everything after the prefix is the key, slashes included.`,
    schema: { type: 'string' },
    examples: { plain: { value: 'user:42' }, encoded: { value: 'caf%C3%A9%2Fmenu' } },
  },
  r: { name: 'r', in: 'query', description: 'Replies to wait for, 1 to N (GET /status: config.n); default config.r.', schema: { type: 'integer', minimum: 1 } },
  w: { name: 'w', in: 'query', description: 'Durable acknowledgements to wait for, 1 to N; default config.w.', schema: { type: 'integer', minimum: 1 } },
  timeout: { name: 'timeout', in: 'query', description: `How long to wait for the replicas (ms); default config.requestTimeoutMs.`, schema: { type: 'integer', minimum: 1, maximum: requestTimeoutMsMax } },
  context: { name: 'X-Gyre-Context', in: 'header', description: 'The context of the last read (or write) of the key: the write supersedes exactly the versions it covers. Absent or empty: none.', schema: { type: 'string' } },
};

const responses: Readonly<Record<string, Response>> = {
  Unauthorized: errorResponse('With a token set (GYRE_TOKEN, GYRE_ADMIN_TOKEN), a request without a valid `Authorization: Bearer` is refused.', ['unauthorized'], { 'WWW-Authenticate': headerRef('WWW-Authenticate') }),
  ForbiddenHost: errorResponse('A node without a token answers only requests addressed to a loopback name (DNS rebinding).', ['forbidden_host']),
  HeadersTooLarge: errorResponse('The request headers are larger than the HTTP parser takes (16 KiB); the connection is closed.', ['headers_too_large']),
  Overloaded: errorResponse('The node has as many requests or request-body bytes in flight as it takes (docs/limits.md); nothing was done. The connection is closed.', ['overloaded'], { 'Retry-After': headerRef('Retry-After') }),
  MethodNotAllowed: errorResponse('This path does not take that method.', ['method_not_allowed'], { Allow: headerRef('Allow') }),
  NoRoute: errorResponse('No path of this document (or this method on a path that answers other methods so).', ['no_route']),
  Unparsable: errorResponse('The request could not be parsed as HTTP/1.1; the connection is closed.', ['bad_request']),
  Internal: errorResponse('An unexpected failure, logged by the node (500).', ['internal']),
};

// --- operations -------------------------------------------------------------------------------

/** Who may call: bearer tokens where the node has them, nothing where it has none. */
const anyToken: readonly SecurityRequirement[] = [{ clusterToken: [] }, { adminToken: [] }, {}];
const adminOnly: readonly SecurityRequirement[] = [{ adminToken: [] }, { clusterToken: [] }, {}];

type Responses = Readonly<Record<string, Response | Ref>>;

/** What every operation can answer besides its own statuses: the guards' refusals, and the unexpected. */
function withGuards(own: Responses, opts: { shed: boolean }): Responses {
  return {
    '401': responseRef('Unauthorized'),
    '403': responseRef('ForbiddenHost'),
    '431': responseRef('HeadersTooLarge'),
    ...(opts.shed ? { '503': responseRef('Overloaded') } : {}),
    ...own,
    default: responseRef('Internal'),
  };
}

const adminForbidden = (extra: readonly string[] = []) =>
  errorResponse(
    'admin_required: the cluster token on a node with an admin token (GYRE_ADMIN_TOKEN opens /admin/*). forbidden_host: a tokenless node asked by a non-loopback name. forbidden: a browser request (with Origin) to a tokenless node.' +
      (extra.includes('faults_disabled') ? ' faults_disabled: the node was started without --allow-faults.' : ''),
    ['admin_required', 'forbidden_host', 'forbidden', ...extra],
  );
const unsupportedMediaType = errorResponse('A body that is not labelled Content-Type: application/json.', ['unsupported_media_type']);

function admin(o: Omit<Operation, 'tags' | 'security' | 'responses'> & { readonly responses: Responses }): Operation {
  return { ...o, tags: ['admin'], security: adminOnly, responses: withGuards({ '403': adminForbidden(), ...o.responses }, { shed: true }) };
}

const readHeaders = { 'X-Gyre-Context': headerRef('X-Gyre-Context'), 'X-Gyre-Version': headerRef('X-Gyre-Version') };
const kvUnavailable = (what: string, extra: Readonly<Record<string, Header | Ref>> = {}) =>
  errorResponse(`unavailable: ${what}. overloaded: the node sheds the request (Retry-After).`, ['unavailable', 'overloaded'], { 'Retry-After': { ...headers['Retry-After']!, required: false, description: 'overloaded: seconds to wait before trying again' }, ...extra });

const getResponses: Responses = withGuards(
  {
    '200': {
      description: 'One live version: its bytes, with the Content-Type it was stored with. With `Accept: application/json`: the siblings document of that one version.',
      headers: readHeaders,
      content: { '*/*': { schema: { description: 'the value bytes' } }, [json]: { schema: schemaRef('SiblingsDocument') } },
    },
    '300': jsonResponse('Concurrent versions (siblings): every one, and one context covering them all. Tombstones among them are marked deleted.', schemaRef('SiblingsDocument'), readHeaders),
    '400': errorResponse('A bad key, r or timeout.', ['bad_key', 'key_too_long', 'bad_r', 'bad_timeout']),
    '404': errorResponse('Absent, or deleted: where a tombstone exists its context is sent, so a write can supersede it.', ['not_found'], { 'X-Gyre-Context': { ...headers['X-Gyre-Context']!, required: false }, 'X-Gyre-Version': headerRef('X-Gyre-Version') }),
    '503': kvUnavailable('fewer than r replicas answered in time'),
  },
  { shed: false },
);

/** HEAD answers as GET does, without a body: the same statuses and headers, no content. */
function withoutBodies(rs: Responses): Responses {
  return Object.fromEntries(
    Object.entries(rs).map(([status, r]) => {
      const resolved = '$ref' in r ? responses[r.$ref.slice('#/components/responses/'.length)]! : r;
      return [status, { description: resolved.description, ...(resolved.headers ? { headers: resolved.headers } : {}) }];
    }),
  );
}

const writeVersionHeader: Header = { description: 'The id (actor:counter) of the version this write created (on a 503: the version it may still become).', schema: headers['X-Gyre-Version']!.schema };

const paths: Readonly<Record<string, PathItem>> = {
  '/kv/{key}': {
    summary: 'A key: read, write, delete (CONTRACT.md)',
    parameters: [parameterRef('key')],
    get: {
      operationId: 'getValue',
      summary: 'Read a key at R',
      tags: ['kv'],
      description: 'Asks all N replicas, answers once r replied, and repairs stale replicas in the background (Dynamo 4.5).',
      parameters: [parameterRef('r'), parameterRef('timeout')],
      responses: getResponses,
    },
    head: {
      operationId: 'headValue',
      summary: 'Read a key at R, headers only',
      tags: ['kv'],
      description: 'As GET, without the body: tells whether the key has a live version and its context.',
      parameters: [parameterRef('r'), parameterRef('timeout')],
      responses: withoutBodies(getResponses),
    },
    put: {
      operationId: 'putValue',
      summary: 'Write a value at W',
      tags: ['kv'],
      description:
        'Supersedes the versions the context covers; any other version stays as a sibling of the new one. Answered once w replicas committed it durably. Nothing acknowledged is dropped silently.',
      parameters: [parameterRef('w'), parameterRef('timeout'), parameterRef('context')],
      requestBody: {
        description: `The value: 0 to ${valueBytesMax} bytes. Its Content-Type (default application/octet-stream, at most ${contentTypeBytesMax} bytes) is stored with it.`,
        content: { '*/*': { schema: { description: 'the value bytes' } } },
      },
      responses: withGuards(
        {
          '204': { description: 'Written: w replicas have it durably.', headers: { 'X-Gyre-Context': headerRef('X-Gyre-Context'), 'X-Gyre-Version': writeVersionHeader } },
          '400': errorResponse('A bad key, w, timeout, context or content type; bad_version: the write could not be stored as sent.', ['bad_key', 'key_too_long', 'bad_w', 'bad_timeout', 'bad_context', 'bad_content_type', 'bad_version']),
          '413': errorResponse(`value_too_large: over ${valueBytesMax} bytes (connection closed). too_many_siblings: the key would have more than ${defaultSiblingsMax} versions. object_too_large: its versions would pass 16 MiB. Read and write with the context to resolve.`, ['value_too_large', 'too_many_siblings', 'object_too_large'], { 'X-Gyre-Version': writeVersionHeader }),
          '503': kvUnavailable('fewer than w replicas acknowledged in time; the write may still be applied (X-Gyre-Version names it)', { 'X-Gyre-Version': writeVersionHeader }),
        },
        { shed: false },
      ),
    },
    delete: {
      operationId: 'deleteValue',
      summary: 'Delete (write a tombstone) at W',
      tags: ['kv'],
      description: 'Writes a tombstone superseding what the context covers. Without a context the key is read first (at r) and exactly what that read returned is deleted.',
      parameters: [parameterRef('w'), parameterRef('r'), parameterRef('timeout'), parameterRef('context')],
      responses: withGuards(
        {
          '204': { description: 'The tombstone is written: w replicas have it durably.', headers: { 'X-Gyre-Context': headerRef('X-Gyre-Context'), 'X-Gyre-Version': writeVersionHeader } },
          '400': errorResponse('A bad key, w, r, timeout, context or content type (a DELETE\'s Content-Type labels its tombstone).', ['bad_key', 'key_too_long', 'bad_w', 'bad_r', 'bad_timeout', 'bad_context', 'bad_content_type', 'bad_version']),
          '404': errorResponse('Without a context: the read found no version to delete.', ['not_found']),
          '413': errorResponse(`The tombstone would leave the key more than ${defaultSiblingsMax} versions (its context covers too few).`, ['too_many_siblings', 'object_too_large'], { 'X-Gyre-Version': writeVersionHeader }),
          '503': kvUnavailable('fewer than w replicas acknowledged in time (or, without a context, fewer than r answered the read)', { 'X-Gyre-Version': writeVersionHeader }),
        },
        { shed: false },
      ),
    },
    'x-gyre-other-methods': { description: 'Any other method answers 405, Allow: GET, HEAD, PUT, DELETE.', response: responseRef('MethodNotAllowed') },
  },
  '/replicas/{key}': {
    parameters: [parameterRef('key')],
    get: {
      operationId: 'getReplicas',
      summary: 'What every replica of a key holds',
      tags: ['kv'],
      description: 'Reads the key from each node of its preference list directly, without merging or repairing: for tools that watch replicas diverge and converge.',
      parameters: [{ name: 'values', in: 'query', description: 'true or 1: include each version\'s value (base64).', schema: { enum: ['true', '1', 'false', '0'] } }],
      responses: withGuards({ '200': jsonResponse('One entry per preference-list node.', schemaRef('ReplicasDocument')), '400': errorResponse('A bad key.', ['bad_key', 'key_too_long']) }, { shed: true }),
    },
  },
  '/keys': {
    get: {
      operationId: 'listKeys',
      summary: 'List the cluster\'s keys, a page at a time',
      tags: ['kv'],
      description: `Walks the partitions in order from the cursor; for each, asks every reachable replica of its preference list for its smallest keys after the cursor and merges what they answer (the versions of a key seen on several replicas are merged as a read would). A page ends when it holds \`limit\` keys, or after about ${listTimeBudgetMs} ms or ${listPartitionsPerRequestMax} partitions, and at most ${listResponseBytesMax} bytes of JSON; follow \`cursor\` until it is null. A page may hold fewer keys than \`limit\`, or none, before the end.`,
      parameters: [
        { name: 'prefix', in: 'query', description: `Only keys starting with these bytes (percent-decoded; \`+\` is a space), at most ${listPrefixBytesMax} bytes.`, schema: { type: 'string' } },
        { name: 'limit', in: 'query', description: `Keys per page, 1 to ${listKeysMax}; default ${listLimitDefault}.`, schema: { type: 'integer', minimum: 1, maximum: listKeysMax } },
        { name: 'cursor', in: 'query', description: 'From the previous page; absent: from the start.', schema: { type: 'string' } },
        { name: 'tombstones', in: 'query', description: '1 or true: also list keys whose only versions are tombstones (deleted: true).', schema: { enum: ['1', 'true', '0', 'false'] } },
      ],
      'x-gyre-cost': {
        cost: 'scan',
        description: `Expensive: every page reads every replica of every partition it walks (answered with ${costHeader}: scan). Eventually consistent: a key written or deleted during the walk may or may not be listed, and a key on no replica that answered is missing (its partition is in \`unavailable\`).`,
      },
      responses: withGuards(
        {
          '200': jsonResponse('A page.', schemaRef('KeyListing'), { [costHeader]: { description: 'scan: the request read every replica of the partitions it walked.', required: true, schema: { const: 'scan' } } }),
          '400': errorResponse('A bad limit, tombstones, cursor (malformed, from another cluster shape, or from a listing with another prefix) or prefix (malformed, or too long), or a parameter given twice.', ['bad_limit', 'bad_tombstones', 'bad_cursor', 'bad_prefix', 'prefix_too_long', 'bad_request']),
        },
        { shed: true },
      ),
    },
  },
  '/status': {
    get: {
      operationId: 'getStatus',
      summary: 'This node\'s view of the cluster',
      tags: ['operations'],
      description: 'Outside the request budget: answered in a flood too.',
      responses: withGuards({ '200': jsonResponse('The status document.', schemaRef('StatusDocument')) }, { shed: false }),
    },
  },
  '/metrics': {
    get: {
      operationId: 'getMetrics',
      summary: 'Prometheus metrics',
      tags: ['operations'],
      description: 'Outside the request budget: answered in a flood too.',
      responses: withGuards({ '200': { description: 'The Prometheus text exposition format (version 0.0.4).', content: { 'text/plain': { schema: { type: 'string' } } } } }, { shed: false }),
    },
  },
  '/openapi.json': {
    get: {
      operationId: 'getOpenApi',
      summary: 'This document',
      tags: ['operations'],
      responses: withGuards({ '200': jsonResponse('The OpenAPI 3.1 document of this API.', schemaRef('OpenApiDocument')) }, { shed: true }),
    },
  },
  '/admin/join': {
    post: admin({
      operationId: 'join',
      summary: 'Join another cluster (a node started without seeds)',
      description:
        'For a node alone in the one-node cluster it founded (started without --seeds) and holding no data: it asks each seed for its /status, then starts over as a joining node with those seeds, as if started with --seeds (they are kept in its data folder, so a restart goes on joining). It then claims its share of partitions and pulls them from their owners; `/status` shows it joining, then a member. The seeds must run the same Q and N, and take this node\'s cluster token (`gyre join`).',
      requestBody: { description: 'The members to join through.', required: true, content: { [json]: { schema: schemaRef('JoinRequest'), example: { seeds: ['10.0.0.1:7001'] } } } },
      responses: {
        '202': jsonResponse('Joining has begun.', schemaRef('JoinAccepted')),
        '400': errorResponse('A body that is not {"seeds": [...]} (bad_request), or seeds that are not 1 to 16 host:port strings, or that name this node (bad_seeds).', ['bad_request', 'bad_seeds']),
        '409': errorResponse('The node cannot join: it already has other members or is joining, it holds data, or a seed\'s node has its id.', ['cannot_join']),
        '413': errorResponse(`A body over ${joinRequestBytesMax} bytes.`, ['value_too_large']),
        '415': unsupportedMediaType,
        '503': errorResponse('seeds_unreachable: no seed answered (down, unreachable, or refusing this node\'s cluster token), and nothing changed. overloaded: the node sheds the request (Retry-After).', ['seeds_unreachable', 'overloaded'], {
          'Retry-After': { ...headers['Retry-After']!, required: false, description: 'overloaded: seconds to wait before trying again' },
        }),
      },
    }),
  },
  '/admin/leave': {
    post: admin({
      operationId: 'leave',
      summary: 'Decommission this node',
      description: 'Marks the node leaving and plans its partitions onto the other members; once it has handed off every key and hint it exits (`gyre leave`). A body, if sent, is ignored.',
      responses: { '202': jsonResponse('The handoff has begun.', schemaRef('LeaveAccepted')), '409': errorResponse('The node cannot leave: it is the last member, or not a member.', ['cannot_leave']), '415': unsupportedMediaType },
    }),
  },
  '/admin/trace': {
    post: admin({
      operationId: 'trace',
      summary: 'Run one get, put or delete with tracing on',
      description: 'Coordinated here; answers once the steps that continue after the answer (the other replies, read repair, remaining acks) are done, at most 10 s later. The same request as the control plane\'s `trace` event.',
      requestBody: { description: 'What to run.', required: true, content: { [json]: { schema: schemaRef('TraceRequest'), example: { op: 'get', key: 'user:42', r: 3 } } } },
      responses: {
        '200': jsonResponse('What happened, step by step (its own `status` may be any the /kv route would answer).', schemaRef('TraceResult')),
        '400': errorResponse('A body that is not a valid trace request (bad_request), a bad context, or a node not yet able to check contexts (unavailable).', ['bad_request', 'bad_context', 'unavailable']),
        '413': errorResponse(`A body over ${traceRequestBytesMax} bytes.`, ['value_too_large']),
        '415': unsupportedMediaType,
      },
    }),
  },
  '/admin/faults': {
    get: admin({ operationId: 'listFaults', summary: 'The faults in force', responses: { '200': jsonResponse('Also in /status as `faults`.', schemaRef('FaultList')) } }),
    post: admin({
      operationId: 'injectFault',
      summary: 'Inject a fault into the whole cluster',
      description: 'Pushed to every member at once, and spread by gossip to any it missed. Faults act on internode messages only: clients still reach every node.',
      requestBody: { description: 'The fault.', required: true, content: { [json]: { schema: schemaRef('FaultSpec'), example: { kind: 'partition', from: ['n1'], durationMs: 30000 } } } },
      responses: {
        '201': jsonResponse('Injected.', schemaRef('FaultInjected')),
        '400': errorResponse('A spec that is not valid (bad_fault), or that names a node that is not a member (unknown_node).', ['bad_fault', 'unknown_node']),
        '403': adminForbidden(['faults_disabled']),
        '413': errorResponse(`A body over ${faultRequestBytesMax} bytes.`, ['value_too_large']),
        '415': unsupportedMediaType,
      },
    }),
    delete: admin({ operationId: 'healFaults', summary: 'Heal every fault', description: 'Heals every fault this node knows of; one injected concurrently elsewhere stays.', responses: { '200': jsonResponse('Healed.', schemaRef('FaultsHealed')) } }),
    'x-gyre-other-methods': { description: 'Any other method answers 405, Allow: GET, POST, DELETE.', response: responseRef('MethodNotAllowed') },
  },
  '/admin/faults/{id}': {
    parameters: [{ name: 'id', in: 'path', required: true, description: 'A fault id, as listed (percent-encoded).', schema: { type: 'string', minLength: 1 } }],
    delete: admin({
      operationId: 'healFault',
      summary: 'Heal one fault',
      responses: {
        '200': jsonResponse('Healed.', schemaRef('FaultsHealed')),
        '400': errorResponse('An empty or malformed id.', ['bad_fault_id']),
        '404': errorResponse('No fault by that id is in force.', ['no_such_fault']),
      },
    }),
    'x-gyre-other-methods': { description: 'Any other method answers 405, Allow: DELETE.', response: responseRef('MethodNotAllowed') },
  },
  '/admin/log': {
    get: admin({
      operationId: 'getLog',
      summary: 'This node\'s recent log lines',
      description: `From an in-memory buffer of the last ${logRingBytesMax} bytes of log lines, each numbered. Without \`after\`: the last \`lines\` lines; with it: the first \`lines\` lines after it, so a reader follows the log by passing \`next\` back.`,
      parameters: [
        { name: 'lines', in: 'query', description: `Lines at most, 1 to ${logReadLinesMax}; default ${logLinesDefault}.`, schema: { type: 'integer', minimum: 1, maximum: logReadLinesMax } },
        { name: 'filter', in: 'query', description: `Only lines containing this text, ignoring case (at most ${logFilterCharsMax} characters).`, schema: { type: 'string', maxLength: logFilterCharsMax } },
        { name: 'after', in: 'query', description: 'Only lines after this number (`next` of the previous answer).', schema: { type: 'integer', minimum: 0 } },
      ],
      responses: { '200': jsonResponse('The lines, oldest first.', schemaRef('LogPage')), '400': errorResponse('A bad lines, after or filter.', ['bad_lines', 'bad_after', 'bad_filter']) },
    }),
  },
  '/admin/partitions': {
    get: admin({
      operationId: 'getPartitions',
      summary: 'What this node holds, per partition',
      description: 'Every partition this node replicates or still holds data of: keys, bytes, and its anti-entropy state.',
      responses: { '200': jsonResponse('One entry per partition, in order.', schemaRef('PartitionsDocument')) },
    }),
  },
  '/admin/repair': {
    post: admin({
      operationId: 'repair',
      summary: 'Run anti-entropy now',
      description: `Exchanges the partition (or, with {}, every partition this node replicates) with each other replica seen up, the same exchange as the background rounds, repeated until the trees agree. Answers when done, or after about ${repairBudgetMs} ms with what is done (an exchange still running then goes on).`,
      requestBody: { description: 'Which partitions.', required: false, content: { [json]: { schema: schemaRef('RepairRequest'), example: { partition: 3 } } } },
      responses: {
        '200': jsonResponse('What each exchange did.', schemaRef('RepairResult')),
        '400': errorResponse('A body that is not {} or {"partition": p} (bad_request), a partition that is not an integer in 0..Q-1 (bad_partition), or one this node does not replicate (not_replica: the message names the nodes that do).', ['bad_request', 'bad_partition', 'not_replica']),
        '413': errorResponse(`A body over ${repairRequestBytesMax} bytes.`, ['value_too_large']),
        '415': unsupportedMediaType,
      },
    }),
  },
  '/admin/config': {
    get: admin({
      operationId: 'getConfig',
      summary: 'This node\'s effective settings',
      description: 'What the node runs with after flags, GYRE_* variables, the config file and the defaults were resolved. Secrets never appear: tokens are "set" or "unset".',
      responses: { '200': jsonResponse('The settings.', schemaRef('ConfigDocument')) },
    }),
  },
};

export const openApiDocument: OpenApiDocument = {
  openapi: '3.1.1',
  info: {
    title: 'Gyre HTTP API',
    version: nodeVersion,
    summary: 'The client, operator and admin API every Gyre node serves on its client port.',
    description:
      'Any node coordinates any key. Errors are `{"error": code, "message": text}`. Reference in prose, with the RESP commands and the control-plane events: docs/api.md. The fixed core of this API is CONTRACT.md.',
    license: { name: 'MIT', identifier: 'MIT' },
  },
  tags: [
    { name: 'kv', description: 'Keys and their versions' },
    { name: 'operations', description: 'What operators and tools read' },
    { name: 'admin', description: 'Cluster changes and node internals: leave, traces, faults, repair, log, partitions, settings. With an admin token set, only it opens them.' },
  ],
  security: anyToken,
  paths,
  components: {
    schemas,
    responses,
    parameters,
    headers,
    securitySchemes: {
      clusterToken: { type: 'http', scheme: 'bearer', description: 'GYRE_TOKEN (or --token-file): opens every route, and /admin/* too unless an admin token is set. A node started without any token takes none.' },
      adminToken: { type: 'http', scheme: 'bearer', description: 'GYRE_ADMIN_TOKEN (or --admin-token-file): where set, the only credential /admin/* takes; it opens every other route too.' },
    },
  },
  'x-gyre-socket-io': {
    path: '/socket.io/',
    protocol: 'Socket.IO 4 (Engine.IO 4), namespace /',
    description:
      'The control plane, on the same port unless the node runs with --no-control (GET /status lists it as listeners.control). Socket.IO answers everything under this path before the routes above: a client authenticates when it connects (auth: { token }), not per HTTP request.',
    events: 'docs/api.md#control-plane-socketio; types in node-core/src/wire/control.ts',
  },
  'x-gyre-no-route': { description: 'Any other path, and a method not listed on a path without x-gyre-other-methods, answers 404 no_route (after the token and Host checks).', response: responseRef('NoRoute') },
  'x-gyre-cors': {
    description:
      'Off unless the node runs with --cors-origins ORIGINS. A request whose Origin is one of them gets Access-Control-Allow-Origin (and Vary: Origin) on every route but /admin/*; its preflight (OPTIONS with Access-Control-Request-Method) is answered 204 before the token is checked. Other origins get no CORS header, and their preflights are routed like any OPTIONS request.',
    allowMethods,
    allowHeaders,
    exposeHeaders,
  },
  'x-gyre-unparsable': { description: 'A request the HTTP parser refuses (bad syntax), or whose target is not a URL path, answers 400 bad_request before any route is known; headers over the parser\'s limit answer 431 (listed on every operation).', response: responseRef('Unparsable') },
};
