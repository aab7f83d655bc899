// What every guard and route of the HTTP API is given: the node and what is built from it once
// per server, so no handler reaches for state of its own.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { VClock } from '../core/vclock.js';
import type { GyreNode, NodeConfig } from '../node/node.js';
import type { HttpBudget } from './budget.js';
import type { LogRing } from '../node/log-ring.js';
import type { SettingValue } from '../wire/api.js';

export interface ApiContext {
  readonly node: GyreNode;
  readonly config: NodeConfig;
  /** How clients reach this server: 'https' with TLS. */
  readonly scheme: 'http' | 'https';
  /** Whether the Socket.IO control plane shares this server's port (/status lists it). */
  readonly controlOn: boolean;
  /** The RESP front end's host:port, when the node serves one (/status lists it). */
  readonly respAddress: string | undefined;
  /** The node-wide budget of requests and body bytes in flight. */
  readonly budget: HttpBudget;
  /** Origins whose pages may call the data routes (--cors-origins; cors.ts). */
  readonly corsOrigins: ReadonlySet<string>;
  /** Seals `clock` as the opaque context a client sends back with its next write of `key`. */
  readonly contextFor: (clock: VClock, key: Buffer) => string;
  /** The node's recent log lines (GET /admin/log), fed by its logger. */
  readonly logRing: LogRing;
  /** The node's effective settings, secrets reduced to set/unset (GET /admin/config; start/settings-view.ts). */
  readonly settings: Readonly<Record<string, SettingValue>>;
}

/** The label a request is counted under in gyre_requests_total and gyre_request_duration_seconds. */
export type Op = 'get' | 'put' | 'delete' | 'replicas' | 'keys' | 'admin' | 'status' | 'metrics' | 'openapi' | 'other';

/** The path parameters of a route's template (routes.ts), still percent-encoded as the client sent them. */
export type PathParams = Readonly<Record<string, string>>;

/** A route: answers the request and returns the status it sent, for the metrics. */
export type RouteHandler = (ctx: ApiContext, req: IncomingMessage, res: ServerResponse, url: URL, params: PathParams) => Promise<number>;
