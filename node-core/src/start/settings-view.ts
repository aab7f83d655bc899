// What GET /admin/config shows of a node's settings: the effective values it runs with (after
// flags, GYRE_* variables, the config file and the defaults were resolved by cli/), with every
// secret reduced to whether it is set. Built here, where the whole configuration is known, and
// handed to the HTTP API as plain data.

import type { NodeConfig } from '../node/node.js';
import type { RotatingLogOptions } from './rotating-log.js';
import type { TlsFiles } from './tls.js';

/** A setting's value, as wire/api.ts's SettingValue (start/ does not import wire/; the types agree structurally). */
type SettingValue = string | number | boolean | readonly string[] | null;

export interface ListenerSettings {
  readonly control: boolean;
  readonly respPort: number;
  readonly tls?: TlsFiles | undefined;
  readonly log?: RotatingLogOptions | undefined;
}

const secret = (v: string | undefined): 'set' | 'unset' => (v === undefined || v === '' ? 'unset' : 'set');

export function settingsView(config: NodeConfig, listeners: ListenerSettings): Readonly<Record<string, SettingValue>> {
  // Listed field by field, never spread from the config: a secret added to NodeConfig later
  // must not appear here by default.
  return {
    id: config.id,
    dir: config.dir,
    host: config.host,
    advertise: config.advertise ?? null,
    port: config.port,
    internodePort: config.internodePort,
    respPort: listeners.respPort,
    control: listeners.control,
    seeds: [...config.seeds],
    n: config.n,
    r: config.r,
    w: config.w,
    partitions: config.partitions,
    requestTimeoutMs: config.requestTimeoutMs,
    sync: config.sync,
    logLevel: config.logLevel,
    logFile: listeners.log?.file ?? null,
    logMaxBytes: listeners.log?.maxBytes ?? null,
    logFiles: listeners.log?.files ?? null,
    tombstoneGraceMs: config.tombstoneGraceMs,
    reapedRetainMs: config.reapedRetainMs,
    corsOrigins: [...(config.corsOrigins ?? [])],
    allowFaults: config.allowFaults === true,
    tlsCert: listeners.tls?.certFile ?? null,
    tlsKey: listeners.tls?.keyFile ?? null,
    tlsCa: listeners.tls?.caFile ?? null,
    token: secret(config.token),
    adminToken: secret(config.adminToken),
  };
}
