// npm run bench:floor: how fast can *any* Node.js + SQLite design with Gyre's durability go on
// this machine? A lower bound for the issue-11 targets, measured in the same run as Redis.
//
// Three processes of this file (`--node`) form the thinnest cluster that keeps Gyre's promise
// (a write is acknowledged once it is committed to SQLite, synchronous=NORMAL in WAL mode, on
// W=2 of N=3 nodes; a read asks R=2): a RESP server that speaks only what redis-benchmark sends,
// a group commit per event-loop turn, and one batched binary frame per peer per turn. It has no
// vector clocks, no hashing or ring, no Merkle trees, no metrics, no limits and no validation:
// everything Gyre does beyond moving bytes to SQLite on two machines is missing on purpose. So
// whatever this floor reaches, Gyre cannot pass; if it stays under a target, no design on
// Node.js and SQLite on these cores meets that target.
//
//   npm run bench:floor -- [--requests 200000] [--seconds 10]

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer, connect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { LocalCluster, freePortRange } from '../../node-core/src/cli/supervisor.js';
import { GyreClient } from '../../node-core/src/client/client.js';
import type { LoadResult } from '../../node-core/src/bench/load.js';

const { values: args } = parseArgs({
  options: {
    node: { type: 'string' },
    resp: { type: 'string' },
    http: { type: 'string' },
    seconds: { type: 'string', default: '10' },
    peer: { type: 'string' },
    peers: { type: 'string' },
    db: { type: 'string' },
    requests: { type: 'string', default: '200000' },
  },
});

// ---- one floor node --------------------------------------------------------------------------

const WRITE = 1, WRITE_ACK = 2, READ = 3, READ_REPLY = 4;

const EMPTY: Buffer = Buffer.alloc(0);
const OK = Buffer.from('+OK\r\n'), NIL = Buffer.from('$-1\r\n'), EMPTY_ARRAY = Buffer.from('*0\r\n'), PONG = Buffer.from('+PONG\r\n');

/** One frame: u32 length, u8 type, u32 id, u16 key length, key, value. */
function frame(type: number, id: number, key: Buffer, value?: Buffer): Buffer {
  const vlen = value?.length ?? 0;
  const b = Buffer.allocUnsafe(11 + key.length + vlen);
  b.writeUInt32BE(7 + key.length + vlen, 0);
  b[4] = type;
  b.writeUInt32BE(id, 5);
  b.writeUInt16BE(key.length, 9);
  key.copy(b, 11);
  if (value) value.copy(b, 11 + key.length);
  return b;
}

function onFrames(sock: Socket, onFrame: (type: number, id: number, key: Buffer, value: Buffer) => void): void {
  let buf: Buffer = EMPTY;
  sock.on('data', (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    let at = 0;
    while (buf.length - at >= 4) {
      const len = buf.readUInt32BE(at);
      if (buf.length - at - 4 < len) break;
      const kl = buf.readUInt16BE(at + 9);
      onFrame(buf[at + 4]!, buf.readUInt32BE(at + 5), buf.subarray(at + 11, at + 11 + kl), buf.subarray(at + 11 + kl, at + 4 + len));
      at += 4 + len;
    }
    buf = at === buf.length ? EMPTY : buf.subarray(at);
  });
}

/** What a socket is sent in a turn, written once at the end of it. */
class Out {
  parts: Buffer[] = [];
  constructor(public sock: Socket, private readonly schedule: () => void) {}
  send(b: Buffer): void {
    this.parts.push(b);
    this.schedule();
  }
  flush(): void {
    if (this.parts.length === 0) return;
    this.sock.write(this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts));
    this.parts = [];
  }
}

class FloorNode {
  private readonly select: Database.Statement<[Buffer], Buffer | undefined>;
  private readonly commitBatch: (rows: Array<[Buffer, Buffer]>) => void;
  private pending: Array<[Buffer, Buffer]> = [];
  private done: Array<() => void> = [];
  private scheduled = false;
  private readonly outs = new Set<Out>();
  private readonly dialed: Out[] = [];
  private readonly waiting = new Map<number, (value: Buffer) => void>();
  private nextId = 1;
  readonly schedule = (): void => {
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.endOfTurn());
    }
  };

  constructor(dbPath: string) {
    const db = new Database(dbPath);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('wal_autocheckpoint = 0'); // no checkpoint at all: generous to the floor (Gyre runs them on a thread)
    db.exec('CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL)');
    const upsert = db.prepare('INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v');
    this.select = db.prepare<[Buffer], Buffer | undefined>('SELECT v FROM kv WHERE k = ?').pluck();
    this.commitBatch = db.transaction((rows: Array<[Buffer, Buffer]>) => {
      for (const [k, v] of rows) upsert.run(k, v);
    });
  }

  /** Group commit: the writes queued in a turn commit in one transaction, then their callbacks run, then every socket is written once. */
  private endOfTurn(): void {
    this.scheduled = false;
    if (this.pending.length > 0) {
      const cbs = this.done;
      this.commitBatch(this.pending);
      this.pending = [];
      this.done = [];
      for (const cb of cbs) cb();
    }
    for (const o of this.outs) o.flush();
  }

  private store(k: Buffer, v: Buffer, cb: () => void): void {
    this.pending.push([k, v]);
    this.done.push(cb);
    this.schedule();
  }

  out(sock: Socket): Out {
    const o = new Out(sock, this.schedule);
    this.outs.add(o);
    sock.on('close', () => this.outs.delete(o));
    return o;
  }

  /** Replica side: writes commit, then ack; reads answer at once. */
  serveReplica(port: number): void {
    createServer((sock) => {
      sock.setNoDelay(true);
      const o = this.out(sock);
      onFrames(sock, (type, id, key, value) => {
        if (type === WRITE) this.store(Buffer.from(key), Buffer.from(value), () => o.send(frame(WRITE_ACK, id, EMPTY)));
        else if (type === READ) o.send(frame(READ_REPLY, id, EMPTY, this.select.get(key) ?? EMPTY));
      });
    }).listen(port, '127.0.0.1');
  }

  /** Coordinator side: one connection to each other node, dialled until it listens (the three start together). */
  dial(ports: number[]): void {
    for (const port of ports) {
      const o = new Out(new Socket(), this.schedule);
      this.dialed.push(o);
      this.outs.add(o);
      const dial = () => {
        const sock = connect(port, '127.0.0.1');
        sock.on('error', () => setTimeout(dial, 50));
        sock.on('connect', () => {
          sock.setNoDelay(true);
          o.sock = sock;
          onFrames(sock, (_type, id, _key, value) => {
            const cb = this.waiting.get(id);
            this.waiting.delete(id);
            cb?.(value);
          });
        });
      };
      dial();
    }
  }

  private ask(o: Out, type: number, key: Buffer, value: Buffer | undefined, cb: (v: Buffer) => void): void {
    const id = this.nextId++ >>> 0;
    this.waiting.set(id, cb);
    o.send(frame(type, id, key, value));
  }

  /** W=2: this node's commit and one peer's ack. */
  put(k: Buffer, v: Buffer, acked: () => void): void {
    let acks = 0;
    const ack = () => {
      if (++acks === 2) acked();
    };
    this.store(k, v, ack);
    for (const p of this.dialed) this.ask(p, WRITE, k, v, ack);
  }

  /** R=2: this node's copy and one peer's. */
  get(k: Buffer, answer: (v: Buffer | undefined) => void): void {
    const local = this.select.get(k);
    this.ask(this.dialed[0]!, READ, k, undefined, (remote) => answer(local ?? (remote.length ? remote : undefined)));
  }

  /** RESP: arrays of bulk strings only (what redis-benchmark sends); replies in order. */
  serveResp(port: number): void {
    createServer((sock) => {
      sock.setNoDelay(true);
      sock.on('error', () => {});
      const o = this.out(sock);
      const replies: Array<Buffer | undefined> = [];
      let head = 0;
      const settle = (slot: number, reply: Buffer) => {
        replies[slot - head] = reply;
        while (replies.length && replies[0] !== undefined) {
          o.send(replies.shift()!);
          head++;
        }
      };
      let buf: Buffer = EMPTY;
      sock.on('data', (chunk: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        let at = 0;
        for (let c = parseCommand(buf, at); c; c = parseCommand(buf, at)) {
          at = c.end;
          const slot = head + replies.length;
          replies.push(undefined);
          const cmd = c.argv[0]!.toString('latin1').toUpperCase();
          if (cmd === 'SET') this.put(Buffer.from(c.argv[1]!), Buffer.from(c.argv[2]!), () => settle(slot, OK));
          else if (cmd === 'GET') this.get(Buffer.from(c.argv[1]!), (v) => settle(slot, v ? Buffer.concat([Buffer.from(`$${v.length}\r\n`), v, Buffer.from('\r\n')]) : NIL));
          else settle(slot, cmd === 'PING' ? PONG : EMPTY_ARRAY); // CONFIG GET and the like
        }
        buf = at === buf.length ? EMPTY : buf.subarray(at);
      });
    }).listen(port, '127.0.0.1');
  }

  /** HTTP: the bare server's routes (GET and PUT /kv/{key}, /status for the pid). */
  serveHttp(port: number): void {
    const server = http.createServer((req, res) => {
      const url = req.url ?? '/';
      if (url === '/status') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ node: { id: `floor${args.node}`, pid: process.pid }, config: { n: 3, r: 2, w: 2, partitions: 1 }, members: [], hintsPending: 0 }));
        return;
      }
      const k = Buffer.from(url.slice(4));
      if (req.method === 'GET') {
        this.get(k, (v) => {
          if (v === undefined) res.writeHead(404, { 'content-length': 0 }).end();
          else res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': v.length }).end(v);
        });
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.put(k, Buffer.concat(chunks), () => res.writeHead(204).end()));
    });
    server.keepAliveTimeout = 30_000;
    server.listen(port, '127.0.0.1');
  }
}

function runNode(): void {
  const node = new FloorNode(args.db!);
  node.serveReplica(Number(args.peer));
  node.dial((args.peers ?? '').split(',').filter(Boolean).map(Number));
  node.serveResp(Number(args.resp));
  node.serveHttp(Number(args.http));
}

/** One `*n\r\n$len\r\n...` command from `at`, or undefined if it is not all there yet. */
function parseCommand(buf: Buffer, at: number): { argv: Buffer[]; end: number } | undefined {
  if (at >= buf.length || buf[at] !== 0x2a) return undefined;
  const line = (from: number): [number, number] | undefined => {
    const cr = buf.indexOf(13, from);
    if (cr < 0 || cr + 1 >= buf.length) return undefined;
    return [Number(buf.toString('latin1', from + 1, cr)), cr + 2];
  };
  const head = line(at);
  if (!head) return undefined;
  let [n, pos] = head;
  const argv: Buffer[] = [];
  while (n-- > 0) {
    const l = line(pos);
    if (!l) return undefined;
    const [len, start] = l;
    if (start + len + 2 > buf.length) return undefined;
    argv.push(buf.subarray(start, start + len));
    pos = start + len + 2;
  }
  return { argv, end: pos };
}

// ---- the run ---------------------------------------------------------------------------------

interface Row { test: string; rps: number; p99: number; cpuUs?: number }

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** redis-benchmark's line from the issue, one test at a time, with the servers' CPU per request. */
function redisBenchmark(port: number, requests: number, pids: number[]): Row[] {
  return ['set', 'get'].map((t) => {
    const before = pids.map(cpuSeconds);
    const [row] = redisBenchmarkOne(port, requests, t);
    const cpu = pids.map(cpuSeconds).reduce((a, c, i) => a + c - before[i]!, 0);
    return { ...row!, cpuUs: (cpu * 1e6) / requests };
  });
}

function redisBenchmarkOne(port: number, requests: number, test: string): Row[] {
  const r = spawnSync('redis-benchmark', ['-p', String(port), '-t', test, '-n', String(requests), '-c', '50', '-d', '100', '-r', '100000', '--csv'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`redis-benchmark failed: ${r.stderr}`);
  return r.stdout.split('\n').slice(1).filter(Boolean).map((l) => {
    const f = l.split(',').map((s) => s.replace(/"/g, ''));
    return { test: f[0]!, rps: Number(f[1]), p99: Number(f[6]) };
  });
}

const here = dirname(fileURLToPath(import.meta.url));
const self = fileURLToPath(import.meta.url);
const gyreCli = join(here, '..', '..', 'node-core', 'src', 'cli', 'gyre.js');

/** `gyre bench` over HTTP (50 connections, as npm run bench): write-only then read-only, with the servers' CPU per request. */
function httpWorkloads(url: string, pids: number[]): Row[] {
  return ['write', 'c'].map((workload, i) => {
    const before = pids.map(cpuSeconds);
    const argv = [gyreCli, 'bench', '--url', url, '--workload', workload, '--seconds', args.seconds!, '--keys', '100000', '--json', ...(i > 0 ? ['--no-preload'] : [])];
    const run = spawnSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
    if (!run.stdout.trim().startsWith('{')) throw new Error(`gyre bench failed: ${run.stderr || run.stdout}`);
    const r = JSON.parse(run.stdout) as LoadResult;
    const cpu = pids.map(cpuSeconds).reduce((a, c, j) => a + c - before[j]!, 0);
    return { test: `http workload ${workload}`, rps: r.opsPerSecond, p99: r.all.p99Ms, cpuUs: (cpu * 1e6) / (r.opsPerSecond * r.seconds) };
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  if (spawnSync('sh', ['-c', 'command -v redis-benchmark && command -v redis-server'], { stdio: 'ignore' }).status !== 0) {
    console.error('bench:floor needs redis-server and redis-tools (npm run bench installs them)');
    process.exit(2);
  }
  const requests = Number(args.requests);
  const children: ChildProcess[] = [];
  let cluster: LocalCluster | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'gyre-floor-'));
  try {
    const base = await freePortRange(11);
    const [redisPort, barePort, ...ports] = Array.from({ length: 11 }, (_, i) => base + i);
    const redisServer = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const bare = spawn(process.execPath, [join(here, 'bare-http.js'), '--port', String(barePort)], { stdio: 'ignore' });
    children.push(redisServer, bare);
    await sleep(1000);
    const rows: Array<{ test: string; peer: Row; floor: Row; gyre: Row }> = [];
    const redis = redisBenchmark(redisPort!, requests, [redisServer.pid!]);
    const bareHttp = httpWorkloads(`http://127.0.0.1:${barePort}`, [bare.pid!]);

    const resp = ports.slice(0, 3), peer = ports.slice(3, 6), httpPorts = ports.slice(6, 9);
    const floorNodes: ChildProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const others = peer.filter((_, j) => j !== i).join(',');
      floorNodes.push(spawn(process.execPath, [self, '--node', String(i), '--resp', String(resp[i]), '--http', String(httpPorts[i]), '--peer', String(peer[i]), '--peers', others, '--db', join(dir, `n${i}.db`)], { stdio: 'inherit' }));
    }
    children.push(...floorNodes);
    await sleep(2000);
    const floorPids = floorNodes.map((c) => c.pid!);
    const floorResp = redisBenchmark(resp[0]!, requests, floorPids);
    const floorHttp = httpWorkloads(`http://127.0.0.1:${httpPorts[0]}`, floorPids);
    for (const c of floorNodes) c.kill('SIGKILL');

    // And Gyre itself, 3 nodes N=3 R=2 W=2, the same runs against one node.
    const gyrePort = await freePortRange(3);
    cluster = LocalCluster.create({ dir: join(dir, 'gyre'), nodes: 3, port: gyrePort, nodeArgs: [] });
    cluster.start();
    await cluster.waitUntilUp();
    const url = cluster.urls()[0]!;
    const status = await new GyreClient({ failover: false, url, keepAlive: false }).status();
    const gyrePids = cluster.nodes.map((n) => n.pid!);
    const gyreResp = redisBenchmark(Number(status.listeners!.resp!.split(':').pop()), requests, gyrePids);
    const gyreHttp = httpWorkloads(url, gyrePids);

    for (const [i, r] of redis.entries()) rows.push({ test: `redis-benchmark ${r.test}`, peer: r, floor: floorResp[i]!, gyre: gyreResp[i]! });
    for (const [i, r] of bareHttp.entries()) rows.push({ test: r.test, peer: r, floor: floorHttp[i]!, gyre: gyreHttp[i]! });

    const n = (x: number) => Math.round(x).toLocaleString('en-US');
    console.log('| test | peer ops/s | floor ops/s (x peer) | gyre ops/s (x peer, x floor) | p99 peer / floor / gyre | server CPU per request: peer / floor / gyre |');
    console.log('|---|---|---|---|---|---|');
    for (const { test, peer: r, floor: f, gyre: g } of rows) {
      console.log(`| ${test} | ${n(r.rps)} | ${n(f.rps)} (${(f.rps / r.rps).toFixed(2)}x) | ${n(g.rps)} (${(g.rps / r.rps).toFixed(2)}x, ${(g.rps / f.rps).toFixed(2)}x) | ${r.p99} / ${f.p99} / ${g.p99} ms | ${r.cpuUs!.toFixed(1)} / ${f.cpuUs!.toFixed(1)} / ${g.cpuUs!.toFixed(1)} us |`);
    }
  } finally {
    await cluster?.stop().catch(() => {});
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (args.node !== undefined) runNode();
else await main();
