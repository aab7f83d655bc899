// The operations assets of docs/operations.md against a real 3-node cluster: every metric the
// Prometheus alert rules (deploy/prometheus/gyre-alerts.yml) and the Grafana dashboard
// (deploy/grafana/gyre-dashboard.json) name must be a metric family a Gyre node exposes on
// GET /metrics, queried the way its type allows (a histogram through _bucket/_sum/_count,
// rate/increase over counters, delta/deriv over gauges), and every label they select or group
// on must be one its series carry (or `instance`/`job`, which Prometheus adds).
//
// Labelled series exist only once something happened, so before scraping the test makes it
// happen: gets, puts, deletes, a conflict, RESP commands, and a partition that cuts n3 off
// long enough for n1 to keep hints for it, which handoff delivers once the partition heals.
//
// The rules file is read with the `yaml` package, as Prometheus would read it.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestCluster, header, sleep, uniqueKey } from '../helpers/cluster.js';
import { RespClient } from '../helpers/resp-client.js';
import { parse as parseYaml } from 'yaml';

// --- the repository's files -------------------------------------------------------------

const rulesFile = join('deploy', 'prometheus', 'gyre-alerts.yml');
const dashboardFile = join('deploy', 'grafana', 'gyre-dashboard.json');

/** The repository root: the first folder above this (compiled) file that holds the rules file. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, rulesFile)) && existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error(`${rulesFile} not found above ${fileURLToPath(import.meta.url)}`);
}

// --- YAML ------------------------------------------------------------------------------

type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml };

/** The rules file as Prometheus reads it (YAML 1.2 core schema); duplicate keys and anchors refused. */
function parseRulesYaml(text: string): Yaml {
  return parseYaml(text, { uniqueKeys: true, strict: true, prettyErrors: true, maxAliasCount: 0 }) as Yaml;
}

// --- the Prometheus text format ---------------------------------------------------------

interface Exposed {
  /** Family name -> its # TYPE. */
  readonly types: Map<string, string>;
  /** Sample name (a family, or a histogram's _bucket/_sum/_count) -> the label names its samples carry. */
  readonly labels: Map<string, Set<string>>;
}

function emptyExposed(): Exposed {
  return { types: new Map(), labels: new Map() };
}

const histogramParts = ['_bucket', '_sum', '_count'] as const;

/** The family a sample name belongs to, or undefined. */
function familyOf(e: Exposed, sample: string): string | undefined {
  if (e.types.has(sample)) return sample;
  for (const part of histogramParts) {
    if (!sample.endsWith(part)) continue;
    const base = sample.slice(0, -part.length);
    const t = e.types.get(base);
    if (t === 'histogram' || (t === 'summary' && part !== '_bucket')) return base;
  }
  return undefined;
}

/** The label names of one sample line's `{...}`, read character by character (values may hold escaped quotes). */
function sampleLabels(body: string, line: string): string[] {
  const names: string[] = [];
  let i = 0;
  while (i < body.length) {
    const m = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(body.slice(i));
    if (!m) throw new Error(`unreadable labels in ${JSON.stringify(line)}`);
    names.push(m[1]!);
    i += m[0].length;
    while (i < body.length && body[i] !== '"') i += body[i] === '\\' ? 2 : 1;
    if (body[i] !== '"') throw new Error(`unterminated label value in ${JSON.stringify(line)}`);
    i++;
    const sep = /^\s*,?/.exec(body.slice(i))!;
    i += sep[0].length;
  }
  return names;
}

/** Adds one scrape (Prometheus text exposition format 0.0.4) to `into`. */
function addScrape(into: Exposed, text: string): void {
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      const known = into.types.get(type[1]!);
      assert.ok(known === undefined || known === type[2], `${type[1]} is a ${known} on one node and a ${type[2]} on another`);
      into.types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line);
    assert.ok(m, `unreadable sample line ${JSON.stringify(line)}`);
    assert.ok(!Number.isNaN(Number(m[3])) || /^(NaN|[+-]Inf)$/.test(m[3]!), `unreadable sample value in ${JSON.stringify(line)}`);
    assert.ok(familyOf(into, m[1]!) !== undefined, `the sample ${m[1]} has no # TYPE line before it`);
    const set = into.labels.get(m[1]!) ?? new Set<string>();
    for (const l of m[2] === undefined ? [] : sampleLabels(m[2], line)) set.add(l);
    into.labels.set(m[1]!, set);
  }
}

// --- PromQL: which metrics and labels an expression names -------------------------------

interface Selector {
  readonly name: string;
  readonly labels: readonly string[];
  /** The innermost function or aggregation the selector sits in. */
  readonly fn: string | undefined;
}

interface References {
  readonly selectors: Selector[];
  /** Labels named by by/without/on/ignoring/group_left/group_right. */
  readonly grouping: string[];
  readonly syntax: string[];
}

const aggregations = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio']);
const groupingWords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan', 'start', 'end']);
/** Functions whose argument must be a counter (or a histogram's _bucket/_sum/_count), and those that need a gauge. */
const counterFunctions = new Set(['rate', 'irate', 'increase', 'resets']);
const gaugeFunctions = new Set(['delta', 'idelta', 'deriv', 'predict_linear', 'holt_winters', 'double_exponential_smoothing']);
/** Labels Prometheus attaches to every scraped series; a node's own output never has them. */
const targetLabels = new Set(['instance', 'job']);

/** Reads an expression token by token: metric selectors with their matchers, grouping labels, and bracket balance. */
function promqlReferences(expr: string): References {
  const selectors: Selector[] = [];
  const grouping: string[] = [];
  const syntax: string[] = [];
  const stack: string[] = [];
  let pendingFn: string | undefined;
  let i = 0;
  const rest = () => expr.slice(i);
  const skipSpace = () => {
    while (i < expr.length && /\s/.test(expr[i]!)) i++;
  };
  /** A `( label, ... )` list after a grouping word. */
  const labelList = (): string[] => {
    const m = /^\(\s*((?:[a-zA-Z_][a-zA-Z0-9_]*\s*,?\s*)*)\)/.exec(rest());
    if (!m) {
      syntax.push(`unreadable label list at ${JSON.stringify(rest().slice(0, 30))}`);
      i = expr.length;
      return [];
    }
    i += m[0].length;
    return m[1]!.split(',').map((s) => s.trim()).filter(Boolean);
  };
  /** `{ label op "value", ... }` after a metric name. */
  const matchers = (): string[] => {
    const names: string[] = [];
    i++; // {
    for (;;) {
      skipSpace();
      if (expr[i] === '}') {
        i++;
        return names;
      }
      const m = /^([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)\s*,?/.exec(rest());
      if (!m) {
        syntax.push(`unreadable label matcher at ${JSON.stringify(rest().slice(0, 30))}`);
        i = expr.length;
        return names;
      }
      names.push(m[1]!);
      i += m[0].length;
    }
  };
  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      const m = /^("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)/.exec(rest());
      if (!m) {
        syntax.push('an unterminated string');
        break;
      }
      i += m[0].length;
      continue;
    }
    if (c === '[') {
      // A range or subquery: durations or Grafana's $__rate_interval, no metric names.
      const end = expr.indexOf(']', i);
      if (end < 0) {
        syntax.push('an unclosed [');
        break;
      }
      i = end + 1;
      continue;
    }
    if (c === '{') {
      syntax.push(`a selector without a metric name at ${JSON.stringify(rest().slice(0, 30))}`);
      matchers();
      continue;
    }
    if (c === '(') {
      stack.push(pendingFn ?? '(');
      pendingFn = undefined;
      i++;
      continue;
    }
    if (c === ')') {
      if (stack.pop() === undefined) syntax.push('an unmatched )');
      i++;
      continue;
    }
    if (c === '$') {
      // A Grafana variable ($instance, ${DS_PROMETHEUS}, $__rate_interval).
      const m = /^\$(\{[^}]*\}|[a-zA-Z0-9_]+)/.exec(rest());
      i += m ? m[0].length : 1;
      continue;
    }
    const num = /^(0x[0-9a-fA-F]+|(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?((ms|[smhdwy])\d*)*)/.exec(rest());
    if (num && /[\d.]/.test(c)) {
      i += num[0].length;
      continue;
    }
    const id = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(rest());
    if (!id) {
      i++; // an operator or a comma
      continue;
    }
    const word = id[0];
    i += word.length;
    skipSpace();
    if (groupingWords.has(word)) {
      if (expr[i] === '(') grouping.push(...labelList());
      continue;
    }
    if (aggregations.has(word) || expr[i] === '(') {
      pendingFn = word;
      continue;
    }
    if (keywords.has(word.toLowerCase())) continue;
    const labels = expr[i] === '{' ? matchers() : [];
    selectors.push({ name: word, labels, fn: stack[stack.length - 1] });
  }
  if (stack.length > 0) syntax.push(`${stack.length} unclosed (`);
  return { selectors, grouping, syntax };
}

/** What is wrong with `expr` against what the nodes exposed; `unchecked` collects labels no sample could confirm. */
function checkExpr(expr: string, exposed: Exposed, unchecked: Set<string> = new Set()): string[] {
  const problems: string[] = [];
  const refs = promqlReferences(expr);
  problems.push(...refs.syntax);
  if (refs.selectors.length === 0) problems.push('names no metric');
  const seen = new Set<string>();
  let allSampled = true;
  for (const s of refs.selectors) {
    const family = familyOf(exposed, s.name);
    const type = family === undefined ? undefined : exposed.types.get(family);
    if (family === undefined || type === undefined) {
      const hint = exposed.types.get(s.name) === 'histogram' ? ' (a histogram is queried through _bucket, _sum or _count)' : '';
      problems.push(`${s.name}: not a metric a Gyre node exposes${hint}`);
      continue;
    }
    if (type === 'histogram' && family === s.name) problems.push(`${s.name}: a histogram is queried through _bucket, _sum or _count`);
    const counterLike = type === 'counter' || family !== s.name;
    if (s.fn !== undefined && counterFunctions.has(s.fn) && !counterLike) problems.push(`${s.fn}(${s.name}): ${s.name} is a ${type}, ${s.fn} takes a counter`);
    if (s.fn !== undefined && gaugeFunctions.has(s.fn) && type !== 'gauge') problems.push(`${s.fn}(${s.name}): ${s.name} is a ${type}, ${s.fn} takes a gauge`);
    const has = exposed.labels.get(s.name);
    if (has === undefined) allSampled = false;
    for (const l of has ?? []) seen.add(l);
    for (const l of s.labels) {
      if (targetLabels.has(l)) continue;
      if (has === undefined) unchecked.add(`${s.name}{${l}}`);
      else if (!has.has(l)) problems.push(`${s.name}{${l}=...}: its series have no label ${l} (they have ${[...has].sort().join(', ') || 'none'})`);
    }
  }
  for (const l of refs.grouping) {
    if (targetLabels.has(l) || seen.has(l)) continue;
    if (allSampled) problems.push(`grouping by ${l}: no series in the expression has that label`);
    else unchecked.add(`grouping by ${l}`);
  }
  return problems;
}

// --- the two files ----------------------------------------------------------------------

interface Rule {
  readonly group: string;
  readonly alert: string;
  readonly expr: string;
}

function isMap(v: Yaml | undefined): v is { [key: string]: Yaml } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The alert rules, with their structure checked as Prometheus reads rule files. */
function readRules(text: string): Rule[] {
  const doc = parseRulesYaml(text);
  assert.ok(isMap(doc) && Object.keys(doc).join() === 'groups', 'the rules file is one mapping with the key groups');
  const groups = doc.groups;
  assert.ok(Array.isArray(groups) && groups.length > 0, 'groups is a non-empty list');
  const rules: Rule[] = [];
  const groupNames = new Set<string>();
  const alertNames = new Set<string>();
  for (const g of groups) {
    assert.ok(isMap(g) && typeof g.name === 'string' && g.name.length > 0, 'each group has a name');
    assert.ok(!groupNames.has(g.name), `group ${g.name} twice`);
    groupNames.add(g.name);
    assert.deepEqual(Object.keys(g).sort(), ['name', 'rules'], `group ${g.name}: only name and rules`);
    assert.ok(Array.isArray(g.rules) && g.rules.length > 0, `group ${g.name} has rules`);
    for (const r of g.rules) {
      assert.ok(isMap(r) && typeof r.alert === 'string', `group ${g.name}: every rule is an alert`);
      const where: string = `${g.name}/${r.alert}`;
      assert.match(r.alert, /^[A-Za-z_][A-Za-z0-9_]*$/, `${where}: alert name`);
      assert.ok(!alertNames.has(r.alert), `alert ${r.alert} twice`);
      alertNames.add(r.alert);
      assert.deepEqual(Object.keys(r).sort(), ['alert', 'annotations', 'expr', 'for', 'labels'], `${where}: keys`);
      assert.ok(typeof r.expr === 'string' && r.expr.trim().length > 0, `${where}: expr`);
      assert.ok(typeof r.for === 'string' && /^(\d+(ms|s|m|h|d|w|y))+$/.test(r.for), `${where}: for is a Prometheus duration, got ${JSON.stringify(r.for)}`);
      assert.ok(isMap(r.labels) && ['critical', 'warning', 'info'].includes(r.labels.severity as string), `${where}: labels.severity is critical, warning or info`);
      assert.ok(isMap(r.annotations), `${where}: annotations`);
      for (const a of ['summary', 'description']) {
        const v: Yaml | undefined = r.annotations[a];
        assert.ok(typeof v === 'string' && v.trim().length > 0, `${where}: annotations.${a}`);
        assert.equal((v.match(/\{\{/g) ?? []).length, (v.match(/\}\}/g) ?? []).length, `${where}: annotations.${a} has balanced {{ }}`);
      }
      rules.push({ group: g.name, alert: r.alert, expr: r.expr });
    }
  }
  return rules;
}

interface PanelQuery {
  readonly where: string;
  readonly expr: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObj(v: Json | undefined): v is { [key: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const datasourceRef = '${DS_PROMETHEUS}';

/** Every query of the dashboard (panel targets, nested rows included, and template variables), with its structure checked. */
function readDashboard(text: string): PanelQuery[] {
  const d = JSON.parse(text) as Json;
  assert.ok(isObj(d), 'the dashboard is a JSON object');
  assert.ok(typeof d.schemaVersion === 'number' && d.schemaVersion >= 36, `schemaVersion ${String(d.schemaVersion)}`);
  assert.ok(typeof d.title === 'string' && d.title.length > 0 && typeof d.uid === 'string' && d.uid.length > 0, 'title and uid');
  const inputs = Array.isArray(d.__inputs) ? d.__inputs : [];
  assert.ok(
    inputs.some((x) => isObj(x) && x.name === 'DS_PROMETHEUS' && x.type === 'datasource' && x.pluginId === 'prometheus'),
    'an __inputs entry DS_PROMETHEUS of type datasource, plugin prometheus',
  );
  const queries: PanelQuery[] = [];
  const ids = new Set<number>();
  const panels = (list: Json | undefined, path: string) => {
    assert.ok(Array.isArray(list), `${path}: panels is a list`);
    for (const p of list) {
      assert.ok(isObj(p) && typeof p.id === 'number' && typeof p.title === 'string' && p.title.length > 0, `${path}: each panel has an id and a title`);
      assert.ok(!ids.has(p.id), `panel id ${p.id} twice`);
      ids.add(p.id);
      const g = p.gridPos;
      assert.ok(isObj(g) && ['h', 'w', 'x', 'y'].every((k) => typeof g[k] === 'number'), `panel "${p.title}": gridPos`);
      if (p.type === 'row') {
        if (p.panels !== undefined) panels(p.panels, `row "${p.title}"`);
        continue;
      }
      assert.ok(isObj(p.datasource) && p.datasource.uid === datasourceRef, `panel "${p.title}": datasource uid ${datasourceRef}`);
      assert.ok(Array.isArray(p.targets) && p.targets.length > 0, `panel "${p.title}": targets`);
      for (const t of p.targets) {
        assert.ok(isObj(t) && typeof t.expr === 'string' && typeof t.refId === 'string', `panel "${p.title}": each target has expr and refId`);
        if (t.datasource !== undefined) assert.ok(isObj(t.datasource) && t.datasource.uid === datasourceRef, `panel "${p.title}": target datasource`);
        queries.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr });
      }
    }
  };
  panels(d.panels, 'dashboard');
  const templating = isObj(d.templating) && Array.isArray(d.templating.list) ? d.templating.list : [];
  for (const v of templating) {
    if (!isObj(v) || v.type !== 'query') continue;
    assert.ok(isObj(v.datasource) && v.datasource.uid === datasourceRef, `variable ${String(v.name)}: datasource`);
    const q = isObj(v.query) ? v.query.query : v.query;
    assert.ok(typeof q === 'string', `variable ${String(v.name)}: query`);
    // label_values(selector, label): the label is checked as a grouping label of the selector.
    const m = /^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(q.trim());
    assert.ok(m, `variable ${String(v.name)}: label_values(selector, label), got ${q}`);
    queries.push({ where: `variable ${String(v.name)}`, expr: `group by (${m[2]}) (${m[1]})` });
  }
  return queries;
}

// --- the cluster ------------------------------------------------------------------------

const ids = ['n1', 'n2', 'n3'] as const;
const cluster = new TestCluster({ nodes: 3 });
const exposed = emptyExposed();
const root = repoRoot();
/** A partition that outlives the test's own heal would leave the cluster split for the next file. */
const partitionMs = 30_000;
const hintWaitMs = 20_000;
const drainWaitMs = 30_000;
const pollMs = 200;

async function scrape(id: string): Promise<string> {
  const res = await cluster.request(id, 'GET', '/metrics');
  assert.equal(res.status, 200, `GET /metrics on ${id}: ${res.status}`);
  assert.match(header(res, 'content-type') ?? '', /^text\/plain/, `GET /metrics on ${id}: Content-Type`);
  return res.body.toString('utf8');
}

async function scrapeAll(): Promise<void> {
  for (const id of ids) addScrape(exposed, await scrape(id));
}

async function waitFor(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < Math.ceil(ms / pollMs) + 1; i++) {
    if (await ok()) return;
    if (Date.now() > deadline) break;
    await sleep(pollMs);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

/** Traffic that gives the labelled series samples: every op and status the rules select on. */
async function makeTraffic(): Promise<void> {
  for (let i = 0; i < 12; i++) {
    const key = uniqueKey(`ops-${i}`);
    const at = ids[i % ids.length]!;
    assert.equal((await cluster.put(at, key, `v${i}`)).status, 204);
    assert.equal((await cluster.get(ids[(i + 1) % ids.length]!, key)).status, 200);
  }
  assert.equal((await cluster.get('n1', uniqueKey('ops-absent'))).status, 404);
  // Two blind writes through different coordinators: siblings, then a delete of both.
  const conflict = uniqueKey('ops-conflict');
  assert.equal((await cluster.put('n1', conflict, 'a', { query: 'w=3' })).status, 204);
  assert.equal((await cluster.put('n2', conflict, 'b', { query: 'w=3' })).status, 204);
  const read = await cluster.get('n3', conflict, 'r=3', { accept: 'application/json' });
  assert.equal(read.status, 300, 'two blind writes leave siblings');
  assert.equal((await cluster.del('n3', conflict, { context: header(read, 'x-gyre-context') })).status, 204);
  const respAddress = (await cluster.status('n1')).listeners.resp;
  assert.ok(respAddress !== undefined, '/status names the RESP listener');
  const resp = await RespClient.connect(respAddress, { token: cluster.token });
  try {
    assert.equal(await resp.command('PING'), 'PONG');
    assert.equal(await resp.command('SET', uniqueKey('ops-resp'), 'x'), 'OK');
    assert.equal(await resp.command('GET', uniqueKey('ops-resp-absent')), null);
  } finally {
    resp.close();
  }
}

/** n3 cut off: n1 keeps hints for it (scraped while held), then the heal lets handoff deliver them. */
async function makeHints(): Promise<void> {
  const spec = JSON.stringify({ kind: 'partition', from: ['n3'], durationMs: partitionMs });
  const injected = await cluster.request('n1', 'POST', '/admin/faults', { headers: { 'content-type': 'application/json' }, body: spec });
  assert.equal(injected.status, 201, `inject: ${injected.body.toString('utf8')}`);
  try {
    // A short request timeout, so the write to n3 fails (and becomes a hint) soon after W=2 is reached.
    for (let i = 0; i < 5; i++) assert.equal((await cluster.put('n1', uniqueKey('ops-hint'), 'h', { query: 'timeout=1000' })).status, 204);
    await waitFor('n1 holds hints for n3', hintWaitMs, async () => (await cluster.status('n1')).hintsPending > 0);
    addScrape(exposed, await scrape('n1'));
    addScrape(exposed, await scrape('n3'));
  } finally {
    const healed = await cluster.request('n1', 'DELETE', '/admin/faults');
    assert.equal(healed.status, 200, `heal: ${healed.body.toString('utf8')}`);
  }
  await cluster.waitUntilUp();
  await waitFor('the hints are delivered', drainWaitMs, async () => (await Promise.all(ids.map((id) => cluster.status(id)))).every((s) => s.hintsPending === 0));
}

before(async () => {
  await cluster.start();
  await makeTraffic();
  await makeHints();
  await scrapeAll();
});
after(() => cluster.stop());

// --- the tests --------------------------------------------------------------------------

describe('deploy/: the alert rules and the dashboard name only what a Gyre node exports', () => {
  test('the scrape saw Gyre families with labelled samples (the checks below have something to check against)', () => {
    for (const f of ['gyre_requests_total', 'gyre_request_duration_seconds', 'gyre_members', 'gyre_internode_requests_total', 'gyre_process_process_cpu_seconds_total']) {
      assert.ok(exposed.types.has(f), `${f} is exposed`);
    }
    for (const [sample, label] of [
      ['gyre_requests_total', 'status'],
      ['gyre_request_duration_seconds_bucket', 'le'],
      ['gyre_hints_pending', 'target'],
      ['gyre_hints_delivered_total', 'target'],
      ['gyre_faults_active', 'kind'],
      ['gyre_resp_commands_total', 'outcome'],
    ] as const) {
      assert.ok(exposed.labels.get(sample)?.has(label), `${sample} has samples labelled ${label}`);
    }
  });

  test('every expr of the alert rules names exposed metrics, labels and types', (t) => {
    const rules = readRules(readFileSync(join(root, rulesFile), 'utf8'));
    const unchecked = new Set<string>();
    const problems = rules.flatMap((r) => checkExpr(r.expr, exposed, unchecked).map((p) => `${r.group}/${r.alert}: ${p}`));
    assert.deepEqual(problems, [], `${rulesFile}:\n${problems.join('\n')}`);
    t.diagnostic(`${rules.length} alerts checked; labels no sample could confirm: ${[...unchecked].join(', ') || 'none'}`);
  });

  test('every dashboard query names exposed metrics, labels and types, and the dashboard covers what docs/operations.md promises', (t) => {
    const queries = readDashboard(readFileSync(join(root, dashboardFile), 'utf8'));
    const unchecked = new Set<string>();
    const problems = queries.flatMap((q) => checkExpr(q.expr, exposed, unchecked).map((p) => `${q.where}: ${p}`));
    assert.deepEqual(problems, [], `${dashboardFile}:\n${problems.join('\n')}`);
    const named = new Set(queries.flatMap((q) => promqlReferences(q.expr).selectors.map((s) => familyOf(exposed, s.name) ?? s.name)));
    const promised = [
      'gyre_requests_total',
      'gyre_request_duration_seconds',
      'gyre_http_shed_total',
      'gyre_hints_pending',
      'gyre_hinted_writes_total',
      'gyre_hints_delivered_total',
      'gyre_keys_with_siblings',
      'gyre_sibling_writes_total',
      'gyre_internode_requests_total',
      'gyre_ae_exchanges_total',
      'gyre_ae_keys_repaired_total',
      'gyre_read_repairs_total',
      'gyre_handoff_keys_total',
      'gyre_members',
      'gyre_store_writable',
      'gyre_process_process_resident_memory_bytes',
      'gyre_process_process_cpu_seconds_total',
    ];
    assert.deepEqual(promised.filter((f) => !named.has(f)), [], 'families the dashboard must chart');
    const gyreOwn = [...exposed.types.keys()].filter((f) => f.startsWith('gyre_') && !f.startsWith('gyre_process_'));
    t.diagnostic(`${queries.length} queries checked; Gyre families not charted: ${gyreOwn.filter((f) => !named.has(f)).join(', ') || 'none'}; labels no sample could confirm: ${[...unchecked].join(', ') || 'none'}`);
  });

  test('the checker itself refuses what Gyre does not export (so the two tests above can fail)', () => {
    const cases: [string, RegExp][] = [
      ['rate(gyre_no_such_thing_total[5m]) > 0', /gyre_no_such_thing_total: not a metric/],
      ['sum(rate(gyre_hints_pending[5m]))', /rate\(gyre_hints_pending\): gyre_hints_pending is a gauge/],
      ['delta(gyre_requests_total[5m])', /takes a gauge/],
      ['gyre_request_duration_seconds > 1', /histogram is queried through _bucket/],
      ['sum by (opp) (rate(gyre_requests_total{op="get"}[5m]))', /grouping by opp/],
      ['gyre_requests_total{stauts="503"}', /no label stauts/],
      ['sum(rate(gyre_requests_total[5m])', /unclosed/],
      ['1 > 0', /names no metric/],
    ];
    for (const [expr, expected] of cases) {
      const problems = checkExpr(expr, exposed);
      assert.ok(problems.some((p) => expected.test(p)), `${expr}: expected a problem matching ${expected}, got ${JSON.stringify(problems)}`);
    }
    assert.deepEqual(checkExpr('histogram_quantile(0.99, sum by (le, op) (rate(gyre_request_duration_seconds_bucket{op=~"get|put"}[$__rate_interval])))', exposed), []);
  });
});
