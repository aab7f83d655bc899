// runCommand (node-core/src/resp/commands.ts): how each Redis command maps onto Gyre's
// operations and what it answers. The node behind it is FakeRespNode, a stand-in that answers
// reads from a table and records every call: what is under test here is the mapping (which
// operation, with which R, W, context and supersede flag, and which reply), not the
// coordinator, which has its own tests; the real coordinator behind RESP is exercised by the
// integration tests. Replies are read back with the independent decoder in resp-wire.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { contentTypeBytesMax, keyBytesMax } from '../../node-core/src/core/codec.js';
import type { ReadResult, WriteResult } from '../../node-core/src/core/coordinator.js';
import type { Version } from '../../node-core/src/core/siblings.js';
import { type VClock, emptyClock, normalize } from '../../node-core/src/core/vclock.js';
import type { ContextCheck } from '../../node-core/src/node/context-keys.js';
import { type RespInfo, type RespNode, type RespSession, type TokenCheck, closesConnection, commandKeys, runCommand } from '../../node-core/src/resp/commands.js';
import { fuzzParams } from '../fuzz/fuzz.js';
import { type Plain, decodeReply, plain } from './resp-wire.js';

type PutRequest = Parameters<RespNode['put']>[0];

const latin1 = (s: string) => Buffer.from(s, 'latin1');

function clockOf(...events: [string, number][]): VClock {
  return normalize(
    events.map(([actor, counter]) => ({ actor, counter, ts: 1_000 })),
    [],
  );
}

function version(value: string, opts: { deleted?: boolean; contentType?: string; actor?: string } = {}): Version {
  const dot = { actor: opts.actor ?? 'n1', counter: 1, ts: 1_000 };
  return { dot, clock: normalize([dot], []), deleted: opts.deleted ?? false, contentType: opts.contentType ?? (opts.deleted ? '' : 'application/octet-stream'), value: latin1(value) };
}

const notFound: ReadResult = { status: 404, versions: [], context: undefined, replied: 2 };

function found(value: string, context = clockOf(['n1', 1])): ReadResult {
  return { status: 200, versions: [version(value)], context, replied: 2 };
}

function siblings(versions: Version[], context: VClock): ReadResult {
  return { status: 300, versions, context, replied: 2 };
}

/**
 * A fake RespNode: reads are answered from `answers` by key (a missing key is not found; an
 * Error makes the read reject), writes by `writeAnswer`, contexts by `contexts`; every call is
 * recorded. N=3, R=2, W=2.
 */
class FakeRespNode implements RespNode {
  readonly n = 3;
  readonly r = 2;
  readonly w = 2;
  readonly timeoutMs = 1500;
  readonly reads: { key: string; r: number; timeoutMs: number }[] = [];
  readonly puts: PutRequest[] = [];
  readonly contextChecks: { token: string; key: string }[] = [];
  readonly answers = new Map<string, ReadResult | Error>();
  readonly contexts = new Map<string, ContextCheck>();
  writeAnswer: (req: PutRequest) => WriteResult = () => ({ status: 204, clock: clockOf(['n1', this.puts.length + 10]), dot: undefined });
  keysHere = 7;

  async get(key: Buffer, r: number, timeoutMs: number): Promise<ReadResult> {
    this.reads.push({ key: key.toString('latin1'), r, timeoutMs });
    const a = this.answers.get(key.toString('latin1'));
    if (a instanceof Error) throw a;
    return a ?? notFound;
  }

  async put(req: PutRequest): Promise<WriteResult> {
    this.puts.push(req);
    return this.writeAnswer(req);
  }

  async checkContext(token: string, key: Buffer): Promise<ContextCheck> {
    this.contextChecks.push({ token, key: key.toString('latin1') });
    return this.contexts.get(token) ?? { ok: false, reason: 'not a context this fake sealed' };
  }

  /** A readable stand-in for a sealed token: the key and the clock's events. */
  contextFor(clock: VClock, key: Buffer): string {
    return `ctx:${key.toString('latin1')}:${clock.entries.map((e) => `${e.actor}.${e.counter}`).join(',')}`;
  }

  info(): RespInfo {
    return { nodeId: 'n1', http: '127.0.0.1:7070', version: '0.1.0', port: 6380, uptimeSeconds: 42, connectedClients: 3, keysHere: this.keysHere, sync: 'batch' };
  }
}

const password = 's3cret';
const tokenOk: TokenCheck = (candidate) => candidate.equals(latin1(password));

/** A node, a connection's session and a way to send commands, with or without a token. */
function setup(opts: { token?: boolean; authenticated?: boolean } = {}) {
  const node = new FakeRespNode();
  const session: RespSession = { id: 7, authenticated: opts.authenticated ?? false, name: '' };
  const check = opts.token ? tokenOk : undefined;
  const send = (...args: (string | Buffer)[]) => runCommand(node, args.map((a) => (typeof a === 'string' ? latin1(a) : a)), session, check);
  /** The reply's bytes as latin1. */
  const text = async (...args: (string | Buffer)[]) => (await send(...args)).toString('latin1');
  /** The reply decoded, bulks as latin1 strings. */
  const reply = async (...args: (string | Buffer)[]): Promise<Plain> => plain(decodeReply(await send(...args)));
  return { node, session, send, text, reply };
}

const wrongArity = (name: string) => `-ERR wrong number of arguments for '${name}' command\r\n`;

test('RESP commands: arity is checked before anything reaches the node (names as Redis gives them, lower case)', async () => {
  const cases: [string[], string][] = [
    [['GET'], 'get'],
    [['GET', 'a', 'b'], 'get'],
    [['SET', 'k'], 'set'],
    [['DEL'], 'del'],
    [['EXISTS'], 'exists'],
    [['MGET'], 'mget'],
    [['MSET', 'k'], 'mset'],
    [['MSET', 'k', 'v', 'k2'], 'mset'],
    [['PING', 'a', 'b'], 'ping'],
    [['ECHO'], 'echo'],
    [['ECHO', 'a', 'b'], 'echo'],
    [['AUTH'], 'auth'],
    [['AUTH', 'u', 'p', 'x'], 'auth'],
    [['SELECT'], 'select'],
    [['INFO', 'a', 'b'], 'info'],
    [['CONFIG'], 'config'],
    [['CLIENT'], 'client'],
    [['GYRE.GET'], 'gyre.get'],
    [['GYRE.GET', 'k', 'R', '1', 'x'], 'gyre.get'],
    [['GYRE.PUT', 'k', ''], 'gyre.put'],
    [['GYRE.PUT', 'k', '', 'v', 'W', '1', 'TYPE', 't', 'x'], 'gyre.put'],
    [['GYRE.DEL', 'k'], 'gyre.del'],
    [['GYRE.DEL', 'k', '', 'W', '1', 'x'], 'gyre.del'],
    [['get'], 'get'],
    [['GeT', 'a', 'b'], 'get'],
  ];
  for (const [args, name] of cases) {
    const { node, text } = setup();
    assert.equal(await text(...args), wrongArity(name), args.join(' '));
    assert.deepEqual([node.reads, node.puts], [[], []], `${args.join(' ')} reached the node`);
  }
});

test("RESP commands: an unknown command is answered as Redis does: ERR unknown command 'X', with args beginning with: (at most three)", async () => {
  const { text } = setup();
  assert.equal(await text('FOO', 'a', 'b', 'c', 'd'), "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' 'c'\r\n");
  assert.equal(await text('FOO'), "-ERR unknown command 'FOO', with args beginning with: \r\n");
  assert.equal(await text('BAR', 'x'), "-ERR unknown command 'BAR', with args beginning with: 'x'\r\n");
  // Bytes that are not printable ASCII, and quotes, are shown as '?'; a long argument is cut at 64 bytes.
  assert.equal(await text("F\x00O'\xff", "it's", '\r\n'), "-ERR unknown command 'F?O??', with args beginning with: 'it?s' '??'\r\n");
  assert.equal(await text('x'.repeat(100)), `-ERR unknown command '${'x'.repeat(64)}', with args beginning with: \r\n`);
  // A name longer than any command's is no command, even if it starts like one.
  assert.match(await text('GET' + ' '.repeat(40), 'k'), /^-ERR unknown command 'GET {40}'/);
});

test('RESP commands: names are case-insensitive', async () => {
  const { text } = setup();
  for (const name of ['PING', 'ping', 'PiNg']) assert.equal(await text(name), '+PONG\r\n');
});

test('RESP AUTH: with a token set, every command but AUTH, HELLO and QUIT is NOAUTH until AUTH succeeds', async () => {
  const gated = [['GET', 'k'], ['SET', 'k', 'v'], ['DEL', 'k'], ['MGET', 'k'], ['MSET', 'k', 'v'], ['EXISTS', 'k'], ['PING'], ['ECHO', 'x'], ['INFO'], ['CONFIG', 'GET', '*'], ['CLIENT', 'ID'], ['COMMAND'], ['SELECT', '0'], ['GYRE.GET', 'k'], ['GYRE.PUT', 'k', '', 'v'], ['GYRE.DEL', 'k', '']];
  const { node, session, text } = setup({ token: true });
  for (const args of gated) assert.equal(await text(...args), '-NOAUTH Authentication required.\r\n', args.join(' '));
  // Even with the wrong arity: nothing about the command is told before AUTH.
  assert.equal(await text('GET'), '-NOAUTH Authentication required.\r\n');
  assert.deepEqual([node.reads, node.puts], [[], []], 'nothing reached the node');
  // Redis answers an unknown command as unknown, before it looks at authentication.
  assert.match(await text('NOSUCH'), /^-ERR unknown command 'NOSUCH'/);
  assert.equal(await text('AUTH', password), '+OK\r\n');
  assert.equal(session.authenticated, true);
  assert.equal(await text('GET', 'k'), '$-1\r\n');
  assert.equal(await text('PING'), '+PONG\r\n');
});

test('RESP AUTH: QUIT and HELLO run before AUTH; HELLO without AUTH then says NOAUTH', async () => {
  const { session, text, reply } = setup({ token: true });
  assert.match(await text('HELLO'), /^-NOAUTH HELLO must be called with the client already authenticated/);
  assert.match(await text('HELLO', '2'), /^-NOAUTH /);
  const hello = await reply('HELLO', '2', 'AUTH', 'default', password);
  assert.ok(Array.isArray(hello), 'HELLO 2 AUTH default <password> authenticates and answers');
  assert.equal(session.authenticated, true);
  const other = setup({ token: true });
  assert.equal(await other.text('QUIT'), '+OK\r\n');
  assert.equal(closesConnection([Buffer.from('quit')]), true, 'QUIT ends its connection');
});

test('RESP AUTH: a wrong password is WRONGPASS and leaves the connection unauthenticated', async () => {
  const { session, text } = setup({ token: true });
  assert.equal(await text('AUTH', 'nope'), '-WRONGPASS invalid username-password pair or user is disabled.\r\n');
  assert.equal(session.authenticated, false);
  assert.equal(await text('GET', 'k'), '-NOAUTH Authentication required.\r\n');
  assert.equal(await text('AUTH', `${password} `), '-WRONGPASS invalid username-password pair or user is disabled.\r\n', 'the password is compared exactly');
  assert.match(await text('HELLO', '2', 'AUTH', 'default', 'nope'), /^-WRONGPASS /);
  assert.equal(session.authenticated, false);
});

test('RESP AUTH: the username form, AUTH default <password>, is the one user there is; any other name is WRONGPASS', async () => {
  const { session, text } = setup({ token: true });
  assert.equal(await text('AUTH', 'alice', password), '-WRONGPASS invalid username-password pair or user is disabled.\r\n');
  assert.equal(session.authenticated, false);
  assert.equal(await text('AUTH', 'default', password), '+OK\r\n');
  assert.equal(session.authenticated, true);
});

test('RESP AUTH: without a token configured, AUTH is an error (as Redis without requirepass) and commands need no AUTH', async () => {
  const { session, text } = setup();
  assert.equal(await text('AUTH', 'anything'), '-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n');
  assert.equal(session.authenticated, false);
  assert.equal(await text('GET', 'k'), '$-1\r\n');
  assert.match(await text('HELLO', '2', 'AUTH', 'default', 'x'), /^-ERR AUTH <password> called without any password configured/);
});

test('RESP HELLO: only protocol 2 (HELLO 3 is NOPROTO); the answer is the server properties as a flat array', async () => {
  const { session, text, reply } = setup();
  for (const proto of ['3', '1', 'x', '02']) assert.equal(await text('HELLO', proto), '-NOPROTO sorry, this protocol version is not supported (Gyre speaks RESP2)\r\n', `HELLO ${proto}`);
  const want = ['server', 'redis', 'version', '7.0.0', 'proto', 2, 'id', 7, 'mode', 'standalone', 'role', 'master', 'modules', [], 'gyre', '0.1.0 node n1'];
  assert.deepEqual(await reply('HELLO'), want);
  assert.deepEqual(await reply('HELLO', '2', 'SETNAME', 'worker-1'), want);
  assert.equal(session.name, 'worker-1');
  assert.equal(await text('HELLO', '2', 'BOGUS'), "-ERR syntax error in HELLO option 'BOGUS'\r\n");
  assert.equal(await text('HELLO', '2', 'AUTH', 'default'), "-ERR syntax error in HELLO option 'AUTH'\r\n", 'AUTH needs a user and a password');
});

test('RESP GET: one live version is its value; not found is the null bulk; R and the timeout are the node’s', async () => {
  const { node, text } = setup();
  node.answers.set('k', found('v\r\n1'));
  assert.equal(await text('GET', 'k'), '$4\r\nv\r\n1\r\n');
  assert.equal(await text('GET', 'missing'), '$-1\r\n');
  assert.deepEqual(node.reads, [
    { key: 'k', r: 2, timeoutMs: 1500 },
    { key: 'missing', r: 2, timeoutMs: 1500 },
  ]);
  assert.deepEqual(node.puts, []);
});

test('RESP GET: siblings (status 300) are the CONFLICT error, never one of them silently', async () => {
  const { node, text } = setup();
  node.answers.set('k', siblings([version('a'), version('b', { actor: 'n2' }), version('', { deleted: true, actor: 'n3' })], clockOf(['n1', 1], ['n2', 1], ['n3', 1])));
  assert.equal(await text('GET', 'k'), '-CONFLICT the key has 3 concurrent versions (2 live); GYRE.GET returns them all with the context to resolve them\r\n');
});

test('RESP SET: a blind overwrite: no context, supersede: true, W and the timeout the node’s, the default content type', async () => {
  const { node, text } = setup();
  assert.equal(await text('SET', 'k', 'v\x00\xff'), '+OK\r\n');
  assert.deepEqual(node.puts, [{ key: latin1('k'), deleted: false, value: latin1('v\x00\xff'), contentType: 'application/octet-stream', context: emptyClock, w: 2, timeoutMs: 1500, supersede: true }]);
  assert.deepEqual(node.reads, [], 'SET does not read first');
});

test('RESP SET: options (EX, NX, GET...) are refused, not ignored, and nothing is written', async () => {
  const { node, text } = setup();
  for (const opts of [['EX', '10'], ['NX'], ['XX'], ['GET'], ['KEEPTTL'], ['PX', '5']]) {
    assert.match(await text('SET', 'k', 'v', ...opts), /^-ERR SET options \(EX, PX, EXAT, PXAT, NX, XX, KEEPTTL, GET\) are not supported/, opts.join(' '));
  }
  assert.deepEqual(node.puts, []);
});

test('RESP DEL: counts only keys that had a live version, and tombstones each with the context its read returned', async () => {
  const { node, text } = setup();
  const ctxA = clockOf(['n1', 4]);
  const ctxC = clockOf(['n1', 2], ['n2', 3]);
  node.answers.set('a', found('x', ctxA));
  node.answers.set('c', siblings([version('p'), version('q', { actor: 'n2' })], ctxC));
  assert.equal(await text('DEL', 'a', 'b', 'c'), ':2\r\n');
  assert.deepEqual(
    node.reads.map((r) => [r.key, r.r]),
    [['a', 2], ['b', 2], ['c', 2]],
  );
  const tombstone = (key: string, context: VClock): PutRequest => ({ key: latin1(key), deleted: true, value: Buffer.alloc(0), contentType: '', context, w: 2, timeoutMs: 1500, supersede: false });
  assert.deepEqual(
    [...node.puts].sort((x, y) => x.key.compare(y.key)),
    [tombstone('a', ctxA), tombstone('c', ctxC)],
  );
  assert.equal(await text('DEL', 'nothing-here'), ':0\r\n');
  assert.equal(node.puts.length, 2, 'a key not found is not written');
});

// Redis's DEL removes each key once: `DEL k k` on a live key answers 1. Gyre reads both
// mentions at once, sees a live version twice, writes two tombstones and answers 2.
test('RESP DEL: a key named twice is deleted (and counted) once, as Redis answers', async () => {
  const { node, text } = setup();
  node.answers.set('k', found('x'));
  assert.equal(await text('DEL', 'k', 'k'), ':1\r\n');
  assert.equal(node.puts.length, 1);
});

test('RESP EXISTS: counts keys with a live version, a key named twice twice (as Redis does)', async () => {
  const { node, text } = setup();
  node.answers.set('a', found('x'));
  node.answers.set('s', siblings([version('p'), version('q', { actor: 'n2' })], clockOf(['n1', 1], ['n2', 1])));
  assert.equal(await text('EXISTS', 'a', 'b', 'a', 's'), ':3\r\n');
  assert.deepEqual(node.puts, []);
});

test('RESP MGET: one element per key, in order; a key that fails is an error element and the others still answer', async () => {
  const { node, reply } = setup();
  node.answers.set('a', found('x'));
  node.answers.set('c', siblings([version('p'), version('q', { actor: 'n2' })], clockOf(['n1', 1], ['n2', 1])));
  node.answers.set('d', { status: 503, error: 'unavailable', message: 'only 1 of 2 replicas answered' });
  node.answers.set('e', new Error('boom'));
  const got = await reply('MGET', 'a', 'b', 'c', 'd', 'e', 'a');
  assert.ok(Array.isArray(got) && got.length === 6);
  assert.deepEqual(got.slice(0, 4), ['x', null, { error: 'CONFLICT the key has 2 concurrent versions (2 live); GYRE.GET returns them all with the context to resolve them' }, { error: 'UNAVAILABLE only 1 of 2 replicas answered' }]);
  const e = got[4];
  assert.ok(e !== null && typeof e === 'object' && 'error' in e && /^ERR .*boom/.test(e.error), `a rejected read is an ERR element: ${JSON.stringify(e)}`);
  assert.equal(got[5], 'x');
});

test('RESP MSET: a SET per pair (no context, supersede: true); any failed pair is the reply', async () => {
  const { node, text } = setup();
  assert.equal(await text('MSET', 'k1', 'v1', 'k2', 'v2'), '+OK\r\n');
  assert.deepEqual(
    node.puts.map((p) => [p.key.toString(), p.value.toString(), p.supersede, p.context, p.deleted]),
    [['k1', 'v1', true, emptyClock, false], ['k2', 'v2', true, emptyClock, false]],
  );
  node.writeAnswer = (req) => (req.key.toString() === 'bad' ? { status: 413, error: 'value_too_large', message: 'values are at most 1048576 bytes' } : { status: 204, clock: clockOf(['n1', 1]), dot: undefined });
  assert.equal(await text('MSET', 'ok', '1', 'bad', '2'), '-VALUE_TOO_LARGE values are at most 1048576 bytes\r\n');
});

test('RESP GYRE.PUT: the context is checked by checkContext and written as given (supersede: false); the reply is the new version’s context', async () => {
  const { node, text } = setup();
  const given = clockOf(['n1', 3], ['n2', 1]);
  node.contexts.set('tok-1', { ok: true, clock: given });
  node.writeAnswer = () => ({ status: 204, clock: clockOf(['n1', 4], ['n2', 1]), dot: undefined });
  const answer = 'ctx:k:n1.4,n2.1';
  assert.equal(await text('GYRE.PUT', 'k', ' tok-1 ', 'val', 'W', '3', 'TYPE', 'text/plain'), `$${answer.length}\r\n${answer}\r\n`);
  assert.deepEqual(node.contextChecks, [{ token: 'tok-1', key: 'k' }], 'the token is trimmed and checked against its key');
  assert.deepEqual(node.puts, [{ key: latin1('k'), deleted: false, value: latin1('val'), contentType: 'text/plain', context: given, w: 3, timeoutMs: 1500, supersede: false }]);
});

test('RESP GYRE.PUT: an empty context is a first write (the empty clock, not checked); without options W and the type are the defaults', async () => {
  const { node, text } = setup();
  for (const ctx of ['', '   ']) assert.match(await text('GYRE.PUT', 'k', ctx, 'v'), /^\$/);
  assert.deepEqual(node.contextChecks, []);
  assert.deepEqual(
    node.puts.map((p) => [p.context, p.w, p.contentType, p.supersede]),
    [[emptyClock, 2, 'application/octet-stream', false], [emptyClock, 2, 'application/octet-stream', false]],
  );
});

test('RESP GYRE.PUT and GYRE.DEL: a bad context is BAD_CONTEXT; one this node cannot check yet is UNAVAILABLE; nothing is written', async () => {
  const { node, text } = setup();
  node.contexts.set('unjoined', { ok: false, notJoined: true, reason: 'this node has not reached the cluster yet' });
  assert.equal(await text('GYRE.PUT', 'k', 'forged', 'v'), '-BAD_CONTEXT not a context this fake sealed\r\n');
  assert.equal(await text('GYRE.DEL', 'k', 'forged'), '-BAD_CONTEXT not a context this fake sealed\r\n');
  assert.equal(await text('GYRE.PUT', 'k', 'unjoined', 'v'), '-UNAVAILABLE this node has not reached the cluster yet\r\n');
  assert.deepEqual(node.puts, []);
});

test('RESP GYRE.PUT options: W in 1..N, TYPE at most contentTypeBytesMax bytes, only W and TYPE, each with a value', async () => {
  const { node, text } = setup();
  const cases: [string[], string][] = [
    [['W', '0'], '-ERR W must be an integer in 1..3\r\n'],
    [['W', '4'], '-ERR W must be an integer in 1..3\r\n'],
    [['W', 'two'], '-ERR W must be an integer in 1..3\r\n'],
    [['W', '-1'], '-ERR W must be an integer in 1..3\r\n'],
    [['W', '1.5'], '-ERR W must be an integer in 1..3\r\n'],
    [['W'], '-ERR syntax error (options: W, TYPE, each with a value)\r\n'],
    [['R', '1'], '-ERR syntax error (options: W, TYPE, each with a value)\r\n'],
    [['TYPE', 'x'.repeat(contentTypeBytesMax + 1)], `-BAD_CONTENT_TYPE content types are at most ${contentTypeBytesMax} bytes\r\n`],
  ];
  for (const [opts, want] of cases) assert.equal(await text('GYRE.PUT', 'k', '', 'v', ...opts), want, opts.join(' '));
  assert.equal(node.puts.length, 0, 'nothing written');
  assert.match(await text('GYRE.PUT', 'k', '', 'v', 'type', 'x'.repeat(contentTypeBytesMax), 'w', '1'), /^\$/, 'lower-case options; a type of exactly the limit');
  assert.deepEqual([node.puts[0]?.contentType.length, node.puts[0]?.w], [contentTypeBytesMax, 1]);
});

// The TYPE limit is checked on the argument's bytes, but the type is then decoded as UTF-8:
// each byte that is not valid UTF-8 becomes U+FFFD, 3 bytes. 256 bytes of 0xff pass the check
// and reach the coordinator as a 768-byte content type, which the store and the internode
// message parser refuse (contentTypeBytesMax): BAD_VERSION or UNAVAILABLE, not BAD_CONTENT_TYPE.
test('RESP GYRE.PUT: the content type reaching the node is at most contentTypeBytesMax bytes, or the command is BAD_CONTENT_TYPE', async () => {
  const { node, text } = setup();
  const reply = await text('GYRE.PUT', 'k', '', 'v', 'TYPE', Buffer.alloc(contentTypeBytesMax, 0xff));
  if (reply.startsWith('-BAD_CONTENT_TYPE ')) return assert.deepEqual(node.puts, []);
  assert.equal(node.puts.length, 1);
  assert.ok(Buffer.byteLength(node.puts[0]!.contentType) <= contentTypeBytesMax, `content type of ${Buffer.byteLength(node.puts[0]!.contentType)} bytes`);
});

test('RESP GYRE.GET: [context, [[value, content type, deleted 0/1], ...]]: every sibling, tombstones included', async () => {
  const { node, text, reply } = setup();
  const ctx = clockOf(['n1', 2], ['n2', 1]);
  node.answers.set('k', siblings([version('v1', { contentType: 'text/plain' }), version('', { deleted: true, actor: 'n2' })], ctx));
  assert.deepEqual(await reply('GYRE.GET', 'k'), ['ctx:k:n1.2,n2.1', [['v1', 'text/plain', 0], ['', '', 1]]]);
  node.answers.set('one', found('v', clockOf(['n1', 1])));
  assert.equal(await text('GYRE.GET', 'one'), '*2\r\n$12\r\nctx:one:n1.1\r\n*1\r\n*3\r\n$1\r\nv\r\n$24\r\napplication/octet-stream\r\n:0\r\n');
  assert.equal(await text('GYRE.GET', 'none'), '*2\r\n$-1\r\n*0\r\n', 'not found and no context: a null bulk and an empty array');
  assert.deepEqual(await reply('GYRE.GET', 'k', 'r', '3'), ['ctx:k:n1.2,n2.1', [['v1', 'text/plain', 0], ['', '', 1]]]);
  assert.deepEqual(
    node.reads.map((r) => r.r),
    [2, 2, 2, 3],
    'R is the node’s unless the command names one',
  );
  assert.equal(await text('GYRE.GET', 'k', 'R', '4'), '-ERR R must be an integer in 1..3\r\n');
  assert.equal(await text('GYRE.GET', 'k', 'W', '1'), '-ERR syntax error (options: R, each with a value)\r\n');
});

test('RESP GYRE.DEL: a tombstone over the given context (supersede: false), W as given; the reply is the tombstone’s context', async () => {
  const { node, text } = setup();
  const given = clockOf(['n1', 5]);
  node.contexts.set('tok', { ok: true, clock: given });
  node.writeAnswer = () => ({ status: 204, clock: clockOf(['n1', 6]), dot: undefined });
  assert.equal(await text('GYRE.DEL', 'k', 'tok', 'W', '1'), '$10\r\nctx:k:n1.6\r\n');
  assert.deepEqual(node.puts, [{ key: latin1('k'), deleted: true, value: Buffer.alloc(0), contentType: '', context: given, w: 1, timeoutMs: 1500, supersede: false }]);
});

test('RESP errors: a coordinator failure is an error reply whose code is its error upper-cased, and its message on one line', async () => {
  const failures: [string, Extract<ReadResult, { error: string }>][] = [
    ['UNAVAILABLE', { status: 503, error: 'unavailable', message: 'only 1 of 2 replicas answered' }],
    ['TOO_MANY_SIBLINGS', { status: 413, error: 'too_many_siblings', message: 'the write would leave 9 siblings' }],
    ['VALUE_TOO_LARGE', { status: 413, error: 'value_too_large', message: 'too big' }],
    ['BAD_VERSION', { status: 400, error: 'bad_version', message: 'the write cannot be stored:\r\nbad' }],
  ];
  for (const [code, f] of failures) {
    const oneLine = f.message.replace(/[\r\n]+/g, ' ');
    const want = `-${code} ${oneLine}\r\n`;
    const reads = setup();
    reads.node.answers.set('k', f);
    for (const args of [['GET', 'k'], ['DEL', 'k'], ['EXISTS', 'k'], ['GYRE.GET', 'k']]) assert.equal(await reads.text(...args), want, `${args[0]} with a read that failed ${f.error}`);
    const writes = setup();
    writes.node.answers.set('k', found('x'));
    writes.node.writeAnswer = () => f;
    for (const args of [['SET', 'k', 'v'], ['DEL', 'k'], ['MSET', 'k', 'v'], ['GYRE.PUT', 'k', '', 'v'], ['GYRE.DEL', 'k', '']]) assert.equal(await writes.text(...args), want, `${args[0]} with a write that failed ${f.error}`);
  }
});

test('RESP errors: runCommand never rejects: a node that throws is ERR internal error', async () => {
  const { node, text } = setup();
  node.answers.set('k', new Error('disk on fire'));
  assert.equal(await text('GET', 'k'), '-ERR internal error: disk on fire\r\n');
  node.writeAnswer = () => {
    throw new Error('socket\r\nclosed');
  };
  assert.equal(await text('SET', 'j', 'v'), '-ERR internal error: socket closed\r\n');
});

test('RESP keys: 1 to keyBytesMax bytes; an empty key is ERR and a longer one KEY_TOO_LONG, for every keyed command, before the node is asked', async () => {
  const empty = '-ERR the key is empty (keys are 1 to 1024 bytes)\r\n';
  const long = `-KEY_TOO_LONG keys are at most ${keyBytesMax} bytes\r\n`;
  const keyed = (k: Buffer): (string | Buffer)[][] => [['GET', k], ['SET', k, 'v'], ['DEL', 'ok', k], ['EXISTS', k], ['MGET', 'ok', k], ['MSET', 'ok', 'v', k, 'v'], ['GYRE.GET', k], ['GYRE.PUT', k, '', 'v'], ['GYRE.DEL', k, '']];
  for (const [key, want] of [[Buffer.alloc(0), empty], [Buffer.alloc(keyBytesMax + 1, 0x6b), long]] as const) {
    for (const args of keyed(key)) {
      const { node, text } = setup();
      assert.equal(await text(...args), want, `${String(args[0])} with a key of ${key.length} bytes`);
      assert.deepEqual([node.reads, node.puts], [[], []], `${String(args[0])} reached the node`);
    }
  }
  const { node, text } = setup();
  assert.equal(await text('SET', Buffer.alloc(keyBytesMax, 0x6b), 'v'), '+OK\r\n', 'a key of exactly keyBytesMax bytes');
  assert.equal(node.puts[0]?.key.length, keyBytesMax);
});

test('RESP CONFIG GET: glob patterns (*, ?, [...]) matched case-insensitively against the settings, as name/value pairs', async () => {
  const { reply, text } = setup();
  const all = ['save', '', 'appendonly', 'no', 'databases', '1', 'port', '6380', 'timeout', '0', 'maxmemory', '0', 'proto-max-bulk-len', '1048576', 'gyre-sync', 'batch'];
  const cases: [string[], string[]][] = [
    [['port'], ['port', '6380']],
    [['PORT'], ['port', '6380']],
    [['*'], all],
    [['p*'], ['port', '6380', 'proto-max-bulk-len', '1048576']],
    [['?ort'], ['port', '6380']],
    [['p[ao]rt'], ['port', '6380']],
    [['*max*'], ['maxmemory', '0', 'proto-max-bulk-len', '1048576']],
    [['gyre-*'], ['gyre-sync', 'batch']],
    [['save'], ['save', '']],
    [['sav.'], []],
    [['(port)'], []],
    [['port|save'], []],
    [['nomatch'], []],
    [['port', 'timeout'], ['port', '6380', 'timeout', '0']],
  ];
  for (const [patterns, want] of cases) assert.deepEqual(await reply('CONFIG', 'GET', ...patterns), want, patterns.join(' '));
  assert.equal(await text('CONFIG', 'RESETSTAT'), '+OK\r\n');
  assert.equal(await text('CONFIG', 'SET', 'port', '1'), '-ERR CONFIG SET is not supported (Gyre is configured by its command line)\r\n');
  assert.equal(await text('CONFIG', 'GET'), '-ERR CONFIG GET is not supported (Gyre is configured by its command line)\r\n', 'GET needs a pattern');
});

// Redis answers a malformed glob (an unclosed '[') as a pattern that matches nothing; Gyre
// turns the glob into a RegExp, which throws, and answers ERR internal error.
test('RESP CONFIG GET: a malformed glob matches nothing; it is not an internal error', async () => {
  const { reply } = setup();
  assert.deepEqual(await reply('CONFIG', 'GET', '['), []);
  assert.deepEqual(await reply('CONFIG', 'GET', 'port['), []);
});

test('RESP connection commands: PING, ECHO, SELECT 0 only, QUIT, CLIENT SETNAME/GETNAME/ID, COMMAND COUNT, INFO', async () => {
  const { node, text, reply } = setup();
  assert.equal(await text('PING'), '+PONG\r\n');
  assert.equal(await text('PING', 'hi'), '$2\r\nhi\r\n');
  assert.equal(await text('ECHO', 'a\r\nb'), '$4\r\na\r\nb\r\n');
  assert.equal(await text('SELECT', '0'), '+OK\r\n');
  assert.equal(await text('SELECT', '1'), '-ERR DB index is out of range\r\n');
  assert.equal(await text('CLIENT', 'GETNAME'), '$-1\r\n');
  assert.equal(await text('CLIENT', 'SETNAME', 'app'), '+OK\r\n');
  assert.equal(await text('CLIENT', 'GETNAME'), '$3\r\napp\r\n');
  assert.equal(await text('CLIENT', 'ID'), ':7\r\n');
  assert.equal(await text('CLIENT', 'SETINFO', 'lib-name', 'x'), '+OK\r\n');
  assert.equal(await text('CLIENT', 'KILL'), '-ERR CLIENT KILL is not supported\r\n');
  assert.equal(await text('COMMAND', 'COUNT'), ':19\r\n');
  assert.equal(await text('COMMAND', 'DOCS'), '*0\r\n');
  const listing = await reply('COMMAND');
  assert.ok(Array.isArray(listing) && listing.length === 19);
  assert.deepEqual(
    listing.find((c) => Array.isArray(c) && c[0] === 'mset'),
    ['mset', -3, [], 1, -1, 2],
    'MSET: arity -3, keys from 1 to the last, step 2',
  );
  const info = await reply('INFO');
  assert.equal(typeof info, 'string');
  assert.match(info as string, /^# Server\r\nredis_version:7\.0\.0\r\n/);
  for (const line of ['gyre_node:n1', 'gyre_http:127.0.0.1:7070', 'tcp_port:6380', 'uptime_in_seconds:42', 'connected_clients:3', 'gyre_sync:batch', 'db0:keys=7,expires=0,avg_ttl=0']) assert.ok((info as string).split('\r\n').includes(line), line);
  node.keysHere = 0;
  assert.doesNotMatch((await reply('INFO')) as string, /db0:/, 'no keyspace line for an empty node');
  assert.equal(closesConnection([Buffer.from('INFO')]), false);
  assert.equal(await text('QUIT'), '+OK\r\n');
  assert.equal(closesConnection([Buffer.from('QUIT')]), true, 'QUIT: close once this reply is written');
  assert.deepEqual([node.reads, node.puts], [[], []]);
});

test('RESP commandKeys: the keys each command touches (for per-key order within a connection)', () => {
  const keys = (...args: string[]) => commandKeys(args.map(latin1)).map((k) => k.toString('latin1'));
  assert.deepEqual(keys('GET', 'a'), ['a']);
  assert.deepEqual(keys('set', 'a', 'v'), ['a']);
  assert.deepEqual(keys('DEL', 'a', 'b'), ['a', 'b']);
  assert.deepEqual(keys('EXISTS', 'a', 'b'), ['a', 'b']);
  assert.deepEqual(keys('MGET', 'a', 'b', 'c'), ['a', 'b', 'c']);
  assert.deepEqual(keys('MSET', 'a', '1', 'b', '2'), ['a', 'b']);
  assert.deepEqual(keys('GYRE.GET', 'a', 'R', '1'), ['a']);
  assert.deepEqual(keys('GYRE.PUT', 'a', 'ctx', 'v'), ['a']);
  assert.deepEqual(keys('GYRE.DEL', 'a', 'ctx'), ['a']);
  assert.deepEqual(keys('GET'), []);
  assert.deepEqual(keys('PING', 'a'), []);
  assert.deepEqual(keys('ECHO', 'a'), []);
});

// ---------------------------------------------------------------------------------------------
// Any command, any node answers.

const readAnswerArb: fc.Arbitrary<ReadResult | Error> = fc.constantFrom<ReadResult | Error>(
  notFound,
  found('x'),
  siblings([version('a'), version('b', { actor: 'n2' })], clockOf(['n1', 1], ['n2', 1])),
  siblings([version('', { deleted: true })], clockOf(['n1', 1])),
  { status: 503, error: 'unavailable', message: 'only 1 of 2\r\nreplicas answered' },
  new Error('boom'),
);
const writeAnswerArb: fc.Arbitrary<WriteResult | Error> = fc.constantFrom<WriteResult | Error>(
  { status: 204, clock: clockOf(['n1', 9]), dot: undefined },
  { status: 413, error: 'too_many_siblings', message: 'too many' },
  { status: 503, error: 'unavailable', message: 'no quorum' },
  new Error('bang'),
);
const argArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('GET', 'SET', 'DEL', 'EXISTS', 'MGET', 'MSET', 'GYRE.GET', 'GYRE.PUT', 'GYRE.DEL', 'AUTH', 'HELLO', 'PING', 'ECHO', 'SELECT', 'QUIT', 'INFO', 'CONFIG', 'CLIENT', 'COMMAND', 'get', 'NOPE').map(latin1) },
  { weight: 4, arbitrary: fc.constantFrom('k', 'j', '', 'R', 'W', 'TYPE', '1', '2', '3', '4', '0', 'x', 'tok', 'default', password, 'wrong', 'GET', 'SETNAME', 'AUTH', 'COUNT', '*', '[', 'EX', '\r\n').map(latin1) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.constantFrom(keyBytesMax, keyBytesMax + 1, contentTypeBytesMax + 1).map((n) => Buffer.alloc(n, 0x6b)) },
);

test('RESP commands property: any arguments, any node answers: one well-formed reply, never a rejection; the node is asked only within the limits', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(argArb, { minLength: 1, maxLength: 7 }), readAnswerArb, writeAnswerArb, fc.boolean(), fc.boolean(), async (args, read, write, withToken, authenticated) => {
      const node = new FakeRespNode();
      for (const k of ['k', 'j']) node.answers.set(k, read);
      node.contexts.set('tok', { ok: true, clock: clockOf(['n1', 1]) });
      node.writeAnswer = () => {
        if (write instanceof Error) throw write;
        return write;
      };
      const session: RespSession = { id: 1, authenticated, name: '' };
      const reply = await runCommand(node, args, session, withToken ? tokenOk : undefined);
      const decoded = decodeReply(reply);
      if (decoded !== null && typeof decoded === 'object' && 'error' in decoded) assert.match(decoded.error, /^[A-Z][A-Z_]* /, 'an error reply starts with its code');
      for (const r of node.reads) {
        assert.ok(r.key.length >= 1 && r.key.length <= keyBytesMax, 'keys read are 1..keyBytesMax bytes');
        assert.ok(r.r >= 1 && r.r <= node.n && r.timeoutMs === node.timeoutMs);
      }
      for (const p of node.puts) {
        assert.ok(p.key.length >= 1 && p.key.length <= keyBytesMax, 'keys written are 1..keyBytesMax bytes');
        assert.ok(p.w >= 1 && p.w <= node.n && p.timeoutMs === node.timeoutMs);
        assert.ok(Buffer.byteLength(p.contentType) <= contentTypeBytesMax);
        assert.equal(p.deleted, p.value.length === 0 && p.contentType === '' && p.deleted, 'a tombstone is empty');
      }
      if (withToken && !session.authenticated) assert.deepEqual([node.reads, node.puts], [[], []], 'nothing reaches the node before AUTH');
    }),
    fuzzParams(),
  );
});
