// The deployment assets of docs/deploy.md, read the way their tools read them and run through
// the real CLI: `gyre node --print-config` resolves every setting (flags > GYRE_* > --config >
// defaults) and refuses what a node would refuse, starting nothing.
// - deploy/config/node.example.json: a valid config for one host of three, bound to every
//   address, advertising a name, with fixed ports, seeds, token files, TLS and a log file;
// - deploy/k8s/gyre.yaml: the StatefulSet's environment (with Kubernetes' $(VAR) expansion)
//   and arguments make a valid node whose ports are the ones the Service and the container
//   declare, whose id and advertised name are the pod's stable ones, and whose seeds are pods;
// - deploy/systemd/gyre@.service: its ExecStart, on a copy of the example config, is a valid
//   node whose data folder and log file are in the only places ProtectSystem=strict leaves
//   writable;
// - docs/deploy.md: every flag, GYRE_* variable, config key, endpoint and metric it names exists.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { nodeSettingTable, resolveNodeSettings } from '../../node-core/src/cli/node-settings.js';
import { matchRoute } from '../../node-core/src/http/routes.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cliPath = join(root, 'dist', 'node-core', 'src', 'cli', 'gyre.js');
const exampleConfig = join(root, 'deploy', 'config', 'node.example.json');
const k8sManifest = join(root, 'deploy', 'k8s', 'gyre.yaml');
const systemdUnit = join(root, 'deploy', 'systemd', 'gyre@.service');
const deployDoc = join(root, 'docs', 'deploy.md');
const metricsSource = join(root, 'node-core', 'src', 'node', 'metrics.ts');

const cleanEnv = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GYRE_')));
const wildcards = new Set(['0.0.0.0', '::', '[::]', '::0']);

interface Printed {
  readonly status: number | null;
  readonly stderr: string;
  readonly settings: Record<string, unknown>;
}

/** `gyre ARGS --print-config` with only the given GYRE_* variables; the settings it printed. */
function printConfig(args: readonly string[], env: Readonly<Record<string, string>> = {}): Printed {
  const r = spawnSync(process.execPath, [cliPath, ...args, '--print-config'], { env: { ...cleanEnv(), ...env }, encoding: 'utf8' });
  let settings: Record<string, unknown> = {};
  if (r.status === 0) settings = JSON.parse(r.stdout) as Record<string, unknown>;
  return { status: r.status, stderr: r.stderr, settings };
}

function portsOf(s: Record<string, unknown>): { port: number; internodePort: number; respPort: number } {
  const { port, internodePort, respPort } = s;
  assert.ok(typeof port === 'number' && typeof internodePort === 'number' && typeof respPort === 'number', JSON.stringify(s));
  return { port, internodePort, respPort };
}

/** The printed settings of a node meant for a network: every address bound, a real name advertised, fixed ports. */
function assertServerNode(s: Record<string, unknown>): void {
  assert.ok(wildcards.has(String(s.host)), `host ${String(s.host)} binds every address`);
  assert.ok(typeof s.advertise === 'string' && !wildcards.has(s.advertise) && s.advertise !== s.host, `advertise ${String(s.advertise)} names this node`);
  const ports = Object.values(portsOf(s));
  assert.ok(ports.every((p) => p > 0), `fixed ports for the firewall, not 0: ${ports.join(', ')}`);
  assert.equal(new Set(ports).size, 3, 'three different ports');
}

// --- YAML and Kubernetes ----------------------------------------------------------------

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

const isObj = (v: Json | undefined): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
function obj(v: Json | undefined, what: string): Obj {
  assert.ok(isObj(v), `${what} is a mapping`);
  return v;
}
function arr(v: Json | undefined, what: string): Json[] {
  assert.ok(Array.isArray(v), `${what} is a list`);
  return v;
}
function str(v: Json | undefined, what: string): string {
  assert.equal(typeof v, 'string', `${what} is a string`);
  return v as string;
}

/** The manifest's documents, parsed as kubectl would (errors refused). */
function manifests(): Obj[] {
  const docs = parseAllDocuments(readFileSync(k8sManifest, 'utf8'));
  const list = Array.isArray(docs) ? docs : [docs];
  const out: Obj[] = [];
  for (const d of list) {
    assert.deepEqual(d.errors.map((e) => e.message), [], `${k8sManifest} parses`);
    const v = d.toJS() as Json;
    if (v !== null) out.push(obj(v, 'a document'));
  }
  return out;
}

/**
 * Kubernetes' expansion of `$(NAME)` in env values, command and args: only names defined
 * earlier in the list expand; `$$` is a literal `$`; anything else stays as written.
 */
function expand(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) => (name === undefined ? '$' : (vars.get(name) ?? m)));
}

/** The container's environment as the kubelet builds it, for a pod of this name and namespace. */
function containerEnv(container: Obj, pod: { name: string; namespace: string }): Map<string, string> {
  const vars = new Map<string, string>();
  for (const [i, raw] of arr(container.env, 'env').entries()) {
    const e = obj(raw, `env[${i}]`);
    const name = str(e.name, `env[${i}].name`);
    if (e.value !== undefined) {
      vars.set(name, expand(str(e.value, `${name}.value`), vars));
      continue;
    }
    const path = str(obj(obj(e.valueFrom, `${name}.valueFrom`).fieldRef, `${name}.valueFrom.fieldRef`).fieldPath, `${name} fieldPath`);
    const fields: Record<string, string> = { 'metadata.name': pod.name, 'metadata.namespace': pod.namespace };
    assert.ok(path in fields, `${name} takes ${path} from the downward API (known to this test: ${Object.keys(fields).join(', ')})`);
    vars.set(name, fields[path]!);
  }
  return vars;
}

/** The value after `flag` in an argv, if any. */
function flagValue(argv: readonly string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

const under = (path: string, folder: string) => posix.relative(folder, path) !== '' && !posix.relative(folder, path).startsWith('..') && !posix.isAbsolute(posix.relative(folder, path));

// --- systemd --------------------------------------------------------------------------

/** A unit file's [section] -> key -> values (a key may repeat), continuation lines joined. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const line of text.replace(/\\\n/g, ' ').split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#') || t.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(t);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const eq = t.indexOf('=');
    assert.ok(current && eq > 0, `unit line ${JSON.stringify(t)} is key=value inside a section`);
    const key = t.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), t.slice(eq + 1).trim()]);
  }
  return sections;
}

// --- the guide ------------------------------------------------------------------------

/** Runs `gyre ARGS --help` and returns its text (commander's), failing the test if it does not exit 0. */
const helpCache = new Map<string, string>();
function helpOf(command: readonly string[]): string {
  const key = command.join(' ');
  const cached = helpCache.get(key);
  if (cached !== undefined) return cached;
  const r = spawnSync(process.execPath, [cliPath, ...command, '--help'], { env: cleanEnv(), encoding: 'utf8' });
  assert.equal(r.status, 0, `gyre ${key} --help: ${r.stderr}`);
  helpCache.set(key, r.stdout);
  return r.stdout;
}
const helpHas = (help: string, flag: string) => new RegExp(`(^|[\\s,\\[])${flag.replace(/[-]/g, '\\-')}([\\s,=\\]]|$)`, 'm').test(help);

/** The guide split into prose and fenced code blocks (with their info string). */
function splitMarkdown(text: string): { prose: string; blocks: { lang: string; body: string }[] } {
  const blocks: { lang: string; body: string }[] = [];
  const prose = text.replace(/^```([^\n]*)\n([\s\S]*?)^```\s*$/gm, (_m, lang: string, body: string) => {
    blocks.push({ lang: lang.trim(), body });
    return '';
  });
  return { prose, blocks };
}

/** The gyre invocations of a shell block: [subcommand path, flags] for each `gyre SUB ...` segment. */
function gyreInvocations(shell: string, subcommands: ReadonlySet<string>): { command: string[]; flags: string[]; line: string }[] {
  const out: { command: string[]; flags: string[]; line: string }[] = [];
  for (const line of shell.replace(/\\\n/g, ' ').split('\n')) {
    const code = line.replace(/(^|\s)#.*$/, '');
    for (const segment of code.split(/\|\||&&|[|;`]|\$\(|\)/)) {
      const words = segment.trim().split(/\s+/);
      const at = words.findIndex((w, i) => /(^|\/)gyre$/.test(w) && subcommands.has(words[i + 1] ?? ''));
      if (at < 0) continue;
      const command = [words[at + 1]!];
      if (command[0] === 'fault' && words[at + 2] && !words[at + 2]!.startsWith('-')) command.push(words[at + 2]!);
      const flags = words.slice(at + 1).filter((w) => /^--[a-z]/.test(w)).map((w) => w.replace(/=.*$/, ''));
      out.push({ command, flags, line: line.trim() });
    }
  }
  return out;
}

describe('deployment assets (docs/deploy.md)', () => {
  test('deploy/config/node.example.json is a config gyre node takes: every address bound, a name advertised, fixed ports, seeds, tokens and TLS from files', (t) => {
    const etc = mkdtempSync(join(tmpdir(), 'gyre-deploy-'));
    t.after(() => rmSync(etc, { recursive: true, force: true }));
    const copy = join(etc, 'n1.json');
    copyFileSync(exampleConfig, copy);
    const r = printConfig(['node', '--config', copy]);
    assert.equal(r.status, 0, r.stderr);
    const s = r.settings;
    assertServerNode(s);
    assert.equal(s.id, basename(copy, '.json'), 'the systemd instance name is the node id: /etc/gyre/<id>.json');
    const seeds = s.seeds as string[];
    assert.ok(seeds.length >= 2, 'seeds name the other hosts of three');
    for (const seed of seeds) {
      assert.match(seed, new RegExp(`:${String(s.port)}$`), `seed ${seed} names a client port (every host uses the same one)`);
      assert.ok(!seed.startsWith(`${String(s.advertise)}:`), `seed ${seed} is another host`);
    }
    // Relative paths are taken from the config file's folder, wherever it is copied.
    for (const key of ['tokenFile', 'adminTokenFile', 'tlsCert', 'tlsKey', 'tlsCa']) {
      assert.equal(typeof s[key], 'string', `${key} is set`);
      assert.ok(String(s[key]).startsWith(etc), `${key} ${String(s[key])} is beside the config file`);
    }
    assert.equal(typeof s.logFile, 'string', 'logFile is set');
    assert.equal(s.sync, 'full');
    for (const key of ['host', 'advertise', 'port', 'internodePort', 'respPort', 'seeds', 'tokenFile', 'tlsCert', 'logFile']) assert.match(r.stderr, new RegExp(`^${key}\\s+file$`, 'm'), `${key} comes from the file`);
  });

  test('deploy/k8s/gyre.yaml: the StatefulSet container, with its env expanded for a pod, is a valid node on the ports its Service and container declare', () => {
    const docs = manifests();
    const sts = docs.find((d) => d.kind === 'StatefulSet');
    assert.ok(sts, 'a StatefulSet');
    const stsName = str(obj(sts.metadata, 'metadata').name, 'StatefulSet name');
    const spec = obj(sts.spec, 'StatefulSet spec');
    const serviceName = str(spec.serviceName, 'serviceName');
    const svc = docs.find((d) => d.kind === 'Service' && obj(d.metadata, 'metadata').name === serviceName);
    assert.ok(svc, `the Service ${serviceName} the StatefulSet names`);
    const svcSpec = obj(svc.spec, 'Service spec');
    assert.equal(svcSpec.clusterIP, 'None', 'headless: one stable DNS name per pod');
    const template = obj(spec.template, 'template');
    const labels = obj(obj(template.metadata, 'template metadata').labels, 'template labels');
    for (const [k, v] of Object.entries(obj(svcSpec.selector, 'Service selector'))) assert.equal(labels[k], v, `the Service selects the pods (${k})`);
    const podSpec = obj(template.spec, 'pod spec');
    const container = obj(arr(podSpec.containers, 'containers').map((c) => obj(c, 'container')).find((c) => c.name === 'gyre'), 'the gyre container');

    const replicas = Number(spec.replicas);
    const pod = { name: `${stsName}-${replicas - 1}`, namespace: 'gyre-test' };
    const vars = containerEnv(container, pod);
    const command = arr(container.command, 'command').map((w) => expand(str(w, 'command word'), vars));
    assert.deepEqual(command, ['gyre'], 'the container runs gyre');
    const args = arr(container.args, 'args').map((w) => expand(str(w, 'arg'), vars));
    assert.equal(args[0], 'node');
    const tokenFile = flagValue(args, '--token-file');
    assert.ok(tokenFile, 'the command line names the token file (--token-file)');
    const gyreEnv = Object.fromEntries([...vars].filter(([k]) => k.startsWith('GYRE_')));
    for (const [k, v] of Object.entries(gyreEnv)) assert.ok(!/\$\(/.test(v), `${k}=${v}: every $(NAME) is defined above it`);

    const r = printConfig(args, gyreEnv);
    assert.equal(r.status, 0, r.stderr);
    const s = r.settings;
    assertServerNode(s);
    assert.equal(s.id, pod.name, 'the node id is the pod name');
    assert.equal(s.advertise, `${pod.name}.${serviceName}.${pod.namespace}.svc`, "the pod's stable DNS name is advertised");
    assert.equal(s.tokenFile, tokenFile);

    // Ports: the container's and the Service's, by name, are the node's.
    const settingOf: Record<string, number> = { http: portsOf(s).port, internode: portsOf(s).internodePort, resp: portsOf(s).respPort };
    const containerPorts = new Map(arr(container.ports, 'ports').map((p) => [str(obj(p, 'port').name, 'port name'), Number(obj(p, 'port').containerPort)] as const));
    assert.deepEqual([...containerPorts.keys()].sort(), Object.keys(settingOf).sort(), 'the container declares http, internode and resp');
    for (const [name, port] of containerPorts) assert.equal(port, settingOf[name], `containerPort ${name}`);
    for (const raw of arr(svcSpec.ports, 'Service ports')) {
      const p = obj(raw, 'Service port');
      const name = str(p.name, 'Service port name');
      assert.equal(Number(p.port), settingOf[name], `Service port ${name} (a headless Service does not remap ports)`);
      assert.ok(p.targetPort === name || Number(p.targetPort) === settingOf[name], `Service port ${name} targets the container's`);
    }

    // Seeds are the pods' client ports, by their stable names.
    const seeds = s.seeds as string[];
    assert.equal(seeds.length, replicas, 'a seed per pod');
    seeds.forEach((seed, i) => assert.equal(seed, `${stsName}-${i}.${serviceName}.${pod.namespace}.svc:${String(s.port)}`));

    // The data folder ($GYRE_DIR/<id>, --dir having no variable) is on the pod's volume; the token file on a mounted one.
    const mounts = arr(container.volumeMounts, 'volumeMounts').map((m) => obj(m, 'volumeMount'));
    const claim = str(obj(obj(arr(spec.volumeClaimTemplates, 'volumeClaimTemplates')[0], 'claim').metadata, 'claim metadata').name, 'claim name');
    const dataMount = mounts.find((m) => m.name === claim);
    assert.ok(dataMount, `the container mounts the claim ${claim}`);
    const dir = s.dir === undefined ? posix.join(str(vars.get('GYRE_DIR'), 'GYRE_DIR'), pod.name) : String(s.dir);
    assert.ok(under(dir, str(dataMount.mountPath, 'mountPath')), `data folder ${dir} is on the volume`);
    assert.ok(mounts.some((m) => under(tokenFile, str(m.mountPath, 'mountPath'))), `${tokenFile} is on a mounted volume`);

    // The readiness probe asks this node's /status with the same token file.
    const probe = arr(obj(obj(container.readinessProbe, 'readinessProbe').exec, 'readinessProbe.exec').command, 'probe command').map((w) => str(w, 'probe word'));
    assert.deepEqual(probe.slice(0, 2), ['gyre', 'status']);
    assert.equal(new URL(str(flagValue(probe, '--url'), 'probe --url')).port, String(s.port), 'the probe asks the client port');
    assert.equal(flagValue(probe, '--token-file'), tokenFile);
  });

  test('deploy/systemd/gyre@.service: ExecStart on a copy of the example config is a valid node, writing only where ProtectSystem=strict allows', (t) => {
    const unit = parseUnit(readFileSync(systemdUnit, 'utf8'));
    const service = unit.get('Service');
    assert.ok(service, 'a [Service] section');
    const one = (key: string): string => {
      const v = service.get(key);
      assert.ok(v && v.length === 1, `${key}= is set once`);
      return v[0]!;
    };
    const execStart = one('ExecStart');
    assert.ok(!/["'$]/.test(execStart), 'ExecStart needs no quoting or variables');
    const [binary, ...rest] = execStart.split(/\s+/);
    assert.match(binary!, /^\/.*\/gyre$/, 'an absolute path to gyre');
    const configArg = flagValue(rest, '--config') ?? '';
    assert.ok(configArg.includes('%i'), 'the config file is named by the instance (%i)');

    const etc = mkdtempSync(join(tmpdir(), 'gyre-systemd-'));
    t.after(() => rmSync(etc, { recursive: true, force: true }));
    const instance = 'n1';
    const copy = join(etc, basename(configArg.replace('%i', instance)));
    mkdirSync(dirname(copy), { recursive: true });
    copyFileSync(exampleConfig, copy);
    const argv = rest.map((w) => (w === configArg ? copy : w.replace(/%i/g, instance)));
    assert.ok(!argv.some((w) => /%[a-zA-Z]/.test(w)), `every specifier substituted: ${argv.join(' ')}`);
    const r = printConfig(argv);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.settings.id, instance, 'instance name = node id');

    assert.equal(one('ProtectSystem'), 'strict');
    const state = `/var/lib/${one('StateDirectory')}`;
    const logs = `/var/log/${one('LogsDirectory')}`;
    assert.ok(under(String(r.settings.dir), state), `dir ${String(r.settings.dir)} under StateDirectory ${state}`);
    assert.ok(under(String(r.settings.logFile), logs), `logFile ${String(r.settings.logFile)} under LogsDirectory ${logs}`);
    assert.equal(one('Restart'), 'on-failure');
    assert.equal(one('KillSignal'), 'SIGTERM', 'SIGTERM is the clean shutdown');
    assert.match(one('TimeoutStopSec'), /^\d+$/);
    assert.ok(Number(one('LimitNOFILE')) >= 65536, 'LimitNOFILE');
    assert.equal(one('NoNewPrivileges'), 'yes');
    assert.ok(service.has('User') || one('DynamicUser') === 'yes', 'not root');
  });

  test('docs/deploy.md names only flags, GYRE_* variables, config keys, endpoints and metrics that exist', () => {
    const text = readFileSync(deployDoc, 'utf8');
    const { prose, blocks } = splitMarkdown(text);
    const tableFlags = new Set(nodeSettingTable.flatMap((s) => (s.key === 'control' ? ['--no-control'] : [s.flag])));
    const tableEnv = new Set(nodeSettingTable.flatMap((s) => (s.env ? [s.env] : [])));
    // Real flags outside the settings table, each checked against the --help of the command named.
    const otherFlags: Record<string, readonly string[]> = {
      '--config': ['node'],
      '--print-config': ['node'],
      '--token': ['node'],
      '--url': ['status'],
      '--ca': ['status'],
      '--json': ['status'],
      '--max-age-ms': ['restore'],
      '--check': ['restore'],
      '--out': ['backup'],
      '--from': ['restore'],
    };
    for (const [flag, command] of Object.entries(otherFlags)) assert.ok(helpHas(helpOf(command), flag), `gyre ${command.join(' ')} --help lists ${flag}`);
    // The rule the guide states: a setting's variable is GYRE_ and its flag in capitals; --dir has none.
    for (const s of nodeSettingTable) {
      const rule = `GYRE_${s.flag.slice(2).toUpperCase().replace(/-/g, '_')}`;
      assert.equal(s.env, s.key === 'dir' ? undefined : rule, `${s.flag}'s variable`);
    }
    // Variables read outside the table (CONTRACT.md), each named in gyre node --help.
    const otherEnv = ['GYRE_TOKEN', 'GYRE_ADMIN_TOKEN', 'GYRE_DIR'];
    for (const v of otherEnv) assert.ok(helpOf(['node']).includes(`$${v}`), `gyre node --help names $${v}`);

    const problems: string[] = [];
    const subcommands = new Set([...helpOf([]).matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]!));
    assert.ok(subcommands.has('node') && subcommands.has('status'), 'gyre --help lists its commands');
    // Each gyre command of the shell blocks and of the prose's inline code: its flags against that command's --help.
    const checkInvocations = (shell: string): number => {
      const found = gyreInvocations(shell, subcommands);
      for (const inv of found) {
        const help = helpOf(inv.command);
        for (const flag of inv.flags) if (!helpHas(help, flag)) problems.push(`${flag} is not an option of gyre ${inv.command.join(' ')} (${inv.line})`);
      }
      return found.length;
    };
    let invocations = 0;
    for (const b of blocks.filter((b) => ['sh', 'bash', 'shell', 'console', ''].includes(b.lang))) invocations += checkInvocations(b.body);
    assert.ok(invocations > 5, `the guide's shell blocks run gyre (${invocations} found)`);
    // Inline code: a gyre command as above; a bare flag (`--flag VALUE`) must be a node setting's or a listed one.
    // Another program's command line (`kubectl ...`) is that program's business.
    for (const span of prose.match(/`[^`\n]+`/g) ?? []) {
      const code = span.slice(1, -1);
      if (checkInvocations(code) > 0 || !code.startsWith('--')) continue;
      for (const flag of code.match(/(?<![\w-])--[a-z][a-z0-9-]*/g) ?? []) if (!tableFlags.has(flag) && !(flag in otherFlags)) problems.push(`${flag} (in ${span}) is neither a node setting's flag nor listed`);
    }
    // Variables anywhere.
    for (const v of new Set(text.match(/\bGYRE_[A-Z0-9_]+\b/g) ?? [])) if (!tableEnv.has(v) && !otherEnv.includes(v)) problems.push(`${v} is not a variable gyre reads`);
    // Config keys of the JSON blocks: a partial config may lack id or port, but no key may be unknown or a token.
    for (const b of blocks.filter((b) => b.lang === 'json')) {
      const r = resolveNodeSettings({ flags: {}, env: {}, file: { name: 'a JSON block', folder: '/etc/gyre', json: JSON.parse(b.body) as unknown }, resolvePath: resolve });
      if (!r.ok) problems.push(...r.errors.filter((e) => /unknown setting|does not belong|must be/.test(e)));
    }
    // Endpoints: `METHOD /path` and `/admin/...` in the prose.
    for (const m of prose.matchAll(/`(GET|PUT|POST|DELETE|HEAD) (\/[^\s`?]*)/g)) if (matchRoute(m[1], m[2]!).kind !== 'route') problems.push(`${m[1]} ${m[2]} is not a route`);
    for (const m of text.matchAll(/\/admin\/[a-z]+/g)) if (matchRoute('POST', m[0]).kind === 'no_route' && matchRoute('GET', m[0]).kind === 'no_route') problems.push(`${m[0]} is not a route`);
    // Metrics: defined in node/metrics.ts (gyre_process_* are prom-client's defaults, not named there).
    const metrics = readFileSync(metricsSource, 'utf8');
    for (const m of new Set(text.match(/\bgyre_[a-z_]+\b/g) ?? [])) if (!m.startsWith('gyre_process_') && !metrics.includes(`'${m}'`)) problems.push(`metric ${m} is not exported`);
    // Links to sections, here and in the other docs: GitHub's anchors of their headings.
    const anchors = (markdown: string) => new Set([...splitMarkdown(markdown).prose.matchAll(/^#+ (.+)$/gm)].map((m) => m[1]!.trim().toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-')));
    for (const m of prose.matchAll(/\]\(([a-z./-]*\.md)?#([a-z0-9_-]+)\)/g)) {
      const target = m[1] === undefined ? text : readFileSync(join(dirname(deployDoc), m[1]), 'utf8');
      if (!anchors(target).has(m[2]!)) problems.push(`link ${m[0]} has no such section`);
    }
    // The Backup section names the commands that exist, and the rule a file copy breaks.
    assert.match(text, /^## Backup and restore\n[\s\S]*gyre backup --dir [\s\S]*gyre restore --from [\s\S]*retires the node's vector-clock actors/m, 'the Backup section');
    assert.deepEqual(problems, []);
  });
});
