// The consistency checker: judges a run's history and its final state (after the faults
// healed and the cluster settled) against what Gyre promises. Pure: the simulator, the chaos
// run over real processes and the console's experiments all hand it what they recorded.
//
// Causality is tracked from what clients actually saw, never from the system's clocks: a
// write's *basis* is the set of versions (by dot) its client had read, or the version its
// previous write of the key created; a version's *closure* is its write's basis, closed
// transitively. A write may supersede exactly the versions in its closure.
//
//   1. lost-write: every acknowledged write is in the final state, or in the closure of
//      something that is (or of a tombstone that was reaped). Also: no dot names two
//      different versions; every stored clock, read context and returned context covers
//      exactly the versions its closure says (skipped for keys with reaped tombstones,
//      whose clock later writes join in).
//   2. sibling-lost: a lost acknowledged write that was concurrent with a surviving one.
//   3. phantom / resurrected / superseded-read: every version seen was written (by a write
//      invoked before it was seen); nothing in the final state is in the closure of an
//      acknowledged write or of another final version (a deleted value does not come back);
//      no read returns a version together with one that supersedes it.
//   4. divergence: within a bound after the last fault, every node agrees on the ring, the
//      replicas of each key hold identical versions, no hints or stray copies remain, and
//      a read with r=N from every node returns exactly that.
//   5. unavailable: a write made while the network was calm (no cuts, no loss, no pauses)
//      for `stableMs` before and throughout, with at most N-W of its key's preference list
//      down and its coordinator up, is acknowledged.
// Plus crash: an exception escaping a timer or handler, an unhandled rejection, or a
// coordinator call that throws (a process crash, or a 500, in production).

import { readContextUnverified } from '../core/context.js';
import { covers, equalClocks, type VClock } from '../core/vclock.js';
import type { FaultLog } from './fault-log.js';
import { type History, type KnownVersion, type ReadOp, type VersionIndex, type VersionSeen, type WriteOp } from './history.js';

/** An exception that escaped a timer or handler (the simulator's scheduler reports them). */
export interface EventError {
  readonly at: number;
  readonly label: string;
  readonly owner: string;
  readonly error: string;
}

/** Keys the simulator's adversary writes; the checker leaves them out. */
export const adversaryKeyPrefix = 'adv-';

export type Rule = 'lost-write' | 'dot-reused' | 'clock' | 'sibling-lost' | 'phantom' | 'resurrected' | 'superseded-read' | 'divergence' | 'unavailable' | 'crash' | 'hostile';

export const ruleNumber: Record<Rule, string> = {
  'lost-write': '1',
  'dot-reused': '1',
  clock: '1',
  'sibling-lost': '2',
  phantom: '3',
  resurrected: '3',
  'superseded-read': '3',
  divergence: '4',
  unavailable: '5',
  crash: '-',
  hostile: 'H',
};

export interface Violation {
  readonly rule: Rule;
  readonly key: string | undefined;
  readonly message: string;
}

/** One node's holdings of one key at the end. */
export interface FinalReplica {
  readonly node: string;
  /** The node has left the cluster: its disk no longer counts. */
  readonly left: boolean;
  readonly data: readonly VersionSeen[];
  readonly hints: readonly { readonly target: string; readonly versions: readonly VersionSeen[] }[];
  readonly reaped: VClock | undefined;
}

export interface FinalKey {
  readonly key: string;
  /** The key's preference list under the settled ring. */
  readonly pref: readonly string[];
  readonly replicas: readonly FinalReplica[];
}

export interface CheckInput {
  readonly history: History;
  readonly oracle: VersionIndex;
  readonly faults: FaultLog;
  readonly final: readonly FinalKey[];
  /** The same, taken when the final reads (r=N from every node) had all answered. */
  readonly atFinalReads: readonly FinalKey[];
  readonly n: number;
  /** When every node first agreed on a settled ring; undefined if never. */
  readonly formedAt: number | undefined;
  readonly stableMs: number;
  readonly clientTimeoutMs: number;
  /** Why the cluster had not converged by the deadline; empty if it did. */
  readonly convergenceProblems: readonly string[];
  readonly errors: readonly EventError[];
  readonly unhandled: readonly string[];
  /**
   * Black-box runs only: keys where a client saw a tombstone whose delete it cannot name (the
   * delete's answer never came back, so its version id is unknown). Such a tombstone is not
   * reported as a phantom, and the key's clocks are not compared with what clients saw (its
   * writer's basis is unknown), as for reaped keys.
   */
  readonly unidentified?: ReadonlySet<string>;
}

const perKeyReportsMax = 3;

function setsEqual(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

const parsedDots = new Map<string, { actor: string; counter: number }>();
/** The parsed-dot cache is emptied when it grows past this many dots. */
const parsedDotsCachedMax = 100_000;

function parseDot(dot: string): { actor: string; counter: number } {
  let p = parsedDots.get(dot);
  if (!p) {
    const i = dot.lastIndexOf(':');
    p = { actor: dot.slice(0, i), counter: Number(dot.slice(i + 1)) };
    if (parsedDots.size > parsedDotsCachedMax) parsedDots.clear();
    parsedDots.set(dot, p);
  }
  return p;
}

function list(xs: Iterable<string>): string {
  const a = [...xs].sort();
  return a.length === 0 ? '(none)' : a.join(' ');
}

class Causality {
  private readonly writes = new Map<string, WriteOp>();
  private readonly writerByDot = new Map<string, string | undefined>();
  private readonly dotsByWriter = new Map<string, string[]>();
  readonly known: readonly KnownVersion[];
  private readonly closures = new Map<string, Set<string>>();
  private readonly bases = new Map<string, string[]>();
  readonly unresolved: { write: WriteOp; why: string }[] = [];

  constructor(
    readonly key: string,
    history: History,
    private readonly oracle: VersionIndex,
  ) {
    for (const w of history.writes()) if (w.key === key) this.writes.set(w.writeId, w);
    this.known = oracle.versionsOf(key);
    for (const v of this.known) {
      this.writerByDot.set(v.dot, v.writeId);
      if (v.writeId !== undefined) this.dotsByWriter.set(v.writeId, [...(this.dotsByWriter.get(v.writeId) ?? []), v.dot]);
    }
    for (const r of history.reads()) if (r.key === key) for (const v of r.versions ?? []) if (!this.writerByDot.has(v.dot)) this.writerByDot.set(v.dot, v.writeId);
  }

  write(id: string | undefined): WriteOp | undefined {
    return id === undefined ? undefined : this.writes.get(id);
  }

  allWrites(): WriteOp[] {
    return [...this.writes.values()];
  }

  writerOf(dot: string): string | undefined {
    return this.writerByDot.get(dot);
  }

  /** Dots the oracle saw committed for a write (more than one if it was applied twice). */
  dotsOf(writeId: string): readonly string[] {
    return this.dotsByWriter.get(writeId) ?? [];
  }

  /** The versions a write's client had seen when it wrote. */
  basis(w: WriteOp): string[] {
    const have = this.bases.get(w.writeId);
    if (have) return have;
    let out: string[] = [];
    if (w.basis.kind === 'read') out = [...w.basis.dots];
    else if (w.basis.kind === 'put') {
      const prev = this.writes.get(w.basis.writeId);
      out = prev ? this.createdBy(prev) : [];
    }
    this.bases.set(w.writeId, out);
    return out;
  }

  /**
   * The version an acknowledged write created: the committed version of that write whose
   * clock is the clock the write returned.
   */
  createdBy(w: WriteOp): string[] {
    const candidates = this.known.filter((v) => v.writeId === w.writeId);
    if (w.returned === undefined) return candidates.map((v) => v.dot);
    // The checker judges what the cluster answered; it holds no context key (nor needs one).
    const decoded = readContextUnverified(w.returned);
    if (!decoded) {
      this.unresolved.push({ write: w, why: 'its returned context does not decode' });
      return candidates.map((v) => v.dot);
    }
    const match = candidates.filter((v) => v.clock !== undefined && equalClocks(v.clock, decoded));
    if (match.length === 1) return [match[0]!.dot];
    this.unresolved.push({ write: w, why: match.length === 0 ? `the context it returned is the clock of none of its ${candidates.length} committed version(s)` : 'its returned context matches several versions' });
    return candidates.map((v) => v.dot);
  }

  /** Everything a version's writer had seen, transitively (excluding the version itself). */
  closure(dot: string): Set<string> {
    const have = this.closures.get(dot);
    if (have) return have;
    const out = new Set<string>();
    this.closures.set(dot, out); // guards against cycles (only a broken system makes them)
    const w = this.write(this.writerOf(dot));
    if (w) {
      for (const b of this.basis(w)) {
        out.add(b);
        for (const x of this.closure(b)) out.add(x);
      }
    }
    return out;
  }

  /** What a write's context covered: its basis, closed. */
  writeClosure(w: WriteOp): Set<string> {
    const out = new Set<string>();
    for (const b of this.basis(w)) {
      out.add(b);
      for (const x of this.closure(b)) out.add(x);
    }
    return out;
  }
}

export interface CheckStats {
  /** Writes rule 5 judged (made in calm weather with enough replicas up). */
  availabilityJudged: number;
  /** Acknowledged writes rule 1 followed to the final state. */
  ackedWrites: number;
  /** Of those, superseded by a write that saw them (rather than still present). */
  superseded: number;
}

type Report = (rule: Rule, key: string | undefined, message: string) => void;

/** Lines of a crash's stack shown in its report. */
const crashStackLinesMax = 3;
/** The HTTP status of a write refused for its size (413 Payload Too Large): refused on purpose, so not unavailable. */
const tooLargeStatus = 413;

/** What every rule checking one key works from. */
interface KeyCheck {
  readonly key: string;
  readonly input: CheckInput;
  readonly c: Causality;
  readonly writes: readonly WriteOp[];
  readonly reads: readonly ReadOp[];
  /** The key had tombstones reaped (or, black-box, a tombstone nobody can name). */
  readonly reaped: boolean;
  readonly report: Report;
  readonly stats: CheckStats | undefined;
}

/** The final state of one key as rules 1-4 read it. */
interface FinalView {
  readonly fin: FinalKey;
  /** The dots the key's replicas hold: what a read can reach. */
  readonly F: ReadonlySet<string>;
  /** Where an unreadable copy of a dot lingers, by dot. */
  readonly elsewhere: ReadonlyMap<string, string>;
}

export function check(input: CheckInput, stats?: CheckStats): Violation[] {
  const out: Violation[] = [];
  const perKey = new Map<string, number>();
  const report: Report = (rule, key, message) => {
    const k = `${rule}/${key ?? ''}`;
    const n = (perKey.get(k) ?? 0) + 1;
    perKey.set(k, n);
    if (n <= perKeyReportsMax) out.push({ rule, key, message });
  };

  checkCrashes(input, report);
  checkDotsReused(input, report);
  const finals = new Map(input.final.map((f) => [f.key, f]));
  const atReads = new Map(input.atFinalReads.map((f) => [f.key, f]));
  for (const key of [...checkedKeys(input)].sort()) checkKey(keyCheck(input, key, report, stats), finals.get(key), atReads.get(key));
  checkConvergedInTime(input, report);
  return out;
}

/** Crash: exceptions escaping a timer or handler, unhandled rejections, coordinator calls that threw. */
function checkCrashes(input: CheckInput, report: Report): void {
  for (const e of input.errors) report('crash', undefined, `exception in ${e.owner} at ${e.at} (${e.label}): ${e.error.split('\n').slice(0, crashStackLinesMax).join(' | ')}`);
  for (const u of input.unhandled) report('crash', undefined, `unhandled rejection: ${u}`);
  for (const op of input.history.ops) if (op.error?.startsWith('threw')) report('crash', op.key, `${op.kind} #${op.op} at ${op.node}: the coordinator threw: ${op.error}`);
}

/** Rule 1, dot-reused: no dot names two different versions. */
function checkDotsReused(input: CheckInput, report: Report): void {
  for (const c of input.oracle.conflicts) report('dot-reused', c.key, `dot ${c.dot} names both ${c.first} and ${c.second} (second seen at ${c.at} on ${c.node})`);
}

/** One key's writes, reads and causality, for the rules to share. */
function keyCheck(input: CheckInput, key: string, report: Report, stats: CheckStats | undefined): KeyCheck {
  const { history, oracle } = input;
  const c = new Causality(key, history, oracle);
  return {
    key,
    input,
    c,
    writes: c.allWrites(),
    reads: history.reads().filter((r) => r.key === key),
    reaped: oracle.reapedKeys.has(key) || input.unidentified?.has(key) === true,
    report,
    stats,
  };
}

/** Rule 4, divergence: the cluster converged within the bound after the last fault (run.ts says what it did not agree on). */
function checkConvergedInTime(input: CheckInput, report: Report): void {
  for (const p of input.convergenceProblems) report('divergence', undefined, `not converged within the bound: ${p}`);
}

/** Every key the run touched, but the adversary's: its own keys are its to judge (sim/adversary.ts), nobody promised them anything. */
function checkedKeys(input: CheckInput): Set<string> {
  const { history, oracle } = input;
  return new Set<string>([...history.ops.map((o) => o.key), ...oracle.keys(), ...input.final.map((f) => f.key)].filter((k) => !k.startsWith(adversaryKeyPrefix)));
}

/**
 * Rules 1-5 on one key. The order of the rules is the order of the reports (and of the
 * Causality caches they fill), so it is part of a run's output: keep it.
 */
function checkKey(k: KeyCheck, fin: FinalKey | undefined, atRead: FinalKey | undefined): void {
  checkPhantoms(k);
  checkSupersededReads(k);
  checkClocks(k);
  if (!fin) return;
  const view = finalView(fin);
  checkFinalPhantoms(k, fin);
  checkResurrected(k, view);
  checkLostWrites(k, view);
  checkReplicasConverged(k, fin);
  checkFinalReads(k, atRead);
  checkUnavailable(k, fin);
}

/** Rule 3, phantom: a version seen (by `where`, at `by`) was written, as what it is, by a write invoked before. */
function checkSeen(k: KeyCheck, v: VersionSeen, where: string, by: number | undefined): void {
  const { key, c, report } = k;
  if (v.writeId === undefined && v.deleted && k.input.unidentified?.has(key)) return;
  const w = c.write(v.writeId);
  if (!w) return report('phantom', key, `${where} holds ${v.deleted ? 'a tombstone' : 'a value'} (dot ${v.dot}, writer ${v.writeId ?? 'unrecognisable'}) that no client wrote`);
  if ((w.kind === 'delete') !== v.deleted) return report('phantom', key, `${where} holds ${v.writeId} as ${v.deleted ? 'a tombstone' : 'a value'}, but it was a ${w.kind}`);
  if (by !== undefined && w.invokedAt > by) report('phantom', key, `${where} saw ${v.writeId} at ${by}, before it was written (${w.invokedAt})`);
}

/** Rule 3, phantom: in what reads returned and in what the nodes committed. */
function checkPhantoms(k: KeyCheck): void {
  for (const r of k.reads) for (const v of r.versions ?? []) checkSeen(k, v, `read #${r.op} at ${r.node}`, r.completedAt);
  for (const v of k.input.oracle.versionsOf(k.key)) checkSeen(k, { dot: v.dot, writeId: v.writeId, deleted: v.deleted }, `a commit on ${v.firstNode}`, v.firstAt);
}

/** Rule 3, phantom: in every copy the nodes hold at the end, readable or not. */
function checkFinalPhantoms(k: KeyCheck, fin: FinalKey): void {
  for (const rep of fin.replicas) for (const v of rep.data) checkSeen(k, v, `the final copy on ${rep.node}`, undefined);
}

/** Rule 3, superseded-read: a read never returns a version with one that supersedes it. */
function checkSupersededReads(k: KeyCheck): void {
  const { key, c, report } = k;
  for (const r of k.reads) {
    const dots = new Set((r.versions ?? []).map((v) => v.dot));
    for (const v of dots) {
      for (const u of c.closure(v)) {
        if (dots.has(u)) report('superseded-read', key, `read #${r.op} at ${r.node} returned ${c.writerOf(u)}@${u} together with ${c.writerOf(v)}@${v}, whose writer had seen it`);
      }
    }
  }
}

/** Rule 1, clock: a stored clock or a context (`what`) covers exactly the versions `expected` names. */
function compareCoverage(k: KeyCheck, clock: VClock, expected: ReadonlySet<string>, what: string): void {
  const extra: string[] = [];
  const missing: string[] = [];
  for (const v of k.c.known) {
    const has = covers(clock, v.event);
    if (has && !expected.has(v.dot)) extra.push(`${v.writeId ?? '?'}@${v.dot}`);
    if (!has && expected.has(v.dot)) missing.push(`${v.writeId ?? '?'}@${v.dot}`);
  }
  if (extra.length > 0) k.report('clock', k.key, `${what} covers ${list(extra)}, which its client never saw (a later write would silently drop it)`);
  if (missing.length > 0) k.report('clock', k.key, `${what} does not cover ${list(missing)}, which its client saw`);
}

/**
 * Rule 1, clock: clocks say exactly what clients saw (not for reaped keys: later writes join the
 * reaped clock); and no write's context was refused.
 */
function checkClocks(k: KeyCheck): void {
  const { key, c, writes, report } = k;
  if (!k.reaped) {
    for (const v of c.known) {
      if (!v.clock) continue;
      const expected = new Set([v.dot, ...c.closure(v.dot)]);
      compareCoverage(k, v.clock, expected, `the clock of ${v.writeId ?? '?'}@${v.dot}`);
    }
    for (const r of k.reads) {
      if (r.outcome !== 'ok' || r.context === undefined) continue;
      const decoded = readContextUnverified(r.context);
      if (!decoded) {
        report('clock', key, `the context of read #${r.op} does not decode`);
        continue;
      }
      const expected = new Set<string>();
      for (const v of r.versions ?? []) {
        expected.add(v.dot);
        for (const x of c.closure(v.dot)) expected.add(x);
      }
      compareCoverage(k, decoded, expected, `the context of read #${r.op} at ${r.node}`);
    }
    for (const w of writes) if (w.outcome === 'ok') c.basis(w);
    for (const w of writes) if (w.outcome === 'ok') c.createdBy(w);
    for (const u of c.unresolved) if (u.write.outcome === 'ok') report('clock', key, `acknowledged ${u.write.writeId}: ${u.why}`);
  }
  for (const w of writes) if (w.error?.startsWith('context refused')) report('clock', key, `${w.writeId}: ${w.error}`);
}

/**
 * The final state is what the key's replicas hold: what a read can reach. Copies anywhere else
 * (an undelivered hint, a stray copy on a non-replica, a node that left) are not readable; rule
 * 4 reports them, and rule 1 says where a lost write still lingers.
 */
function finalView(fin: FinalKey): FinalView {
  const F = new Set<string>();
  const elsewhere = new Map<string, string>();
  for (const rep of fin.replicas) {
    for (const h of rep.hints) for (const v of h.versions) elsewhere.set(v.dot, `an undelivered hint on ${rep.node} for ${h.target}`);
    const readable = !rep.left && fin.pref.includes(rep.node);
    for (const v of rep.data) {
      if (readable) F.add(v.dot);
      else elsewhere.set(v.dot, rep.left ? `${rep.node}, which left the cluster` : `a stray copy on ${rep.node}, not a replica`);
    }
  }
  return { fin, F, elsewhere };
}

/** Rule 3, resurrected: nothing final is superseded by something final or by an acknowledged write. */
function checkResurrected(k: KeyCheck, { F }: FinalView): void {
  const { key, c, report } = k;
  for (const v of F) {
    for (const u of c.closure(v)) if (F.has(u)) report('resurrected', key, `${c.writerOf(u)}@${u} is still stored, though ${c.writerOf(v)}@${v} (also stored) superseded it`);
  }
  for (const w of k.writes) {
    if (w.outcome !== 'ok') continue;
    for (const u of c.writeClosure(w)) {
      if (F.has(u)) {
        const what = w.kind === 'delete' ? 'deleted' : 'overwritten';
        report('resurrected', key, `${c.writerOf(u)}@${u} is back in the final state, though acknowledged ${w.kind} ${w.writeId} (${w.invokedAt}..${w.completedAt}) ${what} it`);
      }
    }
  }
}

/** Rules 1 (lost-write) and 2 (sibling-lost): every acknowledged write survived, or was superseded by something that did. */
function checkLostWrites(k: KeyCheck, { fin, F, elsewhere }: FinalView): void {
  const { key, c, report, stats } = k;
  const roots = new Set(F);
  for (const v of c.known) {
    if (!v.deleted) continue;
    const d = parseDot(v.dot);
    if (fin.replicas.some((r) => r.reaped !== undefined && covers(r.reaped, d))) roots.add(v.dot);
  }
  const accounted = new Set<string>(roots);
  for (const r of roots) for (const x of c.closure(r)) accounted.add(x);
  const acked = k.writes.filter((w) => w.outcome === 'ok');
  const survivors = acked.filter((w) => c.dotsOf(w.writeId).some((d) => F.has(d)));
  for (const w of acked) {
    const dots = c.dotsOf(w.writeId);
    if (stats) {
      stats.ackedWrites++;
      if (!dots.some((d) => F.has(d)) && dots.some((d) => accounted.has(d))) stats.superseded++;
    }
    if (dots.some((d) => accounted.has(d))) continue;
    const mine = c.writeClosure(w);
    const concurrent = survivors.find((s) => {
      const sd = c.dotsOf(s.writeId);
      const theirs = c.writeClosure(s);
      return s !== w && !sd.some((d) => mine.has(d)) && !dots.some((d) => theirs.has(d));
    });
    const lingers = dots.map((d) => elsewhere.get(d)).find((h) => h !== undefined);
    const where = dots.length === 0 ? 'was never committed anywhere' : `(${dots.join(', ')}) is gone from its replicas${lingers ? ` (it survives only in ${lingers})` : ''}`;
    const final = `final state: ${list([...F].map((d) => `${c.writerOf(d) ?? '?'}@${d}`))}`;
    if (concurrent) report('sibling-lost', key, `acknowledged ${w.kind} ${w.writeId} (${w.invokedAt}..${w.completedAt} at ${w.node}) ${where} while its concurrent sibling ${concurrent.writeId} survived; ${final}`);
    else report('lost-write', key, `acknowledged ${w.kind} ${w.writeId} (${w.invokedAt}..${w.completedAt} at ${w.node}) ${where} and nothing that saw it survived; ${final}`);
  }
}

/** Rule 4, divergence: the replicas hold identical versions, and no hints or stray copies remain. */
function checkReplicasConverged(k: KeyCheck, fin: FinalKey): void {
  const { key, report } = k;
  const prefSets = fin.pref.map((node) => {
    const rep = fin.replicas.find((r) => r.node === node);
    return { node, dots: new Set((rep?.data ?? []).map((v) => v.dot)) };
  });
  const first = prefSets[0];
  for (const p of prefSets.slice(1)) {
    if (first && !setsEqual(first.dots, p.dots)) report('divergence', key, `replicas differ after settling: ${first.node} holds ${list(first.dots)}, ${p.node} holds ${list(p.dots)}`);
  }
  for (const rep of fin.replicas) {
    if (rep.left) {
      if (rep.data.length > 0 || rep.hints.length > 0) report('divergence', key, `${rep.node} left the cluster still holding ${list([...rep.data, ...rep.hints.flatMap((h) => h.versions)].map((v) => v.dot))}`);
      continue;
    }
    if (!fin.pref.includes(rep.node) && rep.data.length > 0) report('divergence', key, `${rep.node} is not a replica (preference list ${fin.pref.join(',')}) but still holds ${list(rep.data.map((v) => v.dot))}`);
    for (const h of rep.hints) if (h.versions.length > 0) report('divergence', key, `${rep.node} still holds a hint for ${h.target}: ${list(h.versions.map((v) => v.dot))}`);
  }
}

/** Rule 4, divergence: a read with r=N from every node returns what the replicas held when the reads ended (`whenRead`). */
function checkFinalReads(k: KeyCheck, whenRead: FinalKey | undefined): void {
  const { key, report } = k;
  const readRef = whenRead ? new Set((whenRead.replicas.find((r) => r.node === whenRead.pref[0])?.data ?? []).map((v) => v.dot)) : undefined;
  for (const r of k.reads.filter((x) => x.final)) {
    if (r.outcome !== 'ok') {
      report('divergence', key, `the final read with r=${r.r} at ${r.node} failed: ${r.error ?? r.status}`);
      continue;
    }
    const got = new Set((r.versions ?? []).map((v) => v.dot));
    if (!readRef || setsEqual(got, readRef)) continue;
    // Tombstones reaped between the read and the snapshot are gone, legitimately.
    if (readRef.size === 0 && k.reaped && (r.versions ?? []).every((v) => v.deleted)) continue;
    report('divergence', key, `the final read at ${r.node} returned ${list(got)}, the replicas held ${list(readRef)}`);
  }
}

/** Rule 5, unavailable: writes in calm weather, with enough of the key's replicas up, are acknowledged. */
function checkUnavailable(k: KeyCheck, fin: FinalKey): void {
  const { key, input, report, stats } = k;
  for (const w of k.writes) {
    if (w.status === tooLargeStatus || w.error?.startsWith('context refused')) continue;
    const end = w.completedAt ?? w.invokedAt + input.clientTimeoutMs;
    const from = w.invokedAt - input.stableMs;
    if (input.formedAt === undefined || input.formedAt > from) continue;
    if (input.faults.disruptedDuring(from, end) || input.faults.membershipChangedDuring(from, end)) continue;
    const down = input.faults.downAt(w.invokedAt);
    if (down.has(w.node)) continue;
    const downPref = fin.pref.filter((p) => down.has(p));
    if (downPref.length > input.n - w.w) continue;
    if (stats) stats.availabilityJudged++;
    if (w.outcome === 'ok') continue;
    report('unavailable', key, `${w.kind} ${w.writeId} (w=${w.w}, at ${w.node}, ${w.invokedAt}..${end}) was not acknowledged (${w.outcome}: ${w.error ?? w.status}) with only ${downPref.length ? downPref.join(',') : 'no node'} of ${fin.pref.join(',')} down and no fault for ${input.stableMs} ms before`);
  }
}
