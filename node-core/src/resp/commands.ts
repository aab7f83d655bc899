// What each RESP command does (docs/resp.md is the user's page). Redis's commands map onto
// Dynamo's operations like this:
// - GET reads at R. One live version: its value. No live version: a null bulk. Siblings: the
//   error `CONFLICT` (a client that expects one value must not be handed one silently);
//   GYRE.GET returns every sibling and the context.
// - SET writes without a context and supersedes every version its coordinator holds (a blind
//   overwrite, as Redis users expect); versions the coordinator has not seen survive as siblings.
//   GYRE.PUT writes with a context, exactly as an HTTP PUT does.
// - DEL reads each key at R and writes a tombstone covering what the read saw (as HTTP DELETE
//   without a context does). EXISTS reads at R.
// - MGET and MSET are a GET or SET per key, run together; MSET is not atomic.
// Every failure is an error reply with the HTTP API's error code as its first word
// (UNAVAILABLE, BAD_CONTEXT, VALUE_TOO_LARGE, TOO_MANY_SIBLINGS...).

import { contentTypeBytesMax, keyBytesMax } from '../core/codec.js';
import type { Failure, ReadResult, WriteResult } from '../core/coordinator.js';
import type { Version } from '../core/siblings.js';
import { emptyClock, type VClock } from '../core/vclock.js';
import type { ContextCheck } from '../node/context-keys.js';
import { arrayReply, bulkReply, emptyArrayReply, errorReply, integerReply, nullBulkReply, okReply, pongReply } from './protocol.js';

/** What a command reaches of the node: the coordinator's two operations and the context seal. */
export interface RespNode {
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly timeoutMs: number;
  get(key: Buffer, r: number, timeoutMs: number): Promise<ReadResult>;
  put(req: { key: Buffer; deleted: boolean; value: Buffer; contentType: string; context: VClock; w: number; timeoutMs: number; supersede: boolean }): Promise<WriteResult>;
  checkContext(token: string, key: Buffer): Promise<ContextCheck>;
  contextFor(clock: VClock, key: Buffer): string;
  /** INFO's text and CONFIG GET's values. */
  info(): RespInfo;
}

export interface RespInfo {
  readonly nodeId: string;
  /** The node's client HTTP address (tools find the cluster's members from its /status). */
  readonly http: string;
  readonly version: string;
  readonly port: number;
  readonly uptimeSeconds: number;
  readonly connectedClients: number;
  readonly keysHere: number;
  readonly sync: string;
}

/** Per connection: what AUTH and CLIENT SETNAME change. */
export interface RespSession {
  readonly id: number;
  authenticated: boolean;
  name: string;
}

export type TokenCheck = (candidate: Buffer) => boolean;

/** A command's keys, for the connection's per-key ordering (see server.ts). */
export function commandKeys(args: readonly Buffer[]): readonly Buffer[] {
  const name = commandName(args[0]!);
  switch (name) {
    case 'get':
    case 'set':
    case 'gyre.get':
    case 'gyre.put':
    case 'gyre.del':
      return args.length > 1 ? [args[1]!] : [];
    case 'del':
    case 'exists':
    case 'mget':
      return args.slice(1);
    case 'mset':
      return args.filter((_, i) => i % 2 === 1);
    default:
      return [];
  }
}

/** Whether the command ends its connection (see Spec.closes): the server stops reading at it. */
export function closesConnection(args: readonly Buffer[]): boolean {
  return commands.get(commandName(args[0]!))?.closes === true;
}

/** Whether `name` (lower case) is a command this front end knows. */
export function isCommand(name: string): boolean {
  return commands.has(name);
}

/** ASCII lower case of a command name (names are case-insensitive). */
export function commandName(arg: Buffer): string {
  return arg.length <= commandNameBytesMax ? arg.toString('latin1').toLowerCase() : '';
}
const commandNameBytesMax = 32;

const defaultContentType = 'application/octet-stream';
const redisVersion = '7.0.0';

/** Commands that run before AUTH on a node with a token (as Redis allows them). */
const beforeAuth = new Set(['auth', 'hello', 'quit']);

type Handler = (node: RespNode, args: readonly Buffer[], session: RespSession, tokenOk: TokenCheck | undefined) => Promise<Buffer> | Buffer;

/** Runs one command; never throws: every failure is an error reply. */
export async function runCommand(node: RespNode, args: readonly Buffer[], session: RespSession, tokenOk: TokenCheck | undefined): Promise<Buffer> {
  const name = commandName(args[0]!);
  const spec = commands.get(name);
  if (!spec) return errorReply('ERR', `unknown command '${quote(args[0]!)}', with args beginning with: ${args.slice(1, 4).map((a) => `'${quote(a)}'`).join(' ')}`);
  if (tokenOk && !session.authenticated && !beforeAuth.has(name)) return errorReply('NOAUTH', 'Authentication required.');
  if (args.length < spec.min || (spec.max !== undefined && args.length > spec.max) || (spec.pairs && args.length % 2 === 0)) return errorReply('ERR', `wrong number of arguments for '${name}' command`);
  try {
    return await spec.run(node, args, session, tokenOk);
  } catch (e) {
    if (e instanceof CommandError) return errorReply(e.code, e.message);
    return errorReply('ERR', `internal error: ${(e as Error).message}`);
  }
}

class CommandError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A printable, short form of a client's argument for an error message. */
function quote(arg: Buffer): string {
  const quotedBytesMax = 64;
  return arg
    .subarray(0, quotedBytesMax)
    .toString('latin1')
    .replace(/[^\x20-\x7e]|'/g, '?');
}

function keyOf(arg: Buffer): Buffer {
  if (arg.length === 0) throw new CommandError('ERR', 'the key is empty (keys are 1 to 1024 bytes)');
  if (arg.length > keyBytesMax) throw new CommandError('KEY_TOO_LONG', `keys are at most ${keyBytesMax} bytes`);
  return arg;
}

function failure(f: Failure): CommandError {
  return new CommandError(f.error.toUpperCase(), f.message);
}

function integerArg(arg: Buffer, what: string, min: number, max: number): number {
  const s = arg.toString('latin1');
  if (!/^\d{1,6}$/.test(s) || Number(s) < min || Number(s) > max) throw new CommandError('ERR', `${what} must be an integer in ${min}..${max}`);
  return Number(s);
}

/** Trailing `R n`, `W n`, `TYPE ct` options of the GYRE.* commands. */
function options(node: RespNode, args: readonly Buffer[], allowed: readonly string[]): { r: number; w: number; contentType: string } {
  const out = { r: node.r, w: node.w, contentType: defaultContentType };
  for (let i = 0; i < args.length; i += 2) {
    const opt = commandName(args[i]!);
    const value = args[i + 1];
    if (!allowed.includes(opt) || value === undefined) throw new CommandError('ERR', `syntax error (options: ${allowed.map((a) => a.toUpperCase()).join(', ')}, each with a value)`);
    if (opt === 'r') out.r = integerArg(value, 'R', 1, node.n);
    else if (opt === 'w') out.w = integerArg(value, 'W', 1, node.n);
    else {
      // Checked as stored: bytes that are not UTF-8 would grow when decoded.
      const contentType = value.toString();
      if (Buffer.byteLength(contentType) > contentTypeBytesMax) throw new CommandError('BAD_CONTENT_TYPE', `content types are at most ${contentTypeBytesMax} bytes`);
      out.contentType = contentType;
    }
  }
  return out;
}

async function read(node: RespNode, key: Buffer, r = node.r): Promise<Extract<ReadResult, { versions: Version[] }>> {
  const out = await node.get(key, r, node.timeoutMs);
  if (!('versions' in out)) throw failure(out);
  return out;
}

async function write(node: RespNode, key: Buffer, value: Buffer, how: { context: VClock; supersede: boolean; deleted?: boolean; w?: number; contentType?: string }): Promise<Extract<WriteResult, { status: 204 }>> {
  const out = await node.put({
    key,
    deleted: how.deleted ?? false,
    value,
    contentType: how.contentType ?? (how.deleted ? '' : defaultContentType),
    context: how.context,
    w: how.w ?? node.w,
    timeoutMs: node.timeoutMs,
    supersede: how.supersede,
  });
  if (out.status !== 204) throw failure(out);
  return out;
}

/** GET's answer for one key: the value, a null bulk, or the CONFLICT error (also inside MGET's array). */
function getReply(out: Extract<ReadResult, { versions: Version[] }>): Buffer {
  if (out.status === 404) return nullBulkReply;
  if (out.status === 300) {
    const live = out.versions.filter((v) => !v.deleted).length;
    return errorReply('CONFLICT', `the key has ${out.versions.length} concurrent versions (${live} live); GYRE.GET returns them all with the context to resolve them`);
  }
  return bulkReply(out.versions[0]!.value);
}

async function get(node: RespNode, args: readonly Buffer[]): Promise<Buffer> {
  return getReply(await read(node, keyOf(args[1]!)));
}

const setOptionsUnsupported = 'SET options (EX, PX, EXAT, PXAT, NX, XX, KEEPTTL, GET) are not supported: Gyre keys do not expire and writes are not conditional';

async function set(node: RespNode, args: readonly Buffer[]): Promise<Buffer> {
  if (args.length > 3) throw new CommandError('ERR', setOptionsUnsupported);
  await write(node, keyOf(args[1]!), args[2]!, { context: emptyClock, supersede: true });
  return okReply;
}

/** The keys named, each once (DEL k k deletes k once and counts 1, as in Redis). */
function distinctKeys(args: readonly Buffer[]): Buffer[] {
  const seen = new Map<string, Buffer>();
  for (const a of args) seen.set(keyOf(a).toString('latin1'), a);
  return [...seen.values()];
}

async function del(node: RespNode, args: readonly Buffer[]): Promise<Buffer> {
  const keys = distinctKeys(args.slice(1));
  const deleted = await Promise.all(
    keys.map(async (key) => {
      const seen = await read(node, key);
      if (seen.status === 404) return 0;
      await write(node, key, Buffer.alloc(0), { context: seen.context ?? emptyClock, supersede: false, deleted: true });
      return 1;
    }),
  );
  return integerReply(deleted.reduce<number>((a, b) => a + b, 0));
}

async function exists(node: RespNode, args: readonly Buffer[]): Promise<Buffer> {
  // Every key checked before any is read; a key named twice counts twice, as in Redis.
  const keys = args.slice(1).map(keyOf);
  const found = await Promise.all(keys.map(async (k) => ((await read(node, k)).status === 404 ? 0 : 1)));
  return integerReply(found.reduce<number>((a, b) => a + b, 0));
}

/** Keys an MGET reads at once, and the reply it may build: its memory is bounded in bytes, not only in keys. */
const mgetBatchKeys = 64;
export const mgetReplyBytesMax = 32 * 1024 * 1024;

async function mget(node: RespNode, args: readonly Buffer[]): Promise<Buffer> {
  const keys = args.slice(1).map(keyOf);
  const items: Buffer[] = [];
  let bytes = 0;
  for (let i = 0; i < keys.length; i += mgetBatchKeys) {
    // One key's failure is that key's element; the others still answer.
    const batch = await Promise.all(keys.slice(i, i + mgetBatchKeys).map((k) => read(node, k).then(getReply, (e: unknown) => (e instanceof CommandError ? errorReply(e.code, e.message) : errorReply('ERR', String(e))))));
    for (const b of batch) bytes += b.length;
    if (bytes > mgetReplyBytesMax) throw new CommandError('ERR', `the MGET reply would exceed ${mgetReplyBytesMax} bytes; ask for fewer keys at a time`);
    items.push(...batch);
  }
  return arrayReply(items);
}

async function mset(node: RespNode, args: readonly Buffer[]): Promise<Buffer> {
  const pairs: [Buffer, Buffer][] = [];
  for (let i = 1; i < args.length; i += 2) pairs.push([keyOf(args[i]!), args[i + 1]!]);
  const results = await Promise.allSettled(pairs.map(([k, v]) => write(node, k, v, { context: emptyClock, supersede: true })));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return okReply;
}

async function parseContextArg(node: RespNode, arg: Buffer, key: Buffer): Promise<VClock> {
  const token = arg.toString('latin1').trim();
  if (token === '') return emptyClock;
  const checked = await node.checkContext(token, key);
  if (!checked.ok && 'notJoined' in checked) throw new CommandError('UNAVAILABLE', checked.reason);
  if (!checked.ok) throw new CommandError('BAD_CONTEXT', checked.reason);
  return checked.clock;
}

/** GYRE.GET key [R n]: [context or null, [[value, content type, deleted 0/1], ...]]. */
async function gyreGet(node: RespNode, args: readonly Buffer[]): Promise<Buffer> {
  const key = keyOf(args[1]!);
  const { r } = options(node, args.slice(2), ['r']);
  const out = await read(node, key, r);
  const siblings = out.versions.map((v) => arrayReply([bulkReply(v.value), bulkReply(v.contentType), integerReply(v.deleted ? 1 : 0)]));
  return arrayReply([out.context ? bulkReply(node.contextFor(out.context, key)) : nullBulkReply, siblings.length > 0 ? arrayReply(siblings) : emptyArrayReply]);
}

/** GYRE.PUT key context value [W n] [TYPE content-type]: the new version's context. */
async function gyrePut(node: RespNode, args: readonly Buffer[]): Promise<Buffer> {
  const key = keyOf(args[1]!);
  const { w, contentType } = options(node, args.slice(4), ['w', 'type']);
  const context = await parseContextArg(node, args[2]!, key);
  const out = await write(node, key, args[3]!, { context, supersede: false, w, contentType });
  return bulkReply(node.contextFor(out.clock, key));
}

/** GYRE.DEL key context [W n]: a tombstone covering the context; the tombstone's context. */
async function gyreDel(node: RespNode, args: readonly Buffer[]): Promise<Buffer> {
  const key = keyOf(args[1]!);
  const { w } = options(node, args.slice(3), ['w']);
  const context = await parseContextArg(node, args[2]!, key);
  const out = await write(node, key, Buffer.alloc(0), { context, supersede: false, deleted: true, w });
  return bulkReply(node.contextFor(out.clock, key));
}

function auth(_node: RespNode, args: readonly Buffer[], session: RespSession, tokenOk: TokenCheck | undefined): Buffer {
  if (!tokenOk) return errorReply('ERR', 'AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
  // AUTH password, or AUTH username password with the one user there is.
  const user = args.length === 3 ? args[1]!.toString('latin1') : 'default';
  const password = args[args.length - 1]!;
  if (user !== 'default' || !tokenOk(password)) {
    session.authenticated = false;
    return errorReply('WRONGPASS', 'invalid username-password pair or user is disabled.');
  }
  session.authenticated = true;
  return okReply;
}

/** HELLO [2 [AUTH user pass] [SETNAME name]]: RESP2 only; the server's properties as a flat array. */
function hello(node: RespNode, args: readonly Buffer[], session: RespSession, tokenOk: TokenCheck | undefined): Buffer {
  if (args.length > 1 && args[1]!.toString('latin1') !== '2') return errorReply('NOPROTO', 'sorry, this protocol version is not supported (Gyre speaks RESP2)');
  for (let i = 2; i < args.length; i++) {
    const opt = commandName(args[i]!);
    if (opt === 'auth' && i + 2 < args.length) {
      const r = auth(node, [args[i]!, args[i + 1]!, args[i + 2]!], session, tokenOk);
      if (r !== okReply) return r;
      i += 2;
    } else if (opt === 'setname' && i + 1 < args.length) {
      session.name = args[++i]!.toString('latin1');
    } else return errorReply('ERR', `syntax error in HELLO option '${quote(args[i]!)}'`);
  }
  if (tokenOk && !session.authenticated) return errorReply('NOAUTH', 'HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time');
  const info = node.info();
  return arrayReply([
    bulkReply('server'), bulkReply('redis'),
    bulkReply('version'), bulkReply(redisVersion),
    bulkReply('proto'), integerReply(2),
    bulkReply('id'), integerReply(session.id),
    bulkReply('mode'), bulkReply('standalone'),
    bulkReply('role'), bulkReply('master'),
    bulkReply('modules'), emptyArrayReply,
    bulkReply('gyre'), bulkReply(`${info.version} node ${info.nodeId}`),
  ]);
}

function infoText(node: RespNode): string {
  const i = node.info();
  const sections = [
    ['# Server', `redis_version:${redisVersion}`, `gyre_version:${i.version}`, `gyre_node:${i.nodeId}`, `gyre_http:${i.http}`, 'redis_mode:standalone', `tcp_port:${i.port}`, `uptime_in_seconds:${i.uptimeSeconds}`, `process_id:${process.pid}`],
    ['# Clients', `connected_clients:${i.connectedClients}`],
    ['# Persistence', 'loading:0', `gyre_sync:${i.sync}`],
    ['# Replication', 'role:master', 'connected_slaves:0'],
    // Keys held by this node's replicas, not the cluster's count.
    ['# Keyspace', ...(i.keysHere > 0 ? [`db0:keys=${i.keysHere},expires=0,avg_ttl=0`] : [])],
  ];
  return sections.map((s) => s.join('\r\n')).join('\r\n\r\n') + '\r\n';
}

/** CONFIG GET pattern...: name/value pairs of the settings clients ask about, as Redis answers. */
function configGet(node: RespNode, args: readonly Buffer[]): Buffer {
  const i = node.info();
  const settings: Record<string, string> = {
    save: '',
    appendonly: 'no',
    databases: '1',
    port: String(i.port),
    timeout: '0',
    maxmemory: '0',
    'proto-max-bulk-len': String(1024 * 1024),
    'gyre-sync': i.sync,
  };
  const out: Buffer[] = [];
  for (const pattern of args.slice(2).map((a) => a.toString('latin1').toLowerCase())) {
    const re = globToRegExp(pattern);
    for (const [name, value] of Object.entries(settings)) if (re.test(name)) out.push(bulkReply(name), bulkReply(value));
  }
  return arrayReply(out);
}

/**
 * Redis's glob (`*`, `?`, `[abc]`, `[a-z]`, `[^x]`, `\\x`) as a regular expression; a malformed
 * pattern (an unterminated class) matches nothing, as in Redis.
 */
function globToRegExp(glob: string): RegExp {
  const special = /[.+^${}()|[\]\\*?/-]/g;
  const esc = (c: string) => c.replace(special, '\\$&');
  let body = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') body += '.*';
    else if (c === '?') body += '.';
    else if (c === '\\' && i + 1 < glob.length) body += esc(glob[++i]!);
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) return /$^/;
      let cls = glob.slice(i + 1, close);
      const negate = cls.startsWith('^');
      if (negate) cls = cls.slice(1);
      body += `[${negate ? '^' : ''}${[...cls].map((x, j, all) => (x === '-' && j > 0 && j < all.length - 1 ? '-' : esc(x))).join('')}]`;
      i = close;
    } else body += esc(c);
  }
  return new RegExp(`^${body}$`, 's');
}

function config(node: RespNode, args: readonly Buffer[]): Buffer {
  const sub = commandName(args[1]!);
  if (sub === 'get' && args.length >= 3) return configGet(node, args);
  if (sub === 'resetstat') return okReply;
  return errorReply('ERR', `CONFIG ${quote(args[1]!).toUpperCase()} is not supported (Gyre is configured by its command line)`);
}

function client(_node: RespNode, args: readonly Buffer[], session: RespSession): Buffer {
  const sub = commandName(args[1]!);
  if (sub === 'setname' && args.length === 3) {
    session.name = args[2]!.toString('latin1');
    return okReply;
  }
  if (sub === 'getname') return session.name ? bulkReply(session.name) : nullBulkReply;
  if (sub === 'id') return integerReply(session.id);
  // redis-py and node-redis announce themselves; nothing to keep.
  if (sub === 'setinfo') return okReply;
  return errorReply('ERR', `CLIENT ${quote(args[1]!).toUpperCase()} is not supported`);
}

/** COMMAND, COMMAND COUNT, COMMAND DOCS: what redis-cli asks for its hints. */
function command(_node: RespNode, args: readonly Buffer[]): Buffer {
  const sub = args.length > 1 ? commandName(args[1]!) : '';
  if (sub === 'count') return integerReply(commands.size);
  if (sub === 'docs') return emptyArrayReply;
  if (sub !== '') return errorReply('ERR', `COMMAND ${quote(args[1]!).toUpperCase()} is not supported`);
  return arrayReply(
    [...commands].map(([name, spec]) => {
      const arity = spec.max === spec.min ? spec.min : -spec.min;
      const keyed = commandKeysSpec[name] ?? [0, 0, 0];
      return arrayReply([bulkReply(name), integerReply(arity), emptyArrayReply, integerReply(keyed[0]), integerReply(keyed[1]), integerReply(keyed[2])]);
    }),
  );
}
/** First key, last key, step (COMMAND's key specs). */
const commandKeysSpec: Record<string, [number, number, number]> = { get: [1, 1, 1], set: [1, 1, 1], del: [1, -1, 1], exists: [1, -1, 1], mget: [1, -1, 1], mset: [1, -1, 2], 'gyre.get': [1, 1, 1], 'gyre.put': [1, 1, 1], 'gyre.del': [1, 1, 1] };

interface Spec {
  readonly min: number;
  readonly max?: number;
  /** Arguments after the name come in pairs (MSET). */
  readonly pairs?: boolean;
  /** The connection closes once this reply is written, and nothing sent after it runs (QUIT). */
  readonly closes?: boolean;
  readonly run: Handler;
}

const commands = new Map<string, Spec>([
  ['ping', { min: 1, max: 2, run: (_n, a) => (a.length === 2 ? bulkReply(a[1]!) : pongReply) }],
  ['echo', { min: 2, max: 2, run: (_n, a) => bulkReply(a[1]!) }],
  ['auth', { min: 2, max: 3, run: auth }],
  ['hello', { min: 1, run: hello }],
  ['select', { min: 2, max: 2, run: (_n, a) => (a[1]!.toString('latin1') === '0' ? okReply : errorReply('ERR', 'DB index is out of range')) }],
  ['quit', { min: 1, closes: true, run: () => okReply }],
  ['info', { min: 1, max: 2, run: (n) => bulkReply(infoText(n)) }],
  ['config', { min: 2, run: config }],
  ['client', { min: 2, run: client }],
  ['command', { min: 1, run: command }],
  ['get', { min: 2, max: 2, run: get }],
  ['set', { min: 3, run: set }],
  ['del', { min: 2, run: del }],
  ['exists', { min: 2, run: exists }],
  ['mget', { min: 2, run: mget }],
  ['mset', { min: 3, pairs: true, run: mset }],
  ['gyre.get', { min: 2, max: 4, run: gyreGet }],
  ['gyre.put', { min: 4, max: 8, run: gyrePut }],
  ['gyre.del', { min: 3, max: 5, run: gyreDel }],
]);
