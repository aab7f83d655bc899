// The settings of `gyre node`, from four places, highest first: flags, environment variables
// (GYRE_<NAME>), the config file (--config FILE, JSON), defaults. One table names every setting
// once (flag, variable, config key, kind, default); every value from every place goes through
// the same parser, and all the errors are said at once, naming where each bad value came from.
// Pure: the caller reads the file and passes the environment (tests pass their own).
//
// The cluster token is not a config key: a file that holds settings is copied and shown far
// more than a secret should be. It comes from --token-file (or tokenFile), GYRE_TOKEN or --token.

import { isIPv4, isIPv6 } from 'node:net';
import { isValidPartitionCount } from '../core/partitioner.js';
import { isValidNodeId, seedProblem } from '../core/ids.js';
import { defaultConfig } from '../node/config.js';
import { corsOriginProblem } from '../http/cors.js';

export type Source = 'flag' | 'env' | 'file' | 'default';

type Kind =
  | { readonly t: 'int'; readonly min: number; readonly max: number }
  | { readonly t: 'string'; readonly check?: (v: string) => string | undefined }
  | { readonly t: 'bool' }
  | { readonly t: 'list'; readonly check: (v: string) => string | undefined }
  | { readonly t: 'enum'; readonly values: readonly string[] };

interface Setting {
  readonly key: keyof NodeSettings;
  readonly flag: string;
  readonly env?: string;
  readonly kind: Kind;
  /** A path: relative ones in the config file are taken from the file's folder. */
  readonly path?: boolean;
  readonly help: string;
}

export interface NodeSettings {
  readonly id: string;
  readonly dir: string | undefined;
  readonly host: string;
  readonly advertise: string;
  readonly port: number;
  readonly internodePort: number;
  readonly respPort: number;
  readonly seeds: readonly string[];
  readonly corsOrigins: readonly string[];
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly partitions: number;
  readonly timeoutMs: number;
  readonly sync: 'normal' | 'full';
  readonly tokenFile: string | undefined;
  readonly adminTokenFile: string | undefined;
  readonly allowFaults: boolean;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  readonly tlsCa: string | undefined;
  readonly logLevel: string;
  readonly logFile: string | undefined;
  readonly logMaxBytes: number;
  readonly logFiles: number;
  readonly control: boolean;
  readonly tombstoneGraceMs: number;
  readonly reapedRetainMs: number;
}

/**
 * The internode and RESP ports follow the client port unless given, so a firewall rule or a
 * Service can name them: port + 1000 and port + 2000 (7070: 8070 and 9070). A client port of 0
 * (any free one) leaves them free too.
 */
export const internodePortOffset = 1000;
export const respPortOffset = 2000;
const portMax = 65535;
export const logMaxBytesDefault = 10 * 1024 * 1024;
export const logFilesDefault = 5;
const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const hostNamePattern = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;
const unbracket = (v: string) => (v.startsWith('[') && v.endsWith(']') ? v.slice(1, -1) : v);
/**
 * A host: a name, an IPv4 address, or an IPv6 address (bare or in brackets). Not a port (an
 * address with one is no host), and not the digits-and-dots shorthands (0, 127.1) the resolver
 * would take for addresses nobody reads them as.
 */
function checkHost(v: string): string | undefined {
  const ip = unbracket(v);
  if (isIPv6(ip) || (ip === v && isIPv4(v))) return undefined;
  if (hostNamePattern.test(v) && !/^[\d.]+$/.test(v)) return undefined;
  return /^[^/]+:\d+$/.test(v) && !isIPv6(v) ? 'must be a host without a port (the ports are --port, --internode-port and --resp-port)' : 'must be a host name or an IP address (no port, no scheme; IPv4 as four numbers)';
}
const portKind: Kind = { t: 'int', min: 0, max: portMax };
const ms = (max: number): Kind => ({ t: 'int', min: 0, max });
const day = 86_400_000;

export const nodeSettingTable: readonly Setting[] = [
  { key: 'id', flag: '--id', env: 'GYRE_ID', kind: { t: 'string', check: (v) => (isValidNodeId(v) ? undefined : 'use letters, digits, - and _ (at most 64)') }, help: 'node id (letters, digits, - and _), fixed for the life of its data' },
  { key: 'dir', flag: '--dir', kind: { t: 'string' }, path: true, help: 'data folder (default $GYRE_DIR/<id>, $GYRE_DIR defaulting to ~/.gyre)' },
  { key: 'host', flag: '--host', env: 'GYRE_HOST', kind: { t: 'string', check: checkHost }, help: 'address to listen on (0.0.0.0 or :: for every address, with --advertise)' },
  { key: 'advertise', flag: '--advertise', env: 'GYRE_ADVERTISE', kind: { t: 'string', check: checkHost }, help: 'the host peers and clients reach this node by (default: --host; required when --host is a wildcard)' },
  { key: 'port', flag: '--port', env: 'GYRE_PORT', kind: portKind, help: 'client HTTP port (the control plane shares it)' },
  { key: 'internodePort', flag: '--internode-port', env: 'GYRE_INTERNODE_PORT', kind: portKind, help: `internode port (default --port + ${internodePortOffset}; 0 picks a free one, announced in /status)` },
  { key: 'respPort', flag: '--resp-port', env: 'GYRE_RESP_PORT', kind: portKind, help: `RESP (Redis protocol) port (default --port + ${respPortOffset}; 0 picks a free one, announced in /status as listeners.resp)` },
  { key: 'seeds', flag: '--seeds', env: 'GYRE_SEEDS', kind: { t: 'list', check: seedProblem }, help: 'other nodes, host:port of their client port, comma-separated (a JSON array in the config file)' },
  { key: 'corsOrigins', flag: '--cors-origins', env: 'GYRE_CORS_ORIGINS', kind: { t: 'list', check: (v) => corsOriginProblem(v) }, help: 'origins whose web pages may call the data routes with the client library, comma-separated (e.g. https://app.example.com); none by default' },
  { key: 'n', flag: '--n', env: 'GYRE_N', kind: { t: 'int', min: 1, max: 16 }, help: 'replicas per key (fixed at cluster creation)' },
  { key: 'r', flag: '--r', env: 'GYRE_R', kind: { t: 'int', min: 1, max: 16 }, help: 'default read quorum' },
  { key: 'w', flag: '--w', env: 'GYRE_W', kind: { t: 'int', min: 1, max: 16 }, help: 'default write quorum' },
  { key: 'partitions', flag: '--partitions', env: 'GYRE_PARTITIONS', kind: { t: 'int', min: 1, max: 65536 }, help: 'ring partitions, a power of two (fixed at cluster creation)' },
  { key: 'timeoutMs', flag: '--timeout-ms', env: 'GYRE_TIMEOUT_MS', kind: { t: 'int', min: 1, max: 600_000 }, help: 'request timeout (ms)' },
  { key: 'sync', flag: '--sync', env: 'GYRE_SYNC', kind: { t: 'enum', values: ['normal', 'full'] }, help: 'SQLite sync: normal survives process crashes, full also power loss' },
  { key: 'tokenFile', flag: '--token-file', env: 'GYRE_TOKEN_FILE', kind: { t: 'string' }, path: true, help: 'read the cluster token from this file (first line; mode 600)' },
  { key: 'adminTokenFile', flag: '--admin-token-file', env: 'GYRE_ADMIN_TOKEN_FILE', kind: { t: 'string' }, path: true, help: 'read the admin token from this file (default $GYRE_ADMIN_TOKEN): when set, only it opens /admin/*, faults, traces and leave' },
  { key: 'allowFaults', flag: '--allow-faults', env: 'GYRE_ALLOW_FAULTS', kind: { t: 'bool' }, help: 'accept fault injection (kill, pause, partition, latency, loss); refused with 403 without it' },
  { key: 'tlsCert', flag: '--tls-cert', env: 'GYRE_TLS_CERT', kind: { t: 'string' }, path: true, help: 'certificate (PEM) for every listener: HTTP becomes https, RESP and internode TLS' },
  { key: 'tlsKey', flag: '--tls-key', env: 'GYRE_TLS_KEY', kind: { t: 'string' }, path: true, help: "the certificate's private key (PEM)" },
  { key: 'tlsCa', flag: '--tls-ca', env: 'GYRE_TLS_CA', kind: { t: 'string' }, path: true, help: "CA (PEM) peers' certificates must chain to: internode connections become mutual TLS, and seeds are checked against it" },
  { key: 'logLevel', flag: '--log-level', env: 'GYRE_LOG_LEVEL', kind: { t: 'enum', values: logLevels }, help: 'log level' },
  { key: 'logFile', flag: '--log-file', env: 'GYRE_LOG_FILE', kind: { t: 'string' }, path: true, help: 'write the log to this file, rotated by size (default: standard output)' },
  { key: 'logMaxBytes', flag: '--log-max-bytes', env: 'GYRE_LOG_MAX_BYTES', kind: { t: 'int', min: 4096, max: 1 << 30 }, help: `rotate the log file past this size (default ${logMaxBytesDefault})` },
  { key: 'logFiles', flag: '--log-files', env: 'GYRE_LOG_FILES', kind: { t: 'int', min: 1, max: 100 }, help: `rotated log files kept besides the current one (default ${logFilesDefault})` },
  { key: 'control', flag: '--control', env: 'GYRE_CONTROL', kind: { t: 'bool' }, help: 'serve the Socket.IO control plane on the client port (default true; --no-control)' },
  { key: 'tombstoneGraceMs', flag: '--tombstone-grace-ms', env: 'GYRE_TOMBSTONE_GRACE_MS', kind: ms(365 * day), help: 'reap a deleted key this long after its delete, once every replica has the tombstone' },
  { key: 'reapedRetainMs', flag: '--reaped-retain-ms', env: 'GYRE_REAPED_RETAIN_MS', kind: ms(3650 * day), help: 'remember reaped keys this long to drop stale copies' },
];

type Raw = string | number | boolean | readonly string[];

const fixedDefaults: Partial<Record<keyof NodeSettings, Raw>> = {
  host: '127.0.0.1',
  seeds: [],
  corsOrigins: [],
  n: defaultConfig.n,
  r: defaultConfig.r,
  w: defaultConfig.w,
  partitions: defaultConfig.partitions,
  timeoutMs: defaultConfig.requestTimeoutMs,
  sync: defaultConfig.sync,
  allowFaults: false,
  logLevel: defaultConfig.logLevel,
  logMaxBytes: logMaxBytesDefault,
  logFiles: logFilesDefault,
  control: true,
  tombstoneGraceMs: defaultConfig.tombstoneGraceMs,
  reapedRetainMs: defaultConfig.reapedRetainMs,
};

/** Parses one value as its setting's kind; strings (flags, variables) and JSON values (the file) alike. */
function parseValue(s: Setting, v: unknown): { ok: true; value: Raw } | { ok: false; why: string } {
  const k = s.kind;
  switch (k.t) {
    case 'int': {
      const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : v;
      if (typeof n !== 'number' || !Number.isSafeInteger(n)) return { ok: false, why: 'must be an integer' };
      if (n < k.min || n > k.max) return { ok: false, why: `must be in ${k.min}..${k.max}` };
      return { ok: true, value: n };
    }
    case 'bool': {
      if (typeof v === 'boolean') return { ok: true, value: v };
      if (typeof v === 'string' && /^(1|true|yes|on)$/i.test(v)) return { ok: true, value: true };
      if (typeof v === 'string' && /^(0|false|no|off)$/i.test(v)) return { ok: true, value: false };
      return { ok: false, why: 'must be true or false' };
    }
    case 'enum':
      if (typeof v !== 'string' || !k.values.includes(v)) return { ok: false, why: `must be one of ${k.values.join(', ')}` };
      return { ok: true, value: v };
    case 'list': {
      const items = typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter(Boolean) : Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]).map((x) => x.trim()) : undefined;
      if (!items) return { ok: false, why: 'must be a comma-separated list (a JSON array of strings in the config file)' };
      for (const item of items) {
        const why = k.check(item);
        if (why) return { ok: false, why };
      }
      return { ok: true, value: items };
    }
    case 'string': {
      if (typeof v !== 'string' || v.length === 0) return { ok: false, why: 'must be a non-empty string' };
      const why = k.check?.(v);
      return why ? { ok: false, why } : { ok: true, value: v };
    }
  }
}

export interface SettingsInput {
  /** Flag values commander parsed, by key (strings, or booleans for switches); absent = not given. */
  readonly flags: Readonly<Partial<Record<keyof NodeSettings, unknown>>>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The config file's parsed JSON and its folder (relative paths start there), if one was given. */
  readonly file?: { readonly name: string; readonly folder: string; readonly json: unknown };
  /** Joins a relative path onto the config file's folder (path.resolve; passed in to keep this pure). */
  readonly resolvePath: (folder: string, p: string) => string;
}

export type SettingsResult = { readonly ok: true; readonly settings: NodeSettings; readonly sources: Readonly<Record<keyof NodeSettings, Source>> } | { readonly ok: false; readonly errors: readonly string[] };

/** 0.0.0.0, ::, or any spelling of them (::0, 0:0:0:0:0:0:0:0, ::ffff:0.0.0.0). */
function isWildcard(h: string): boolean {
  const ip = unbracket(h);
  if (isIPv4(ip)) return ip === '0.0.0.0';
  if (!isIPv6(ip)) return false;
  const normal = new URL(`http://[${ip}]/`).hostname;
  return normal === '[::]' || normal === '[::ffff:0:0]';
}

/** How an address is written beside a port: IPv6 in brackets. */
const hostForAddress = (h: string) => (isIPv6(unbracket(h)) ? `[${unbracket(h)}]` : h);

/** Merges flags > environment > file > defaults, then checks what only the whole can tell. */
export function resolveNodeSettings(input: SettingsInput): SettingsResult {
  const errors: string[] = [];
  const values: Partial<Record<keyof NodeSettings, Raw>> = {};
  const sources: Partial<Record<keyof NodeSettings, Source>> = {};
  const file = input.file ? fileEntries(input.file.json, input.file.name, errors) : new Map<string, unknown>();
  for (const s of nodeSettingTable) {
    const env = s.env ? input.env[s.env] : undefined;
    const from: [Source, unknown, string][] = [
      ['flag', input.flags[s.key], s.flag],
      ['env', env === '' ? undefined : env, s.env ?? ''],
      ['file', file.get(s.key), `${s.key} in ${input.file?.name ?? ''}`],
    ];
    const found = from.find(([, v]) => v !== undefined);
    if (!found) continue;
    const [source, raw, where] = found;
    const parsed = parseValue(s, raw);
    if (!parsed.ok) {
      errors.push(`${where}: ${parsed.why}`);
      continue;
    }
    values[s.key] = s.path && source === 'file' && input.file ? input.resolvePath(input.file.folder, parsed.value as string) : parsed.value;
    sources[s.key] = source;
  }
  for (const [k, v] of Object.entries(fixedDefaults) as [keyof NodeSettings, Raw][]) {
    if (values[k] === undefined) {
      values[k] = v;
      sources[k] = 'default';
    }
  }
  if (values.id === undefined) errors.push('no node id: give --id, GYRE_ID or "id" in the config file');
  if (values.port === undefined) errors.push('no client port: give --port, GYRE_PORT or "port" in the config file');
  if (errors.length > 0) return { ok: false, errors };
  derive(values, sources, errors);
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, settings: values as unknown as NodeSettings, sources: sources as Record<keyof NodeSettings, Source> };
}

/** The file's keys, each known to the table (a typo is an error, not a silent default). */
function fileEntries(json: unknown, name: string, errors: string[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    errors.push(`${name}: a config file is a JSON object of settings`);
    return out;
  }
  const known = new Set<string>(nodeSettingTable.map((s) => s.key));
  for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
    if (k === 'token' || k === 'adminToken') errors.push(`${name}: "${k}" does not belong in a config file; put the token in a file of its own (mode 600) and name it with "${k}File"`);
    else if (k.startsWith('//')) continue; // comments: JSON has none, so "//": "..." keys stand in
    else if (!known.has(k)) errors.push(`${name}: unknown setting "${k}"`);
    else out.set(k, v);
  }
  return out;
}

/** Defaults that follow other settings, and the rules between settings. */
function derive(values: Partial<Record<keyof NodeSettings, Raw>>, sources: Partial<Record<keyof NodeSettings, Source>>, errors: string[]): void {
  const p = values.port as number;
  for (const [key, offset, flag] of [['internodePort', internodePortOffset, '--internode-port'], ['respPort', respPortOffset, '--resp-port']] as const) {
    if (values[key] !== undefined) continue;
    const v = p === 0 ? 0 : p + offset;
    if (v > portMax) errors.push(`--port ${p} leaves no room for the default ${flag} (--port + ${offset} = ${v}): give ${flag}`);
    values[key] = v;
    sources[key] = 'default';
  }
  const host = values.host as string;
  if (values.advertise === undefined) {
    if (isWildcard(host)) errors.push(`--host ${host} listens on every address, but peers and clients need one they can reach: give --advertise HOST (this node's name or address on the network)`);
    values.advertise = hostForAddress(host);
    sources.advertise = 'default';
  } else if (isWildcard(values.advertise as string)) errors.push(`--advertise ${values.advertise as string} is a wildcard: name the address peers and clients reach this node by`);
  else values.advertise = hostForAddress(values.advertise as string);
  // The listener takes an IPv6 address bare.
  values.host = unbracket(host);
  if (!isValidPartitionCount(values.partitions as number)) errors.push(`--partitions must be a power of two, got ${values.partitions as number}`);
  if ((values.r as number) > (values.n as number) || (values.w as number) > (values.n as number)) errors.push(`--r and --w must not exceed --n (${values.n as number})`);
  const ports = [values.port, values.internodePort, values.respPort].filter((x) => x !== 0);
  if (new Set(ports).size !== ports.length) errors.push(`--port, --internode-port and --resp-port must differ (${ports.join(', ')})`);
  const tls = [values.tlsCert, values.tlsKey];
  if (tls.filter((x) => x !== undefined).length === 1) errors.push('--tls-cert and --tls-key go together');
  if (values.tlsCa !== undefined && values.tlsCert === undefined) errors.push('--tls-ca needs --tls-cert and --tls-key');
}

/** The settings as a config file (what --print-config prints; --config reads it back). */
export function asConfigFile(s: NodeSettings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const t of nodeSettingTable) if (s[t.key] !== undefined) out[t.key] = s[t.key];
  return out;
}
