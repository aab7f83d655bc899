// The RESP2 front end (CONTRACT.md, "RESP") on a real 3-node cluster (N=3, R=2, W=2, with a
// token): the commands answer as Redis documents them, except where siblings require otherwise
// (GET of siblings is a CONFLICT error; GYRE.GET/GYRE.PUT carry the context); what RESP writes
// HTTP reads and the other way round; pipelined replies come in order and a key's commands run
// in order; AUTH gates everything; hostile input is answered with a protocol error and a close,
// and a client that never reads its replies cannot grow the node's memory without bound.
// Spoken to with a raw client (test/helpers/resp-client.ts) and with ioredis, a common one.

import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { TestCluster, allReplicas, header, parseSiblings, rssBytes, siblingValues, sleep, uniqueKey } from '../helpers/cluster.js';
import { RespClient, RespError, type RespArg, type RespReply, bulkText, describe as show, encodeCommand, splitAddress } from '../helpers/resp-client.js';

const ids = ['n1', 'n2', 'n3'] as const;
const cluster = new TestCluster({ nodes: 3 });
/** Each node's RESP listener, "host:port", as GET /status announces it. */
const respAt = new Map<string, string>();

async function learnRespAddresses(): Promise<void> {
  for (const id of ids) {
    if (!cluster.isRunning(id)) continue;
    const resp = (await cluster.status(id)).listeners.resp;
    assert.ok(resp, `${id} announces listeners.resp in /status`);
    assert.match(resp, /^127\.0\.0\.1:\d+$/);
    respAt.set(id, resp);
  }
}

before(async () => {
  await cluster.start();
  await learnRespAddresses();
});
after(() => cluster.stop());

function addressOf(id: string): string {
  const a = respAt.get(id);
  if (!a) throw new Error(`no RESP address for ${id}`);
  return a;
}

/** A connection to `id`'s RESP port, authenticated unless `auth` is false; closed when the test ends. */
async function open(t: TestContext, id = 'n1', auth = true): Promise<RespClient> {
  const c = await RespClient.connect(addressOf(id), auth ? { token: cluster.token } : {});
  t.after(() => c.close());
  return c;
}

const b = (s: string): Buffer => Buffer.from(s);

function assertError(r: RespReply, code: string, message?: RegExp, what = ''): void {
  const where = what ? `${what}: ` : '';
  assert.ok(r instanceof RespError, `${where}expected an error reply ${code}, got ${show(r)}`);
  assert.equal(r.code, code, `${where}error reply ${r.line}`);
  if (message) assert.match(r.line, message, where);
}

/** Percent-encodes every byte, so any key goes into a path unchanged. */
function pathKey(key: Buffer | string): string {
  return [...(typeof key === 'string' ? b(key) : key)].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('');
}

/** Every byte value (twice), with CRLF, NUL and reply-like bytes where a sloppy parser would cut. */
const allBytes = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), b('\r\n$-1\r\n*0\r\n\0'), Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i))]);

/** Two versions of `key`, written over HTTP without a context through one node (w=3): siblings (Dynamo 4.4). */
async function makeSiblings(key: string, values: readonly [string, string]): Promise<void> {
  for (const v of values) {
    const res = await allReplicas(() => cluster.put('n1', key, v, { query: 'w=3' }));
    assert.equal(res.status, 204, `PUT ${v}: ${res.status} ${res.body.toString('utf8')}`);
  }
  const got = await cluster.get('n2', key, 'r=2');
  assert.equal(got.status, 300, `two PUTs without a context make siblings: GET ${got.status} ${got.body.toString('utf8')}`);
  assert.deepEqual(siblingValues(parseSiblings(got)).sort(), [...values].sort());
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(100);
  }
  assert.fail(`${what}: not within ${timeoutMs} ms`);
}

/** A node still serves: HTTP /status answers 200 and a new RESP connection answers PING. */
async function assertServing(t: TestContext, id: string, after: string): Promise<void> {
  const st = await cluster.request(id, 'GET', '/status');
  assert.equal(st.status, 200, `${id} /status after ${after}`);
  const c = await open(t, id);
  assert.equal(await c.command('PING'), 'PONG', `${id} answers PING on a new connection after ${after}`);
  c.close();
}

describe('connection commands answer as Redis documents them', () => {
  test('PING, ECHO, SELECT 0 / SELECT 1, INFO, CONFIG GET save/appendonly, COMMAND COUNT, CLIENT, an unknown command', async (t) => {
    const c = await open(t, 'n2');
    const cases: [string, RespArg[], (r: RespReply) => void][] = [
      ['PING is +PONG', ['PING'], (r) => assert.equal(r, 'PONG')],
      ['PING with a message returns it as a bulk', ['PING', 'hello there'], (r) => assert.deepEqual(r, b('hello there'))],
      ['ping is case-insensitive', ['ping'], (r) => assert.equal(r, 'PONG')],
      ['ECHO returns its argument byte for byte', ['ECHO', allBytes], (r) => assert.deepEqual(r, allBytes)],
      ['SELECT 0 is +OK (the one database)', ['SELECT', '0'], (r) => assert.equal(r, 'OK')],
      ['SELECT 1 is out of range', ['SELECT', '1'], (r) => assertError(r, 'ERR', /DB index is out of range/)],
      ['INFO is a bulk with redis_version', ['INFO'], (r) => assert.match(bulkText(r), /^redis_version:\d+\.\d+\.\d+\r$/m)],
      ['INFO lines end in CRLF, sections start with #', ['INFO'], (r) => assert.match(bulkText(r), /^# Server\r\n/)],
      ['CONFIG GET save is [save, ""] (no RDB snapshots)', ['CONFIG', 'GET', 'save'], (r) => assert.deepEqual(r, [b('save'), b('')])],
      ['CONFIG GET appendonly is [appendonly, no]', ['CONFIG', 'GET', 'appendonly'], (r) => assert.deepEqual(r, [b('appendonly'), b('no')])],
      ['CONFIG GET of several names answers each pair', ['CONFIG', 'GET', 'save', 'appendonly'], (r) => assert.deepEqual(r, [b('save'), b(''), b('appendonly'), b('no')])],
      ['CONFIG GET of an unknown name is an empty array', ['CONFIG', 'GET', 'no-such-setting'], (r) => assert.deepEqual(r, [])],
      ['COMMAND COUNT is a positive integer', ['COMMAND', 'COUNT'], (r) => assert.ok(typeof r === 'number' && r > 0, show(r))],
      ['CLIENT SETNAME is +OK', ['CLIENT', 'SETNAME', 'resp-test'], (r) => assert.equal(r, 'OK')],
      ['CLIENT GETNAME returns it', ['CLIENT', 'GETNAME'], (r) => assert.deepEqual(r, b('resp-test'))],
      ['CLIENT ID is an integer', ['CLIENT', 'ID'], (r) => assert.equal(typeof r, 'number')],
      ['an unknown command is -ERR unknown command', ['FLUSHALL'], (r) => assertError(r, 'ERR', /unknown command 'FLUSHALL'/)],
      ['a wrong number of arguments is -ERR', ['ECHO'], (r) => assertError(r, 'ERR', /wrong number of arguments for 'echo'/)],
    ];
    for (const [what, args, check] of cases) {
      const r = await c.command(...args);
      try {
        check(r);
      } catch (e) {
        assert.fail(`${what}: ${show(r)}: ${(e as Error).message}`);
      }
    }
    // COMMAND lists as many commands as COMMAND COUNT says, each [name, arity, flags, first, last, step].
    const [count, list] = await c.pipeline([['COMMAND', 'COUNT'], ['COMMAND']]);
    assert.ok(Array.isArray(list), show(list!));
    assert.equal(list.length, count);
    const names = list.map((e) => (Array.isArray(e) ? bulkText(e[0]!) : ''));
    for (const n of ['get', 'set', 'del', 'ping', 'auth']) assert.ok(names.includes(n), `COMMAND lists ${n}: ${names.join(',')}`);
    assert.equal(await c.command('PING'), 'PONG', 'the connection is usable after every error above');
  });

  test('QUIT answers +OK, then the server closes the connection and runs nothing after it', async (t) => {
    const c = await open(t, 'n3');
    const key = uniqueKey('after-quit');
    c.write(Buffer.concat([encodeCommand(['QUIT']), encodeCommand(['SET', key, 'must not be written'])]));
    assert.deepEqual(await c.read(1), ['OK']);
    await c.waitClosed();
    assert.equal(c.unread, 0, 'no reply after QUIT');
    assert.equal((await cluster.get('n1', key)).status, 404, 'the SET pipelined after QUIT did not run');
  });
});

describe('SET, GET, DEL, EXISTS, MGET, MSET', () => {
  test('they answer as Redis documents them, and HTTP sees what they did', async (t) => {
    const c = await open(t, 'n1');
    const [k, k2, absent] = [uniqueKey('str'), uniqueKey('str2'), uniqueKey('absent')];
    assert.equal(await c.command('GET', absent), null, 'GET of an absent key is a null bulk');
    assert.equal(await c.command('SET', k, 'one'), 'OK');
    assert.deepEqual(await c.command('GET', k), b('one'));
    assert.equal(await c.command('SET', k, 'two'), 'OK', 'SET overwrites');
    assert.deepEqual(await c.command('GET', k), b('two'), 'SET of an existing key replaces its value (no sibling)');
    const http = await cluster.get('n3', k);
    assert.equal(http.status, 200, 'HTTP reads the overwritten key as one version');
    assert.equal(http.body.toString('utf8'), 'two');
    assert.equal(await c.command('EXISTS', k), 1);
    assert.equal(await c.command('EXISTS', absent), 0);
    assert.equal(await c.command('EXISTS', k, k, absent), 2, 'EXISTS counts a key named twice twice (as Redis does)');
    assert.equal(await c.command('MSET', k2, 'b-value', k, 'a-value'), 'OK');
    assert.deepEqual(await c.command('MGET', k, absent, k2), [b('a-value'), null, b('b-value')], 'MGET: one element per key, null where absent');
    assert.equal(await c.command('DEL', k, absent), 1, 'DEL counts the keys it removed');
    assert.equal(await c.command('GET', k), null, 'a deleted key reads as a null bulk');
    assert.equal(await c.command('EXISTS', k), 0);
    assert.equal(await c.command('DEL', k), 0, 'DEL of a deleted key removes nothing');
    assert.equal((await cluster.get('n2', pathKey(k))).status, 404, 'HTTP sees the delete');
    assert.equal((await cluster.get('n2', pathKey(k2))).body.toString('utf8'), 'b-value', 'HTTP sees MSET');
    assert.equal(await c.command('SET', k, 'back'), 'OK', 'a deleted key can be written again');
    assert.deepEqual(await c.command('GET', k), b('back'));
    // What Redis refuses, and what Gyre cannot do (keys do not expire, writes are not conditional).
    assertError(await c.command('GET'), 'ERR', /wrong number of arguments for 'get'/);
    assertError(await c.command('MSET', k, 'v', k2), 'ERR', /wrong number of arguments for 'mset'/);
    assertError(await c.command('SET', k, 'v', 'EX', '10'), 'ERR', /not supported/);
    assertError(await c.command('SET', '', 'v'), 'ERR', /key is empty/);
    assert.deepEqual(await c.command('GET', k), b('back'), 'a refused SET changed nothing');
  });

  test('DEL of a key named twice removes it once and answers 1, as Redis does', async (t) => {
    const c = await open(t, 'n2');
    const k = uniqueKey('del-twice');
    assert.equal(await c.command('SET', k, 'v'), 'OK');
    assert.equal(await c.command('DEL', k, k), 1);
    assert.equal(await c.command('GET', k), null);
  });

  test('a value written over RESP reads back byte for byte over HTTP, and one written over HTTP over RESP (every byte value, in the key too)', async (t) => {
    const c = await open(t, 'n1');
    const keyBytes = Buffer.concat([b(uniqueKey('bin')), Buffer.from(Array.from({ length: 256 }, (_, i) => i))]);
    assert.equal(await c.command('SET', keyBytes, allBytes), 'OK');
    for (const id of ['n2', 'n3']) {
      const res = await cluster.get(id, pathKey(keyBytes));
      assert.equal(res.status, 200, `HTTP GET via ${id}: ${res.status}`);
      assert.ok(res.body.equals(allBytes), `HTTP GET via ${id} returned other bytes (${res.body.length} of ${allBytes.length})`);
      assert.equal(header(res, 'content-type'), 'application/octet-stream', 'SET stores values as application/octet-stream');
    }
    const other = Buffer.concat([b(uniqueKey('bin-http')), Buffer.from([0, 13, 10, 32, 255])]);
    const reversed = Buffer.from(allBytes).reverse();
    const put = await cluster.put('n3', pathKey(other), reversed, { contentType: 'application/x-test' });
    assert.equal(put.status, 204);
    for (const id of ids) {
      const got = await (await open(t, id)).command('GET', other);
      assert.ok(Buffer.isBuffer(got) && got.equals(reversed), `RESP GET via ${id}: ${show(got)}`);
    }
  });

  test('a key of 1024 bytes works; one of 1025 bytes is an error and the connection stays usable', async (t) => {
    const c = await open(t, 'n2');
    const prefix = uniqueKey('long');
    const k1024 = prefix + 'k'.repeat(1024 - prefix.length);
    const k1025 = k1024 + 'k';
    assert.equal(await c.command('SET', k1024, 'long key'), 'OK');
    assert.deepEqual(await c.command('GET', k1024), b('long key'));
    assert.equal((await cluster.get('n1', pathKey(k1024))).body.toString('utf8'), 'long key', 'HTTP reads the 1024-byte key');
    for (const args of [['SET', k1025, 'v'], ['GET', k1025], ['MGET', k1024, k1025], ['DEL', k1025], ['EXISTS', k1025], ['GYRE.GET', k1025]]) {
      assertError(await c.command(...args), 'KEY_TOO_LONG', /1024 bytes/);
    }
    assert.equal(await c.command('PING'), 'PONG', 'the connection is still usable');
    assert.deepEqual(await c.command('GET', k1024), b('long key'));
    assert.equal((await cluster.get('n1', pathKey(k1025))).status, 400, 'HTTP refuses the 1025-byte key too (and nothing was stored under it)');
  });
});

describe('siblings (Dynamo 4.4) through RESP', () => {
  test('GET of siblings is a CONFLICT error; GYRE.GET returns them all and a context; GYRE.PUT with that context resolves them', async (t) => {
    const key = uniqueKey('sib');
    await makeSiblings(key, ['left', 'right']);
    const c = await open(t, 'n2');
    assertError(await c.command('GET', key), 'CONFLICT', /2 concurrent versions/);
    const other = uniqueKey('sib-neighbour');
    assert.equal(await c.command('SET', other, 'plain'), 'OK');
    const mget = await c.command('MGET', other, key);
    assert.ok(Array.isArray(mget) && mget.length === 2, show(mget));
    assert.deepEqual(mget[0], b('plain'), 'MGET still answers the other key');
    assertError(mget[1]!, 'CONFLICT');
    assert.equal(await c.command('EXISTS', key), 1, 'a key with siblings exists');
    const got = await c.command('GYRE.GET', key);
    assert.ok(Array.isArray(got) && got.length === 2, `GYRE.GET is [context, siblings]: ${show(got)}`);
    const [context, siblings] = got as [RespReply, RespReply];
    assert.ok(Buffer.isBuffer(context) && context.length > 0, `a context: ${show(context)}`);
    assert.ok(Array.isArray(siblings), show(siblings));
    const parsed = siblings.map((s) => {
      assert.ok(Array.isArray(s) && s.length === 3, `each sibling is [value, content type, deleted]: ${show(s)}`);
      return [bulkText(s[0]!), bulkText(s[1]!), s[2]];
    });
    assert.deepEqual(parsed.sort(), [['left', 'text/plain', 0], ['right', 'text/plain', 0]]);
    const put = await c.command('GYRE.PUT', key, context, 'merged', 'TYPE', 'text/x-merged');
    assert.ok(Buffer.isBuffer(put) && put.length > 0, `GYRE.PUT answers the new version's context: ${show(put)}`);
    for (const id of ids) {
      const res = await cluster.get(id, key, 'r=2');
      assert.equal(res.status, 200, `HTTP GET via ${id} after the resolving GYRE.PUT: ${res.status} ${res.body.toString('utf8')}`);
      assert.equal(res.body.toString('utf8'), 'merged');
      assert.equal(header(res, 'content-type'), 'text/x-merged');
    }
    assert.deepEqual(await c.command('GET', key), b('merged'));
    // The context GYRE.PUT answered is one HTTP takes: the next write replaces, no sibling.
    const next = await cluster.put('n3', key, 'after', { context: bulkText(put) });
    assert.equal(next.status, 204);
    assert.equal((await cluster.get('n1', key, 'r=2')).status, 200);
  });

  test('GYRE.PUT with an empty or forged context: an empty one adds a sibling, a forged one is BAD_CONTEXT', async (t) => {
    const key = uniqueKey('sib-noctx');
    await makeSiblings(key, ['a', 'b']);
    const c = await open(t, 'n1');
    assertError(await c.command('GYRE.PUT', key, 'bm90IGEgY29udGV4dA', 'forged'), 'BAD_CONTEXT');
    const put = await c.command('GYRE.PUT', key, '', 'c', 'W', '3');
    assert.ok(Buffer.isBuffer(put), show(put));
    const res = await cluster.get('n2', key, 'r=3');
    assert.equal(res.status, 300);
    assert.deepEqual(siblingValues(parseSiblings(res)).sort(), ['a', 'b', 'c'], 'a write without a context supersedes nothing');
  });

  test('SET over siblings replaces them: it supersedes the versions its coordinator holds', async (t) => {
    const key = uniqueKey('sib-set');
    await makeSiblings(key, ['one', 'two']);
    const c = await open(t, 'n2');
    assert.equal(await c.command('SET', key, 'winner'), 'OK');
    const res = await allReplicas(() => cluster.get('n3', key, 'r=3'));
    assert.equal(res.status, 200, `HTTP GET r=3 after SET over siblings: ${res.status} ${res.body.toString('utf8')}`);
    assert.equal(res.body.toString('utf8'), 'winner');
    assert.deepEqual(await c.command('GET', key), b('winner'));
  });

  test('DEL over siblings removes the key (its tombstone covers every sibling read)', async (t) => {
    const key = uniqueKey('sib-del');
    await makeSiblings(key, ['x', 'y']);
    const c = await open(t, 'n3');
    assert.equal(await c.command('DEL', key), 1);
    assert.equal((await allReplicas(() => cluster.get('n1', key, 'r=3'))).status, 404);
    assert.equal(await c.command('GET', key), null);
  });
});

describe('pipelining', () => {
  test('2000 commands in one socket write get 2000 replies in order, each GET seeing the SET before it on its key', async (t) => {
    const c = await open(t, 'n1');
    const hot = [0, 1, 2, 3].map((i) => uniqueKey(`hot${i}`));
    const cold = uniqueKey('cold');
    // The model: what a server running the commands one by one answers.
    const model = new Map<string, Buffer>();
    const commands: RespArg[][] = [];
    const expected: RespReply[] = [];
    const set = (k: string, v: string) => {
      commands.push(['SET', k, v]);
      expected.push('OK');
      model.set(k, b(v));
    };
    const get = (k: string) => {
      commands.push(['GET', k]);
      expected.push(model.get(k) ?? null);
    };
    for (let s = 0; s < 500; s++) {
      const h = hot[s % hot.length]!;
      set(h, `v${s}`);
      get(h);
      get(hot[(s + 1) % hot.length]!); // the last SET of another hot key, or null before its first
      if (s % 2 === 0) set(`${cold}-${s}`, `c${s}`);
      else get(`${cold}-${s - 1}`);
    }
    assert.equal(commands.length, 2000);
    const started = Date.now();
    const replies = await c.pipeline(commands);
    const ms = Date.now() - started;
    assert.equal(replies.length, 2000);
    for (let i = 0; i < replies.length; i++) {
      assert.deepEqual(replies[i], expected[i], `reply ${i} to ${commands[i]!.map(String).join(' ')}: ${show(replies[i]!)}, expected ${show(expected[i]!)}`);
    }
    assert.equal(c.unread, 0, 'exactly one reply per command');
    for (const h of hot) assert.equal((await cluster.get('n2', h)).body.toString('utf8'), model.get(h)!.toString(), 'HTTP sees the last SET of each hot key');
    t.diagnostic(`2000 pipelined commands answered in ${ms} ms`);
  });
});

describe('AUTH on a node with a token', () => {
  test('before AUTH every command but AUTH, HELLO and QUIT answers NOAUTH and does nothing; a wrong AUTH is WRONGPASS; the right one is +OK', async (t) => {
    const c = await open(t, 'n1', false);
    const key = uniqueKey('noauth');
    const gated: RespArg[][] = [
      ['PING'], ['ECHO', 'x'], ['SELECT', '0'], ['INFO'], ['CONFIG', 'GET', 'save'], ['COMMAND', 'COUNT'], ['CLIENT', 'ID'],
      ['GET', key], ['SET', key, 'sneaky'], ['DEL', key], ['EXISTS', key], ['MGET', key], ['MSET', key, 'sneaky'],
      ['GYRE.GET', key], ['GYRE.PUT', key, '', 'sneaky'], ['GYRE.DEL', key, ''],
    ];
    const replies = await c.pipeline(gated);
    for (const [i, r] of replies.entries()) assertError(r, 'NOAUTH', /Authentication required/, gated[i]!.map(String).join(' '));
    for (const [what, args] of [
      ['a wrong token', ['AUTH', 'not-the-token']],
      ['the token of another user', ['AUTH', 'admin', cluster.token]],
      ['a wrong token for the default user', ['AUTH', 'default', `${cluster.token}x`]],
      ['an empty token', ['AUTH', '']],
    ] as const) {
      assertError(await c.command(...args), 'WRONGPASS', /invalid username-password pair/, what);
      assertError(await c.command('PING'), 'NOAUTH', undefined, `PING after AUTH with ${what}`);
    }
    assert.equal(await c.command('AUTH', cluster.token), 'OK');
    assert.equal(await c.command('PING'), 'PONG');
    assert.equal(await c.command('GET', key), null, 'no command before AUTH wrote anything');
    assert.equal((await cluster.get('n2', key)).status, 404);
    assert.equal(await c.command('AUTH', 'default', cluster.token), 'OK', 'AUTH default <token> works too');
    // QUIT needs no AUTH.
    const q = await open(t, 'n2', false);
    assert.equal(await q.command('QUIT'), 'OK');
    await q.waitClosed();
  });

  test('HELLO 2 AUTH default <token> authenticates and answers the server properties; HELLO 3 is NOPROTO; HELLO without AUTH is NOAUTH', async (t) => {
    const c = await open(t, 'n3', false);
    assertError(await c.command('HELLO', '2'), 'NOAUTH');
    assertError(await c.command('HELLO', '3', 'AUTH', 'default', cluster.token), 'NOPROTO');
    assertError(await c.command('PING'), 'NOAUTH', undefined);
    assertError(await c.command('HELLO', '2', 'AUTH', 'default', 'wrong'), 'WRONGPASS');
    assertError(await c.command('PING'), 'NOAUTH', undefined);
    const hello = await c.command('HELLO', '2', 'AUTH', 'default', cluster.token, 'SETNAME', 'hello-test');
    assert.ok(Array.isArray(hello) && hello.length % 2 === 0, `HELLO answers a flat array of name/value pairs: ${show(hello)}`);
    const props = new Map<string, RespReply>();
    for (let i = 0; i < hello.length; i += 2) props.set(bulkText(hello[i]!), hello[i + 1]!);
    assert.deepEqual(props.get('server'), b('redis'));
    assert.equal(props.get('proto'), 2);
    assert.match(bulkText(props.get('version')!), /^\d+\.\d+\.\d+$/);
    assert.equal(await c.command('PING'), 'PONG', 'HELLO ... AUTH authenticated the connection');
    assert.deepEqual(await c.command('CLIENT', 'GETNAME'), b('hello-test'));
  });
});

describe('ioredis, a common client', () => {
  const clients: Redis[] = [];
  after(() => {
    for (const r of clients) r.disconnect();
  });

  /** An ioredis client of `id`'s RESP port, and the errors it emits (a failed handshake is only told there). */
  function ioredis(id: string, password: string): { r: Redis; errors: Error[] } {
    const [host, port] = splitAddress(addressOf(id));
    // No retries: a failure is the test's to see, not to hide behind a reconnect.
    const r = new Redis({ host, port, password, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 10_000 });
    const errors: Error[] = [];
    r.on('error', (e: Error) => errors.push(e));
    clients.push(r);
    return { r, errors };
  }

  test('connects with the password option (its HELLO 3 is refused and it falls back to RESP2 and AUTH); SET/GET/DEL, binary values and a pipeline work', async () => {
    const { r, errors } = ioredis('n1', cluster.token);
    await r.connect();
    const key = uniqueKey('io');
    assert.equal(await r.set(key, 'from ioredis'), 'OK');
    assert.equal(await r.get(key), 'from ioredis');
    assert.equal((await cluster.get('n2', key)).body.toString('utf8'), 'from ioredis', 'HTTP reads what ioredis wrote');
    assert.equal(await r.del(key), 1);
    assert.equal(await r.get(key), null);
    const bin = uniqueKey('io-bin');
    assert.equal(await r.set(bin, allBytes), 'OK');
    const back = await r.getBuffer(bin);
    assert.ok(back?.equals(allBytes), 'a binary value round-trips through ioredis');
    const [a, z] = [uniqueKey('io-p1'), uniqueKey('io-p2')];
    const results = await r.pipeline().set(a, '1').set(z, '2').get(a).mget(a, z, 'io-absent').del(a).exists(a, z).exec();
    assert.deepEqual(results, [[null, 'OK'], [null, 'OK'], [null, '1'], [null, ['1', '2', null]], [null, 1], [null, 1]]);
    assert.match(String(await r.call('INFO')), /redis_version:/);
    assert.equal(await r.quit(), 'OK');
    assert.deepEqual(errors.map((e) => e.message), [], 'no error on the way');
  });

  test('a wrong password fails the connection with WRONGPASS; siblings reject GET with CONFLICT and GYRE.GET/GYRE.PUT resolve them', async () => {
    const bad = ioredis('n2', 'not-the-token');
    await assert.rejects(bad.r.connect());
    assert.ok(bad.errors.some((e) => /^WRONGPASS/.test(e.message)), `ioredis reports WRONGPASS: ${bad.errors.map((e) => e.message).join('; ')}`);
    const key = uniqueKey('io-sib');
    await makeSiblings(key, ['p', 'q']);
    const { r } = ioredis('n3', cluster.token);
    await r.connect();
    await assert.rejects(r.get(key), /CONFLICT/);
    const got = (await r.call('GYRE.GET', key)) as [string, [string, string, number][]];
    assert.deepEqual(got[1].map((s) => s[0]).sort(), ['p', 'q']);
    await r.call('GYRE.PUT', key, got[0], 'resolved');
    assert.equal(await r.get(key), 'resolved');
    assert.equal((await cluster.get('n1', key, 'r=2')).status, 200);
    await r.quit();
  });
});

describe('hostile input', () => {
  /** A deterministic byte stream (xorshift), so a failing case replays. */
  function garbage(n: number, seed: number, avoid: readonly number[] = []): Buffer {
    const out = Buffer.alloc(n);
    let x = seed >>> 0 || 1;
    for (let i = 0; i < n; i++) {
      do {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        out[i] = x & 0xff;
      } while (avoid.includes(out[i]!));
    }
    return out;
  }
  const setHead = b('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n');

  const cases: [string, Buffer, RegExp][] = [
    ['random bytes and no line end (an inline request over 64 KiB)', Buffer.concat([b('x'), garbage(100 * 1024, 7, [0x0a])]), /too big inline request/],
    ['random bytes where a bulk header belongs', Buffer.concat([b('*2\r\n$3\r\nGET\r\n'), b('@'), garbage(4096, 11)]), /expected '\$'/],
    ['random bytes as a multibulk count', Buffer.concat([b('*'), garbage(64, 13, [0x0d, 0x0a, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39])]), /invalid multibulk length/],
    ['a bulk length over 1 MiB ($2000000)', Buffer.concat([setHead, b('$2000000\r\n'), Buffer.alloc(1000, 0x61)]), /invalid bulk length.*over the limit/],
    ['a bulk length one over the value limit ($1048577)', Buffer.concat([setHead, b('$1048577\r\n')]), /invalid bulk length/],
    ['an overlong multibulk count (*1000000)', b('*1000000\r\n$3\r\nGET\r\n'), /invalid multibulk length/],
    ['a multibulk count of 2050 arguments', b('*2050\r\n'), /invalid multibulk length/],
    ['a multibulk count with too many digits', b(`*${'9'.repeat(30)}\r\n`), /invalid multibulk length/],
    ['a negative bulk length other than -1', Buffer.concat([setHead, b('$-5\r\n')]), /invalid bulk length/],
    ['a bulk not ended by CRLF', b('*2\r\n$4\r\nECHO\r\n$3\r\nabcdef\r\n'), /must end with CRLF/],
  ];

  for (const [i, [what, bytes, message]] of cases.entries()) {
    test(`${what}: -ERR Protocol error after the replies before it, the connection closes, the node keeps serving`, async (t) => {
      const id = ids[i % ids.length]!;
      const c = await open(t, id);
      c.write(Buffer.concat([encodeCommand(['PING']), bytes]));
      const [pong, err] = await c.read(2);
      assert.equal(pong, 'PONG', 'the command before the bad bytes is answered first');
      assertError(err!, 'ERR', /^ERR Protocol error: /);
      assert.match((err as RespError).line, message);
      await c.waitClosed();
      assert.equal(c.unread, 0, 'nothing after the protocol error');
      await assertServing(t, id, what);
    });
  }

  test('a never-finished command holds only its own connection: the node keeps serving others, and the command runs when its bytes arrive', async (t) => {
    const stalled = await open(t, 'n2');
    stalled.write(b('*2\r\n$4\r\nECHO\r\n$10\r\nhalf'));
    // A declared large bulk stalled too: its bytes are reserved from the node's budget, not waited on.
    const stalledBig = await open(t, 'n2');
    stalledBig.write(Buffer.concat([setHead, b('$1048576\r\n'), Buffer.alloc(1000, 0x62)]));
    await sleep(300);
    const other = await open(t, 'n2');
    const key = uniqueKey('while-stalled');
    const big = Buffer.alloc(1024 * 1024, 0x63);
    assert.deepEqual(await other.pipeline([['PING'], ['SET', key, big], ['GET', key]]), ['PONG', 'OK', big]);
    await assertServing(t, 'n2', 'a stalled command');
    assert.equal(stalled.serverEnded, false, 'the stalled connection is still open (the node closes it after respCommandReceiveMs)');
    assert.equal(stalled.unread, 0, 'and got no reply yet');
    stalled.write(b('-way!!\r\n'));
    assert.deepEqual(await stalled.read(1), [b('half-way!!')], 'the finished command runs');
    assert.equal(await stalled.command('PING'), 'PONG');
    stalledBig.close();
  });

  // When pump() started commands already parsed from the socket's buffer whenever an in-flight
  // one ended, without looking at socket.writableLength, a 64 KiB read held ~3000 GETs and their
  // 1 MiB replies piled up in the write queue at 40-90 MiB/s until the node ran out of memory.
  test('a client that pipelines GETs of a large value and never reads the replies does not grow the node without bound', async (t) => {
    const c = await open(t, 'n1');
    const key = uniqueKey('big');
    const big = Buffer.alloc(1024 * 1024, 0x7a);
    assert.equal(await c.command('SET', key, big), 'OK');
    const pid = cluster.pid('n1');
    const base = rssBytes(pid);
    assert.ok(base !== undefined, 'RSS is readable from /proc');
    const hog = await open(t, 'n1');
    hog.socket.pause(); // reads nothing: the replies back up into the node
    const batch = Buffer.concat(Array.from({ length: 1000 }, () => encodeCommand(['GET', key])));
    // By design a connection holds at most 128 commands in flight and ~1 MiB of queued replies:
    // ~130 MiB of 1 MiB replies, plus the replica reads behind them.
    const growthMax = 512 * 1024 * 1024;
    const durationMs = 10_000;
    const plateauFromMs = 5_000;
    const sampleMs = 200;
    const startedMs = Date.now();
    let sent = 0;
    const samples: { atMs: number; rss: number }[] = [];
    while (Date.now() - startedMs < durationMs) {
      // Written as fast as the socket takes them; past that the kernel holds them, not the node.
      if (hog.socket.writableLength < 1024 * 1024) {
        hog.write(batch);
        sent += 1000;
      }
      await sleep(sampleMs);
      const rss = rssBytes(pid) ?? 0;
      samples.push({ atMs: Date.now() - startedMs, rss });
      if (rss - base > 2 * growthMax) break; // safety valve: do not take the machine down
    }
    const mb = (x: number) => `${Math.round(x / (1024 * 1024))} MiB`;
    const peak = Math.max(...samples.map((x) => x.rss));
    const early = Math.max(base, ...samples.filter((x) => x.atMs < plateauFromMs).map((x) => x.rss));
    const late = Math.max(...samples.filter((x) => x.atMs >= plateauFromMs).map((x) => x.rss), 0);
    const trace = samples.filter((_, i) => i % 5 === 4).map((x) => mb(x.rss)).join(' ');
    t.diagnostic(`sent ${sent} GETs of 1 MiB, read nothing; RSS ${mb(base)} -> peak ${mb(peak)}; each second: ${trace}`);
    // Meanwhile the node serves everyone else.
    await assertServing(t, 'n1', 'a client that does not read');
    hog.close();
    assert.ok(peak - base < growthMax, `RSS grew by ${mb(peak - base)} (from ${mb(base)}); each second: ${trace}`);
    // Bounded, not merely slow: after the first seconds it has stopped climbing.
    assert.ok(late - early < 64 * 1024 * 1024, `RSS still climbing after ${plateauFromMs / 1000} s: ${mb(early)} -> ${mb(late)}; each second: ${trace}`);
  });
});

describe('durability', () => {
  test('after SET answers +OK, SIGKILL of the coordinating node loses nothing: another node reads every value over HTTP', async (t) => {
    // Every message from and to n1 waits: a SET answered before W replicas held the value would
    // leave the other copies waiting in n1's timers when it is killed.
    const delayMs = 600;
    const fault = await cluster.request('n2', 'POST', '/admin/faults', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'latency', nodes: ['n1'], delayMs, durationMs: 60_000 }) });
    assert.equal(fault.status, 201, fault.body.toString('utf8'));
    await eventually('n1 knows the latency fault', async () => {
      const doc = JSON.parse((await cluster.request('n1', 'GET', '/admin/faults')).body.toString('utf8')) as { faults?: unknown[] };
      return (doc.faults?.length ?? 0) > 0;
    });
    const c = await open(t, 'n1');
    const keys = Array.from({ length: 50 }, (_, i) => uniqueKey(`dur${i}`));
    const startedMs = Date.now();
    const replies = await c.pipeline(keys.map((k, i) => ['SET', k, `durable-${i}`]));
    const tookMs = Date.now() - startedMs;
    assert.deepEqual(replies, keys.map(() => 'OK'));
    await cluster.kill('n1');
    assert.ok(tookMs >= delayMs, `the SETs waited for a replica beyond n1 (${tookMs} ms, the link delay is ${delayMs} ms)`);
    assert.equal((await cluster.request('n2', 'DELETE', '/admin/faults')).status, 200);
    for (const [i, k] of keys.entries()) {
      const res = await cluster.get(i % 2 === 0 ? 'n2' : 'n3', k, 'r=2');
      assert.equal(res.status, 200, `${k} after SIGKILL of n1: ${res.status} ${res.body.toString('utf8')}`);
      assert.equal(res.body.toString('utf8'), `durable-${i}`);
    }
    // n1 comes back (on a new RESP port, announced again) with the values on its own disk.
    cluster.restart('n1');
    await cluster.waitUntilUp();
    await learnRespAddresses();
    const back = await open(t, 'n1');
    const got = await back.pipeline(keys.map((k) => ['GET', k]));
    assert.deepEqual(got, keys.map((_, i) => b(`durable-${i}`)));
  });
});
