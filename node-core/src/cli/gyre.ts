#!/usr/bin/env node
// The `gyre` command line (CONTRACT.md): run a node, run a local cluster, talk to a cluster.

import { Command, InvalidArgumentError, Option } from 'commander';
import { homedir } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { exitCodes, readValue, editSiblings, mergeWithCommand } from './client-commands.js';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { defaultConfig, type NodeConfig } from '../node/node.js';
import { BackupError, backupNode, inspectBackup, restoreNode } from '../store/backup.js';
import { asConfigFile, nodeSettingTable, resolveNodeSettings, type NodeSettings } from './node-settings.js';
import { serveNode, type ServedNode } from '../start/serve-node.js';
import { readSecretFile } from '../start/secret-files.js';
import { GyreClient, GyreError, HttpError } from '../client/client.js';
import { AuthError, SiblingsError, UnavailableError } from '../client/errors.js';
import { jsonSetUnion, lastWriterWins, type Resolver } from '../client/resolvers.js';
import { isValidNodeId } from '../net/messages.js';
import { LocalCluster } from './supervisor.js';
import { addBenchCommand } from './bench-command.js';

function defaultDir(): string {
  return process.env.GYRE_DIR ?? join(homedir(), '.gyre');
}

function int(name: string, min: number, max: number) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be an integer`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be in ${min}..${max}`);
    return n;
  };
}

/** The node's tokens from flags, files and the environment; two sources for one token is a mistake, said so. */
function nodeSecrets(o: { token?: string; tokenFile?: string; adminTokenFile?: string }): { token: string | undefined; adminToken: string | undefined } {
  const fromFile = (name: string, path: string | undefined): string | undefined => {
    if (path === undefined) return undefined;
    const r = readSecretFile(name, path);
    if (!r.ok) fail(r.reason);
    return r.value;
  };
  if (o.token !== undefined && o.tokenFile !== undefined) fail('give --token or --token-file, not both');
  const token = o.token ?? fromFile('token', o.tokenFile) ?? process.env.GYRE_TOKEN;
  const adminToken = fromFile('admin token', o.adminTokenFile) ?? process.env.GYRE_ADMIN_TOKEN;
  if (adminToken && adminToken === token) fail('the admin token must differ from the cluster token (otherwise every client is an admin)');
  return { token: token || undefined, adminToken: adminToken || undefined };
}

/** The package's version, from the package.json beside the build (dist/node-core/src/cli -> root). */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

const program = new Command();
program
  .name('gyre')
  .description('Gyre: a Dynamo-style leaderless key-value store')
  .version(packageVersion(), '-V, --version', 'print the version')
  .showHelpAfterError()
  // Usage errors exit 2 (commander's default is 1, which here means "not found").
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : exitCodes.usage))
  .addHelpText(
    'after',
    `
Exit codes: 0 ok; 1 not found; 2 usage, configuration, or a node that cannot start;
3 unavailable (no node answered, or fewer than R/W replicas did); 4 refused: the token is
missing or wrong, or the call needs the admin token; 5 the node refused the request (bad
context, too large...); 6 siblings where one value was needed (resolve them: gyre update).`,
  );

/** Declares one option per setting of the table (no defaults here: resolveNodeSettings knows them). */
function nodeOptions(cmd: Command): Command {
  for (const s of nodeSettingTable) {
    if (s.key === 'control') cmd.option('--no-control', s.help);
    else if (s.kind.t === 'bool') cmd.option(s.flag, s.help);
    else cmd.option(`${s.flag} <value>`, s.help);
  }
  return cmd;
}

function readConfigFile(path: string): { name: string; folder: string; json: unknown } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    fail(`cannot read the config file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    return { name: path, folder: dirname(resolve(path)), json: JSON.parse(text) as unknown };
  } catch (e) {
    fail(`the config file ${path} is not JSON: ${(e as Error).message}`);
  }
}

const nodeCommand = nodeOptions(
  program
    .command('node')
    .description('run one node in the foreground (settings: flags, then GYRE_* variables, then --config, then defaults; see docs/deploy.md)')
    .option('--config <file>', 'read settings from this JSON file (keys as in --print-config; flags and GYRE_* variables override it)')
    .option('--print-config', 'print the settings the node would run with, as a config file, and where each came from (stderr); start nothing')
    .option('--token <token>', 'cluster token (default $GYRE_TOKEN); prefer --token-file: ps shows argv'),
);
nodeCommand.action(async (o: Record<string, unknown> & { config?: string; printConfig?: boolean; token?: string }) => {
  const flags: Partial<Record<keyof NodeSettings, unknown>> = {};
  for (const s of nodeSettingTable) if (nodeCommand.getOptionValueSource(s.key) === 'cli') flags[s.key] = o[s.key];
  const r = resolveNodeSettings({ flags, env: process.env, file: o.config !== undefined ? readConfigFile(o.config) : undefined, resolvePath: resolve });
  if (!r.ok) fail(`gyre node: the configuration is refused:\n  ${r.errors.join('\n  ')}`);
  const s = r.settings;
  if (o.printConfig) {
    console.log(JSON.stringify(asConfigFile(s), null, 2));
    for (const t of nodeSettingTable) if (s[t.key] !== undefined) console.error(`${t.key.padEnd(18)} ${r.sources[t.key]}`);
    return;
  }
  const { tokenFile, adminTokenFile } = secretFilesInForce(s, r.sources, o.token, process.env);
  const { token, adminToken } = nodeSecrets({ ...(o.token !== undefined ? { token: o.token } : {}), ...(tokenFile !== undefined ? { tokenFile } : {}), ...(adminTokenFile !== undefined ? { adminTokenFile } : {}) });
  await runNode(nodeConfigOf(s, token, adminToken), s);
});

/**
 * Which token files count, by the settings' precedence (flags > GYRE_* > the config file): a
 * token file named in the config file gives way to GYRE_TOKEN (GYRE_ADMIN_TOKEN) and to
 * --token, as any other setting from the file gives way to a variable or a flag.
 */
function secretFilesInForce(s: NodeSettings, sources: Readonly<Record<keyof NodeSettings, string>>, tokenFlag: string | undefined, env: NodeJS.ProcessEnv): { tokenFile: string | undefined; adminTokenFile: string | undefined } {
  const beaten = (source: string, byEnv: boolean, byFlag: boolean) => (source === 'file' && (byEnv || byFlag)) || (source === 'env' && byFlag);
  return {
    tokenFile: s.tokenFile !== undefined && !beaten(sources.tokenFile, Boolean(env.GYRE_TOKEN), tokenFlag !== undefined) ? s.tokenFile : undefined,
    adminTokenFile: s.adminTokenFile !== undefined && !beaten(sources.adminTokenFile, Boolean(env.GYRE_ADMIN_TOKEN), false) ? s.adminTokenFile : undefined,
  };
}

function nodeConfigOf(s: NodeSettings, token: string | undefined, adminToken: string | undefined): NodeConfig {
  return {
    id: s.id,
    dir: resolve(s.dir ?? join(defaultDir(), s.id)),
    host: s.host,
    advertise: s.advertise,
    port: s.port,
    internodePort: s.internodePort,
    seeds: s.seeds,
    corsOrigins: s.corsOrigins,
    n: s.n,
    r: s.r,
    w: s.w,
    partitions: s.partitions,
    token,
    adminToken,
    allowFaults: s.allowFaults,
    requestTimeoutMs: s.timeoutMs,
    sync: s.sync,
    logLevel: s.logLevel,
    tombstoneGraceMs: s.tombstoneGraceMs,
    reapedRetainMs: s.reapedRetainMs,
  };
}

/** Serves the node until SIGTERM/SIGINT (or it has left the cluster); SIGHUP reloads TLS files. */
async function runNode(config: NodeConfig, s: NodeSettings): Promise<void> {
  let shutdown: (sig: string) => void = () => process.exit(0);
  const tlsFiles = s.tlsCert === undefined || s.tlsKey === undefined ? undefined : { certFile: s.tlsCert, keyFile: s.tlsKey, caFile: s.tlsCa };
  const log = s.logFile !== undefined ? { file: s.logFile, maxBytes: s.logMaxBytes, files: s.logFiles } : undefined;
  let served: ServedNode;
  try {
    served = await serveNode(config, { control: s.control, respPort: s.respPort, tls: tlsFiles, log, onLeft: () => shutdown('left the cluster') });
  } catch (e) {
    fail((e as Error).message);
  }
  const { node, addresses } = served;
  node.log.info({ ...addresses, tls: tlsFiles ? (tlsFiles.caFile ? 'mutual internode' : 'on') : 'off', dir: config.dir }, 'node ready');
  process.on('SIGHUP', () => {
    try {
      served.reloadTls();
      node.log.info({}, tlsFiles ? 'TLS certificates reloaded' : 'SIGHUP: nothing to reload');
    } catch (e) {
      node.log.error({ err: (e as Error).message }, 'TLS reload failed; the old certificates stay in use');
    }
  });
  let stopping = false;
  shutdown = (sig: string) => {
    if (stopping) return;
    stopping = true;
    node.log.info({ signal: sig }, 'shutting down');
    served.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        node.log.error({ err: String(e) }, 'unclean shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

program
  .command('up')
  .description('start a local cluster of node processes and wait until all see each other up')
  .option('--nodes <n>', 'number of nodes', int('nodes', 1, 64), 3)
  .option('--port <port>', 'client port of the first node; the others follow', int('port', 1, 65535), 7070)
  .option('--dir <path>', 'data folder of the cluster (default $GYRE_DIR)')
  .option('--foreground', 'stay in the foreground; Ctrl-C stops the cluster')
  .option('--json', 'print the nodes as JSON: {dir, nodes: [{id, url, resp}]}')
  .action(async (o: { nodes: number; port: number; dir?: string; foreground?: boolean; json?: boolean }) => {
    const dir = resolve(o.dir ?? defaultDir());
    const token = process.env.GYRE_TOKEN || undefined;
    const existing = LocalCluster.load(dir, token);
    let cluster: LocalCluster;
    if (existing && existing.running().length > 0) {
      cluster = existing;
      for (const n of cluster.nodes) cluster.startNode(n.id);
      if (!o.json) console.log(`reusing the cluster in ${dir}`);
    } else {
      cluster = LocalCluster.create({ dir, nodes: o.nodes, port: o.port, token });
      cluster.start();
    }
    try {
      await cluster.waitUntilUp();
    } catch (e) {
      console.error(`gyre up: ${(e as Error).message}`);
      await cluster.stop();
      process.exit(exitCodes.usage);
    }
    const nodes: { id: string; url: string; resp: string | undefined }[] = [];
    for (const n of cluster.nodes) {
      // Each node's /status names its listeners (the RESP port may have been set otherwise).
      const status = await new GyreClient({ failover: false, url: cluster.url(n.id), token, keepAlive: false }).status().catch(() => undefined);
      nodes.push({ id: n.id, url: cluster.url(n.id), resp: status?.listeners?.resp });
    }
    if (o.json) console.log(JSON.stringify({ dir, nodes }));
    else {
      console.log(`gyre: ${cluster.nodes.length} nodes up (data in ${dir})`);
      for (const n of nodes) console.log(`${n.id} ${n.url}${n.resp ? ` resp ${n.resp}` : ''}`);
    }
    if (!o.foreground) return;
    console.log('Ctrl-C stops the cluster');
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      console.log('stopping the cluster...');
      cluster.stop().then(() => process.exit(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    setInterval(() => {}, 1 << 30);
  });

/** What `gyre console` passes to the console program (electron/console-command.ts). */
interface ConsoleOptions {
  readonly web?: boolean;
  readonly port: number;
  readonly attach?: string;
  readonly dir?: string;
  readonly nodes: number;
  readonly clusterPort: number;
  readonly token?: string;
  readonly ca?: string;
}

program
  .command('console')
  .description('the operator console: a desktop window where Electron and a display exist, else served on a local URL (--web)')
  .option('--web', 'serve the console on http://127.0.0.1:PORT/ instead of opening a window')
  .option('--port <port>', 'port of the web console (0: any free port)', int('port', 0, 65535), 7300)
  .option('--attach <urls>', 'attach to a running cluster (node URLs, comma-separated) instead of launching a local one')
  .option('--dir <path>', 'data folder: the local cluster and the console settings (default $GYRE_DIR)')
  .option('--nodes <n>', 'nodes of a local cluster it launches', int('nodes', 1, 16), 3)
  .option('--cluster-port <port>', 'first port of a local cluster it launches', int('cluster port', 1, 65535), 7070)
  .option('--token <token>', 'cluster token (default $GYRE_TOKEN)')
  .option('--ca <file>', 'with --attach https://...: the CA certificate (PEM) the nodes are checked against')
  .action(async (o: ConsoleOptions) => {
    // The console is a program of its own (electron/): the CLI finds its entry beside the
    // node's build, as git finds git-<command>, and knows it only by the ConsoleOptions it
    // passes. node-core never imports the console, so the node runs where the console is absent.
    const entry = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'electron', 'console-command.js');
    if (!existsSync(entry)) fail(`the console is not part of this build (${entry} is missing)`);
    const mod = (await import(pathToFileURL(entry).href)) as { runConsole?: (o: ConsoleOptions & { dir: string; token: string | undefined }) => Promise<void> };
    if (typeof mod.runConsole !== 'function') fail(`${entry} is not the console's entry`);
    await mod.runConsole({ ...o, dir: resolve(o.dir ?? defaultDir()), token: o.token ?? process.env.GYRE_TOKEN ?? undefined });
  });

function nodeDir(o: { dir?: string; id?: string }, command: string): string {
  if (o.dir !== undefined) return resolve(o.dir);
  if (o.id !== undefined && isValidNodeId(o.id)) return join(defaultDir(), o.id);
  return fail(`gyre ${command}: give the node's data folder (--dir PATH) or its id (--id ID, for $GYRE_DIR/ID)`);
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

/** Runs a backup or restore step; its refusals (BackupError) exit 5 with their message. */
function backupStep(run: () => void): void {
  try {
    run();
  } catch (e) {
    if (e instanceof BackupError) fail(e.message, exitCodes.refused);
    throw e;
  }
}

program
  .command('backup')
  .description("copy one node's database to a new file, consistently, while the node runs (see docs/deploy.md)")
  .option('--dir <path>', "the node's data folder")
  .option('--id <id>', 'the node id, for the data folder $GYRE_DIR/<id>')
  .requiredOption('--out <file>', 'the backup file to write (never overwritten)')
  .option('--json', 'print what was copied as JSON')
  .action((o: { dir?: string; id?: string; out: string; json?: boolean }) => {
    const dir = nodeDir(o, 'backup');
    backupStep(() => {
      const info = backupNode(dir, resolve(o.out), Date.now());
      if (o.json) console.log(JSON.stringify({ file: resolve(o.out), ...info }));
      else console.log(`backed up ${info.keys} keys and ${info.hints} hints from ${dir} to ${o.out} (${mib(info.bytes)})`);
    });
  });

program
  .command('restore')
  .description("put a backup back into a stopped node's empty data folder; start the node after (see docs/deploy.md)")
  .requiredOption('--from <file>', 'the backup file (from gyre backup)')
  .option('--dir <path>', "the node's data folder")
  .option('--id <id>', 'the node id, for the data folder $GYRE_DIR/<id>')
  .option('--max-age-ms <ms>', 'refuse a backup older than this: keys deleted since would come back (default: the --reaped-retain-ms the node recorded in the backup, else 7 days)', int('max age', 0, Number.MAX_SAFE_INTEGER))
  .option('--check', 'only check the backup file and say what it holds')
  .action((o: { from: string; dir?: string; id?: string; maxAgeMs?: number; check?: boolean }) => {
    backupStep(() => {
      if (o.check) {
        const info = inspectBackup(resolve(o.from));
        console.log(`${o.from}: a Gyre backup taken ${new Date(info.createdAtMs).toISOString()}, ${info.keys} keys, ${info.hints} hints, ${mib(info.bytes)}; it passes SQLite's integrity check`);
        return;
      }
      const dir = nodeDir(o, 'restore');
      const info = restoreNode(resolve(o.from), dir, { now: Date.now(), maxAgeMs: o.maxAgeMs, defaultMaxAgeMs: defaultConfig.reapedRetainMs });
      console.log(`restored ${info.keys} keys from ${o.from} (taken ${new Date(info.createdAtMs).toISOString()}) into ${dir}; start the node with its --id and --dir: read repair and anti-entropy bring it what it missed`);
    });
  });

program
  .command('down')
  .description('stop the local cluster started by `gyre up`')
  .option('--dir <path>', 'data folder of the cluster (default $GYRE_DIR)')
  .action(async (o: { dir?: string }) => {
    const dir = resolve(o.dir ?? defaultDir());
    const cluster = LocalCluster.load(dir);
    if (!cluster) {
      console.log(`no cluster recorded in ${dir}`);
      return;
    }
    await cluster.stop();
    console.log(`stopped the cluster in ${dir}`);
  });

interface ClientOpts {
  url: string;
  r?: number;
  w?: number;
  token?: string;
  tokenFile?: string;
  ca?: string;
  json?: boolean;
}

function clientOptions(cmd: Command): Command {
  return cmd
    .option('--url <urls>', 'nodes of the cluster, comma-separated: tried in turn until one answers', 'http://127.0.0.1:7070')
    .option('--r <r>', 'read quorum for this request', int('r', 1, 16))
    .option('--w <w>', 'write quorum for this request', int('w', 1, 16))
    .option('--token <token>', 'token (default $GYRE_TOKEN; for leave and faults $GYRE_ADMIN_TOKEN first)')
    .option('--token-file <file>', 'read the token from this file (mode 600) instead of argv, where ps shows it')
    .option('--ca <file>', 'CA certificate (PEM) to check an https node against (default: the system\'s CAs)');
}

/** The token a client command sends: --token, --token-file, else the environment's (the admin token first for admin commands). */
function clientToken(o: ClientOpts, admin: boolean): string | undefined {
  if (o.token !== undefined && o.tokenFile !== undefined) fail('give --token or --token-file, not both');
  if (o.token !== undefined) return o.token;
  if (o.tokenFile !== undefined) {
    const r = readSecretFile('token', o.tokenFile);
    if (!r.ok) fail(r.reason);
    return r.value;
  }
  const env = process.env;
  return (admin ? env.GYRE_ADMIN_TOKEN || env.GYRE_TOKEN : env.GYRE_TOKEN || env.GYRE_ADMIN_TOKEN) || undefined;
}

function clientFor(o: ClientOpts, admin: boolean): GyreClient {
  let ca: Buffer | undefined;
  if (o.ca !== undefined) {
    try {
      ca = readFileSync(o.ca);
    } catch (e) {
      fail(`cannot read the CA file ${o.ca}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
  const urls = o.url.split(',').map((u) => u.trim()).filter(Boolean);
  for (const u of urls) if (!/^https?:\/\/[^\s/]+/.test(u)) fail(`--url ${JSON.stringify(u)}: expected http://HOST:PORT or https://HOST:PORT`);
  // Admin calls act on the node named first; the others are not tried for them.
  return new GyreClient({ urls, token: clientToken(o, admin), keepAlive: false, failover: !admin, retry: { attempts: Math.max(3, urls.length) }, ...(ca ? { ca } : {}) });
}

/** Runs one client call; a node's error or an unreachable node ends the command with its message. */
async function call<T>(o: ClientOpts, fn: (c: GyreClient) => Promise<T>, admin = false): Promise<T> {
  try {
    return await fn(clientFor(o, admin));
  } catch (e) {
    failOn(e, o.url);
  }
}

/** Ends the command on a client error with its exit code and what to do next. */
function failOn(e: unknown, url: string): never {
  if (e instanceof AuthError) fail(`${e.message}\n  (set GYRE_TOKEN or pass --token-file; leave, faults and traces take GYRE_ADMIN_TOKEN where one is set)`, exitCodes.auth);
  if (e instanceof UnavailableError) fail(`${e.message}\n  (is the cluster up? try more nodes in --url, or a lower --r/--w)`, exitCodes.unavailable);
  if (e instanceof SiblingsError) fail(e.message, exitCodes.siblings);
  if (e instanceof GyreError) fail(e.message, exitCodes.refused);
  if (e instanceof HttpError) fail(`cannot reach ${url}: ${e.message}`, /CERT|SELF_SIGNED|VERIFY|EPROTO/.test(e.code) ? exitCodes.refused : exitCodes.unavailable);
  throw e;
}

clientOptions(program.command('get <key>').description('read a key; the value goes to stdout, its context to stderr'))
  .option('--json', 'print status, context and every sibling as JSON')
  .action(async (key: string, o: ClientOpts) => {
    const read = await call(o, (c) => c.get(key, { r: o.r, w: o.w }));
    if (read.context) console.error(`context: ${read.context}`);
    if (read.status === 404) {
      if (o.json) console.log(JSON.stringify({ status: 404, context: read.context ?? null, siblings: [] }, null, 2));
      fail('not found', exitCodes.notFound);
    }
    if (read.status === 300 || o.json) {
      const siblings = read.siblings.map((s) => ({ value: s.value.toString('base64'), contentType: s.contentType, deleted: s.deleted, lastModified: s.lastModified ?? null, text: s.value.toString('utf8') }));
      console.log(JSON.stringify({ status: read.status, context: read.context, siblings }, null, 2));
      return;
    }
    process.stdout.write(read.siblings[0]!.value);
    if (process.stdout.isTTY) process.stdout.write('\n');
  });

clientOptions(program.command('put <key> [value]').description('write a value (the argument, --file, or standard input); prints the new context'))
  .option('--context <context>', 'context from a previous get (supersedes what it covers)')
  .option('--file <path>', 'the value is this file\'s bytes (- for standard input)')
  .option('--content-type <type>', 'content type stored with the value (default text/plain for an argument, application/octet-stream for a file or stdin)')
  .option('--json', 'print {"context": ...} as JSON')
  .action(async (key: string, arg: string | undefined, o: ClientOpts & { context?: string; contentType?: string; file?: string }) => {
    const value = await readValue(arg, o.file, fail);
    const contentType = o.contentType ?? (arg !== undefined ? 'text/plain; charset=utf-8' : 'application/octet-stream');
    const { context } = await call(o, (c) => c.put(key, value, { context: o.context, r: o.r, w: o.w, contentType }));
    console.log(o.json ? JSON.stringify({ context }) : context);
  });

clientOptions(program.command('del <key>').description('delete a key (writes a tombstone)'))
  .option('--context <context>', 'context from a previous get (without it, the key is read first)')
  .option('--json', 'print {"context": ...} as JSON')
  .action(async (key: string, o: ClientOpts & { context?: string }) => {
    const { context } = await call(o, (c) => c.delete(key, { context: o.context, r: o.r, w: o.w }));
    console.log(o.json ? JSON.stringify({ context }) : context);
  });

const builtInResolvers: Readonly<Record<string, Resolver>> = { lww: lastWriterWins, union: jsonSetUnion };

clientOptions(
  program
    .command('update <key>')
    .description('resolve a key\'s siblings (or edit its value) and write the result back with their context')
    .addHelpText(
      'after',
      `
Without --resolve or --merge, the value opens in $VISUAL or $EDITOR (else vi); siblings open
one after another between conflict markers, as git shows a merge: keep what you want, delete
the markers, save. An unchanged single value writes nothing.
  --resolve lww      keep the version written last
  --resolve union    JSON arrays merged as a set (no concurrent add is lost)
  --merge CMD        run CMD (through sh) with the siblings as JSON on standard input
                     ({"siblings":[{"value":"<base64>","text":...,"contentType":...}]});
                     what it prints is the value written`,
    ),
)
  .addOption(new Option('--resolve <name>', 'a built-in resolver').choices(Object.keys(builtInResolvers)))
  .option('--merge <command>', 'a command that merges the siblings (see below)')
  .option('--content-type <type>', 'content type of the value written (default: the one read)')
  .option('--json', 'print {"context", "merged"} as JSON')
  .action(async (key: string, o: ClientOpts & { resolve?: string; merge?: string; contentType?: string }) => {
    if (o.resolve && o.merge) fail('give --resolve or --merge, not both');
    const client = clientFor(o, false);
    const resolve: Resolver = o.resolve ? builtInResolvers[o.resolve]! : o.merge ? mergeWithCommand(o.merge, fail) : (siblings) => editSiblings(siblings, fail);
    try {
      // update()'s steps, spelled out: an unchanged value is not written back (it would only bump its clock).
      const cur = await client.getValue(key, { resolve, r: o.r });
      if (!cur) fail(`${key}: not found (gyre put creates it)`, exitCodes.notFound);
      const value = cur.merged > 1 || o.resolve || o.merge ? cur.value : editSiblings([{ value: cur.value, contentType: cur.contentType, deleted: false }], fail);
      if (cur.merged === 1 && value.equals(cur.value)) {
        console.error(o.resolve || o.merge ? 'one version, nothing to resolve: nothing written' : 'unchanged: nothing written');
        if (o.json) console.log(JSON.stringify({ context: cur.context, merged: 1, written: false }));
        return;
      }
      const { context } = await client.put(key, value, { context: cur.context, w: o.w, contentType: o.contentType ?? cur.contentType });
      console.log(o.json ? JSON.stringify({ context, merged: cur.merged, written: true }) : context);
    } catch (e) {
      failOn(e, o.url);
    }
  });

clientOptions(program.command('join').description('ask the node at --url (the first named), started without seeds and empty, to join the cluster of --seeds'))
  .requiredOption('--seeds <list>', 'client addresses (host:port) of members of the cluster to join, comma-separated')
  .option('--json', 'print {"joining": URL, "seeds": [...]} as JSON')
  .action(async (o: ClientOpts & { seeds: string }) => {
    const seeds = o.seeds.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (seeds.length === 0) fail('--seeds names no seed', exitCodes.usage);
    const c = await call(o, async (c) => (await c.join(seeds), c), true);
    console.log(o.json ? JSON.stringify({ joining: c.url, seeds }) : `${c.url}: joining through ${seeds.join(', ')}; watch \`gyre status\` for it to become a member`);
  });

clientOptions(program.command('leave').description('decommission the node at --url (the first named): it hands off every partition, then exits'))
  .option('--json', 'print {"leaving": URL} as JSON')
  .action(async (o: ClientOpts) => {
    const c = await call(o, async (c) => (await c.leave(), c), true);
    console.log(o.json ? JSON.stringify({ leaving: c.url }) : `${c.url}: leaving; watch \`gyre status\` for its partitions to move`);
  });

clientOptions(program.command('status').description("print a node's view of the cluster"))
  .option('--json', 'print the raw JSON')
  .action(async (o: ClientOpts) => {
    const body = await call(o, (c) => c.status());
    if (o.json) {
      console.log(JSON.stringify(body, null, 2));
      return;
    }
    const c = body.config;
    console.log(`node ${body.node.id}  N=${c.n} R=${c.r} W=${c.w} Q=${c.partitions}  hints pending: ${body.hintsPending}`);
    for (const m of body.members) console.log(`  ${m.id.padEnd(12)} ${m.status.padEnd(8)} ${m.address.padEnd(22)} ${m.partitions ?? '?'} partitions`);
  });

// --- gyre fault -------------------------------------------------------------------------

/** "10s", "500ms", "2m", "1h" or plain milliseconds. */
function duration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError('a duration is a number with ms, s, m or h (plain numbers are ms)');
  const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const ms = Number(m[1]) * (unitMs[m[2] ?? 'ms'] ?? 1);
  if (!Number.isFinite(ms) || ms < 1) throw new InvalidArgumentError('a duration must be positive');
  return Math.round(ms);
}

function nodeIds(v: string): string[] {
  const ids = v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  for (const id of ids) if (!isValidNodeId(id)) throw new InvalidArgumentError(`${JSON.stringify(id)} is not a node id`);
  if (ids.length === 0) throw new InvalidArgumentError('list at least one node id');
  return ids;
}

type FaultOpts = ClientOpts & { duration?: number };

async function injectFault(o: FaultOpts, spec: Record<string, unknown>): Promise<void> {
  const answer = await call(o, (c) => c.admin('POST', '/admin/faults', { ...spec, ...(o.duration !== undefined ? { durationMs: o.duration } : {}) }), true);
  const body = answer as { fault: { id: string; description: string; remainingMs: number | null }; reached: string[]; missed: string[] };
  if (o.json) {
    console.log(JSON.stringify(body, null, 2));
    return;
  }
  const until = body.fault.remainingMs === null ? 'until healed' : `for ${body.fault.remainingMs} ms`;
  console.log(`${body.fault.id}: ${body.fault.description}, ${until}`);
  if (body.missed.length > 0) console.log(`  not confirmed by ${body.missed.join(', ')} (they learn it by gossip, or are down)`);
}

function faultCommand(name: string, description: string): Command {
  return clientOptions(fault.command(name).description(description)).option('--json', 'print the JSON answer');
}

const fault = program
  .command('fault')
  .description('inject failures into a running cluster (every fault but crash can have --duration and expires by itself)')
  .addHelpText(
    'after',
    `
Faults act on internode messages (clients still reach every node); any node relays them to the
whole cluster. Examples:
  gyre fault partition n1 --duration 30s           isolate n1 from every other node
  gyre fault partition n1,n2 --to n3 --one-way     messages n1,n2 -> n3 are lost, not the replies
  gyre fault latency --delay 200 --jitter 100      200-300 ms more on every internode message
  gyre fault loss --probability 0.2 --nodes n2     lose 20% of messages to and from n2
  gyre fault pause n3 --duration 5s                n3 stops processing for 5 s
  gyre fault crash n2                              n2 kills itself (SIGKILL)
  gyre fault restart n2                            restart n2 of the local cluster (gyre up)
  gyre fault list                                  the faults in force
  gyre fault heal                                  heal everything (or: gyre fault heal <id>)`,
  );

faultCommand('partition <nodes>', 'cut <nodes> (comma-separated) off from --to (default: every other node)')
  .option('--to <nodes>', 'the other side (comma-separated)', nodeIds)
  .option('--one-way', 'only messages from <nodes> to the other side are lost')
  .option('--duration <d>', 'how long (e.g. 30s); default until healed', duration)
  .action(async (nodes: string, o: FaultOpts & { to?: string[]; oneWay?: boolean }) => {
    await injectFault(o, { kind: 'partition', from: nodeIds(nodes), ...(o.to ? { to: o.to } : {}), oneWay: o.oneWay === true });
  });

faultCommand('latency', 'add latency to internode messages')
  .requiredOption('--delay <ms>', 'added delay in ms', int('delay', 0, 60_000))
  .option('--jitter <ms>', 'plus a uniform random 0..jitter ms', int('jitter', 0, 60_000))
  .option('--nodes <nodes>', 'only messages to or from these nodes (default every link)', nodeIds)
  .option('--duration <d>', 'how long (e.g. 30s); default until healed', duration)
  .action(async (o: FaultOpts & { delay: number; jitter?: number; nodes?: string[] }) => {
    await injectFault(o, { kind: 'latency', delayMs: o.delay, jitterMs: o.jitter ?? 0, ...(o.nodes ? { nodes: o.nodes } : {}) });
  });

faultCommand('loss', 'lose internode messages at random')
  .requiredOption('--probability <p>', 'chance each message is lost (0..1)', (v: string) => {
    const p = Number(v);
    if (!Number.isFinite(p) || p < 0 || p > 1) throw new InvalidArgumentError('probability must be in 0..1');
    return p;
  })
  .option('--nodes <nodes>', 'only messages to or from these nodes (default every link)', nodeIds)
  .option('--duration <d>', 'how long (e.g. 30s); default until healed', duration)
  .action(async (o: FaultOpts & { probability: number; nodes?: string[] }) => {
    await injectFault(o, { kind: 'loss', probability: o.probability, ...(o.nodes ? { nodes: o.nodes } : {}) });
  });

faultCommand('pause <node>', 'the node stops processing anything for the duration (default 10s, at most 120s)')
  .option('--duration <d>', 'how long (e.g. 5s)', duration)
  .action(async (node: string, o: FaultOpts) => {
    await injectFault(o, { kind: 'pause', node });
  });

faultCommand('crash <node>', 'the node kills itself with SIGKILL')
  .action(async (node: string, o: FaultOpts) => {
    await injectFault(o, { kind: 'crash', node });
  });

fault
  .command('restart <node>')
  .description('restart a node of the local cluster started by `gyre up` (SIGKILL, then start again)')
  .option('--dir <path>', 'data folder of the cluster (default $GYRE_DIR)')
  .action(async (node: string, o: { dir?: string }) => {
    const dir = resolve(o.dir ?? defaultDir());
    const cluster = LocalCluster.load(dir);
    if (!cluster) fail(`no local cluster recorded in ${dir}`);
    try {
      cluster.node(node);
    } catch {
      fail(`the local cluster in ${dir} has no node ${node}`);
    }
    await cluster.stopNode(node, 'SIGKILL');
    cluster.startNode(node);
    console.log(`restarted ${node} (${cluster.url(node)})`);
  });

faultCommand('list', 'list the faults in force').action(async (o: FaultOpts) => {
  const body = (await call(o, (c) => c.admin('GET', '/admin/faults'), true)) as { faults: { id: string; description: string; remainingMs: number | null }[] };
  if (o.json) {
    console.log(JSON.stringify(body, null, 2));
    return;
  }
  if (body.faults.length === 0) console.log('no faults in force');
  for (const f of body.faults) console.log(`${f.id}  ${f.description}  ${f.remainingMs === null ? 'until healed' : `${Math.ceil(f.remainingMs / 1000)} s left`}`);
});

faultCommand('heal [id]', 'heal every fault, or the one with this id').action(async (id: string | undefined, o: FaultOpts) => {
  const body = (await call(o, (c) => c.admin('DELETE', `/admin/faults${id ? `/${encodeURIComponent(id)}` : ''}`), true)) as { healed: { id: string; description: string }[]; missed: string[] };
  if (o.json) {
    console.log(JSON.stringify(body, null, 2));
    return;
  }
  console.log(body.healed.length === 0 ? 'no faults were in force' : `healed ${body.healed.map((f) => `${f.id} (${f.description})`).join(', ')}`);
  if (body.missed.length > 0) console.log(`  not confirmed by ${body.missed.join(', ')} (their faults expire or they learn it by gossip)`);
});

function fail(message: string, code = 2): never {
  console.error(`gyre: ${message}`);
  process.exit(code);
}

addBenchCommand(program);

program.parseAsync(process.argv).catch((e: unknown) => fail((e as Error).message));
