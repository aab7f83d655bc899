// The console's API (issue 6): what the renderer may ask of the console backend and what the
// backend pushes to it, whichever transport carries it (Electron IPC through the preload, or
// Socket.IO to `gyre console --web`). Types and one const list only, no Node APIs: the
// renderer, the preload and the backend all import this file.

import type { ClusterSnapshot, ControlEvent, FaultView, TraceRequest, TraceResult } from './control.js';
import type { KeyListingDocument, ListedKeyJson } from './api.js';

export type { ClusterSnapshot, ControlEvent, FaultView, TraceRequest, TraceResult };

export type Environment = 'development' | 'staging' | 'production';

export interface Profile {
  readonly id: string;
  readonly name: string;
  /** Node URLs (http://host:port); the console attaches to the first that answers. */
  readonly seeds: readonly string[];
  /**
   * Never sent to the renderer (always null there; `hasToken` says whether one is stored).
   * On save, null keeps the stored token of an existing profile; a string replaces it.
   */
  readonly token: string | null;
  readonly hasToken?: boolean;
  readonly tls: boolean;
  /** With tls: a CA certificate file (PEM) on the console's machine that the nodes' certificates are checked against (else the system's CAs). */
  readonly caFile: string | null;
  readonly environment: Environment;
}

export type ProfileInput = Omit<Profile, 'id' | 'hasToken'> & { readonly id?: string };

export type AttachTarget = { readonly kind: 'local' } | { readonly kind: 'profile'; readonly id: string };

export interface Attachment {
  readonly name: string;
  /** A cluster this console launched (kill and restart work on it), or a remote one. */
  readonly local: boolean;
  readonly environment: Environment;
  readonly urls: readonly string[];
  /** The URL of the node whose control plane the console is attached to. */
  readonly via: string | null;
}

export type ConnectionState =
  | { readonly state: 'detached' }
  | { readonly state: 'connecting'; readonly target: string }
  | { readonly state: 'attached'; readonly attachment: Attachment }
  | { readonly state: 'error'; readonly message: string };

export interface WorkloadSpec {
  readonly ratePerSecond: number;
  /** Share of gets (the rest are puts carrying the context of the last read of the key). */
  readonly getRatio: number;
  readonly keys: number;
  readonly valueBytes: number;
}

export interface WorkloadStatus {
  readonly running: boolean;
  readonly spec: WorkloadSpec | null;
  readonly sent: number;
  readonly ok: number;
  readonly failed: number;
  readonly startedAt: number | null;
}

export interface SiblingView {
  readonly version: string;
  /** base64 */
  readonly value: string;
  readonly contentType: string;
  readonly deleted: boolean;
  readonly clock: Readonly<Record<string, number>>;
  /** Replicas holding this version. */
  readonly heldBy: readonly string[];
}

export interface KeyInspection {
  readonly key: string;
  readonly status: number;
  readonly context: string | null;
  readonly siblings: readonly SiblingView[];
  readonly preferenceList: readonly string[];
  readonly replicas: readonly { readonly node: string; readonly reachable: boolean; readonly versions: readonly string[] }[];
}

export interface KeyPosition {
  readonly key: string;
  readonly partition: number;
  /** Position on the ring as a fraction of a turn (0..1). */
  readonly position: number;
  readonly preferenceList: readonly string[];
}

/** One node as the node page shows it: its own /status (as JSON), and what the console knows locally. */
export interface NodeDetails {
  readonly id: string;
  /** The node's GET /status document, or null when it did not answer (then `error`). */
  readonly status: Readonly<Record<string, unknown>> | null;
  readonly error: string | null;
  /** Its effective settings (GET /admin/config; secrets only as set/unset), or null when it did not say. */
  readonly settings: Readonly<Record<string, unknown>> | null;
  /** A node of the local cluster this console launched: its pid, log file and data folder. */
  readonly local: { readonly pid: number | null; readonly log: string; readonly dir: string; readonly port: number } | null;
}

export interface LogLine {
  readonly seq: number;
  readonly text: string;
}

export interface NodeLogPage {
  readonly node: string;
  /** Where the lines come from: the local log file, or the node's GET /admin/log. */
  readonly source: 'file' | 'node';
  readonly lines: readonly LogLine[];
  /** Pass as `after` to follow. */
  readonly next: number;
  /** Lines between `after` and the first returned were no longer kept. */
  readonly dropped: boolean;
}

export interface NodeLogQuery {
  readonly lines: number;
  readonly filter: string | null;
  readonly after: number | null;
}

/**
 * A membership change to plan: a join, of a new local node the console launches or (with
 * `address`, host:port of its client API) of a node already started alone, which is asked to
 * join (POST /admin/join); or a node's leave.
 */
export type MembershipChange = { readonly kind: 'join'; readonly address?: string } | { readonly kind: 'leave'; readonly node: string };

export interface PlannedMove {
  readonly partition: number;
  readonly from: string;
  readonly to: string;
  /** What the current owner holds of the partition (from its GET /admin/partitions; null when it did not say). */
  readonly keys: number | null;
  readonly bytes: number | null;
}

export interface MembershipPlan {
  readonly id: string;
  readonly change: MembershipChange;
  /** The node that joins (its id) or leaves. */
  readonly node: string;
  readonly createdAt: number;
  /** Partitions whose owner changes. */
  readonly ownership: number;
  /** Partition copies to new replicas (what the transfers pull). */
  readonly moves: readonly PlannedMove[];
  readonly totals: { readonly partitions: number; readonly keys: number; readonly bytes: number; readonly unknown: number };
  /** Moves per (from, to). */
  readonly flows: readonly { readonly from: string; readonly to: string; readonly partitions: number; readonly bytes: number }[];
  /** Partitions whose preference list changes: while they move, a replica is being rebuilt. */
  readonly atRisk: readonly { readonly partition: number; readonly before: readonly string[]; readonly after: readonly string[] }[];
  /** Preference-list partitions per node, before and after. */
  readonly load: readonly { readonly node: string; readonly before: number; readonly after: number }[];
  readonly warnings: readonly string[];
}

export interface MembershipProgress {
  readonly planId: string;
  readonly node: string;
  readonly kind: MembershipChange['kind'];
  readonly state: 'starting' | 'moving' | 'done' | 'failed';
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly partitionsTotal: number;
  readonly partitionsMoved: number;
  readonly message: string;
}

export interface HistoryQuery {
  readonly from: number;
  readonly to: number;
  /** 'cluster': the cluster-wide series; {node}: that node's series. */
  readonly scope: 'cluster' | { readonly node: string };
  readonly maxPoints: number;
}

export interface HistorySeries {
  readonly t: readonly number[];
  readonly series: Readonly<Record<string, readonly (number | null)[]>>;
  readonly stepMs: number;
  readonly tier: string;
  /** Node ids with series in the range. */
  readonly nodes: readonly string[];
}

export interface AuditEntry {
  readonly id: number;
  readonly at: number;
  readonly cluster: string;
  readonly action: string;
  readonly detail: Readonly<Record<string, unknown>>;
  readonly result: 'ok' | 'error';
  readonly error: string | null;
}

export type AlertMetric = 'nodesDown' | 'hintsGrowing' | 'p99' | 'siblingsGrowing' | 'merkleDisagree';

export interface AlertRule {
  readonly id: string;
  readonly metric: AlertMetric;
  /** nodesDown: nodes; hintsGrowing: hints gained over the window; p99: ms; siblingsGrowing: keys gained; merkleDisagree: partitions. */
  readonly threshold: number;
  /** How long the condition must hold before the alert fires (s). */
  readonly forSeconds: number;
  readonly enabled: boolean;
}

export interface AlertState {
  readonly ruleId: string;
  readonly metric: AlertMetric;
  readonly state: 'ok' | 'pending' | 'firing';
  readonly value: number | null;
  readonly since: number | null;
  readonly message: string;
}

export interface KeyListQuery {
  readonly prefix: string | null;
  readonly cursor: string | null;
  readonly limit: number;
  readonly tombstones: boolean;
}

/** One listed key, as GET /keys answers it. */
export type KeyListEntry = ListedKeyJson;

/** A page of GET /keys, with how long the console waited for it. */
export type KeyPage = KeyListingDocument & { readonly elapsedMs: number };

export interface PartitionReplicaState {
  readonly node: string;
  readonly keys: number | null;
  readonly bytes: number | null;
  /** When the replica last compared this partition with a peer (ms since the epoch). */
  readonly lastExchangeMs: number | null;
  readonly keysRepaired: number | null;
  readonly merkleRoot: string | null;
}

export interface PartitionDetail {
  readonly partition: number;
  readonly preferenceList: readonly string[];
  readonly merkleAgree: boolean | null;
  readonly replicas: readonly PartitionReplicaState[];
}

export interface RepairReport {
  readonly partitions: readonly { readonly partition: number; readonly node: string; readonly peers: readonly string[]; readonly keysRepaired: number }[];
  readonly errors: readonly string[];
}

/**
 * What-if (core/what-if.ts computes it in the backend; restated here because the renderer
 * type-checks wire/ without Node's types, and core/ has them).
 */
export interface WhatIfPartition {
  readonly partition: number;
  readonly replicasLeft: number;
  readonly strictRead: boolean;
  readonly strictWrite: boolean;
  readonly sloppyWrite: boolean;
  readonly sloppyRead: boolean;
  readonly standIns: readonly string[];
}

export interface WhatIfView {
  readonly failed: readonly string[];
  readonly durationMs: number;
  readonly putsPerSecond: number;
  /** Whether every partition's key count was known (else keysAtRisk is a lower bound). */
  readonly keysKnown: boolean;
  readonly partitions: readonly WhatIfPartition[];
  readonly summary: {
    readonly strictReadLost: number;
    readonly strictWriteLost: number;
    readonly sloppyWriteLost: number;
    readonly keysAtRisk: number;
    readonly expectedHints: number;
    readonly hintsByStandIn: Readonly<Record<string, number>>;
  };
}

/** A key's causal graph (core/causal.ts, restated for the same reason). */
export interface CausalNodeView {
  readonly id: string;
  readonly kind: 'version' | 'ancestor';
  readonly clock: Readonly<Record<string, number>>;
  readonly versions?: readonly string[];
  readonly deleted?: boolean;
  readonly heldBy?: readonly string[];
  readonly sibling: boolean;
  readonly layer: number;
}

export interface CausalGraphView {
  readonly key: string;
  readonly nodes: readonly CausalNodeView[];
  readonly edges: readonly { readonly from: string; readonly to: string }[];
  readonly ancestorsOmitted: number;
}

export type ScenarioFault =
  | { readonly kind: 'partition'; readonly sides: readonly [readonly string[], readonly string[]]; readonly oneWay?: boolean }
  | { readonly kind: 'latency'; readonly nodes: readonly string[]; readonly delayMs: number; readonly jitterMs?: number }
  | { readonly kind: 'loss'; readonly nodes: readonly string[]; readonly probability: number }
  | { readonly kind: 'pause'; readonly node: string }
  | { readonly kind: 'kill'; readonly node: string };

export interface ScenarioStep {
  readonly atMs: number;
  readonly durationMs: number;
  readonly fault: ScenarioFault;
}

export interface ScenarioSpec {
  readonly id?: string;
  readonly name: string;
  readonly workload: { readonly enabled: boolean; readonly ratePerSecond: number; readonly keys: number; readonly getRatio: number };
  readonly steps: readonly ScenarioStep[];
  readonly settleMs: number;
  readonly schedule: null | { readonly everyMinutes: number };
}

export type Scenario = ScenarioSpec & { readonly id: string; readonly nextRunAt?: number | null };

export interface RunVerdict {
  readonly ok: boolean;
  readonly violations: readonly { readonly rule: string; readonly key: string | null | undefined; readonly message: string }[];
  readonly countsByRule: Readonly<Record<string, number>>;
  readonly acknowledgedWrites: number;
  readonly lostWrites: number;
  readonly divergence: boolean;
  readonly availability: { readonly attempted: number; readonly ok: number; readonly ratio: number };
  readonly durationMs: number;
}

export interface RunRecord {
  readonly id: string;
  readonly scenarioId: string;
  readonly scenarioName: string;
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly state: 'running' | 'passed' | 'failed' | 'error' | 'stopped';
  readonly verdict: RunVerdict | null;
  readonly log: readonly { readonly at: number; readonly what: string }[];
  readonly error: string | null;
}

/** Every request the renderer can make: name, arguments, result. */
export interface ConsoleMethods {
  connection: { args: []; result: ConnectionState };
  listProfiles: { args: []; result: Profile[] };
  saveProfile: { args: [profile: ProfileInput]; result: Profile };
  deleteProfile: { args: [id: string]; result: null };
  attach: { args: [target: AttachTarget]; result: Attachment };
  detach: { args: []; result: null };
  trace: { args: [req: TraceRequest]; result: TraceResult };
  inspectKey: { args: [key: string]; result: KeyInspection };
  keyPosition: { args: [key: string]; result: KeyPosition };
  /** Writes `value` (base64) with the context that covers every sibling: they disappear. */
  resolveKey: { args: [key: string, value: string, contentType: string, context: string]; result: TraceResult };
  /** `confirm`: the cluster's name, required for destructive actions on a production cluster. */
  injectFault: { args: [spec: Record<string, unknown>, confirm: string | null]; result: FaultView };
  healFaults: { args: [id: string | null]; result: FaultView[] };
  killNode: { args: [node: string, confirm: string | null]; result: null };
  restartNode: { args: [node: string, confirm: string | null]; result: null };
  startWorkload: { args: [spec: WorkloadSpec]; result: WorkloadStatus };
  stopWorkload: { args: []; result: WorkloadStatus };
  workloadStatus: { args: []; result: WorkloadStatus };
  nodeDetails: { args: [node: string]; result: NodeDetails };
  nodeLog: { args: [node: string, query: NodeLogQuery]; result: NodeLogPage };
  planMembership: { args: [change: MembershipChange]; result: MembershipPlan };
  /** Carries out a plan made by planMembership (the plan is kept by the backend for a while). */
  commitMembership: { args: [planId: string, confirm: string | null]; result: MembershipProgress };
  membershipProgress: { args: []; result: MembershipProgress | null };
  history: { args: [query: HistoryQuery]; result: HistorySeries };
  historyCsv: { args: [query: HistoryQuery]; result: string };
  listAudit: { args: [query: { limit: number; before: number | null }]; result: AuditEntry[] };
  alertRules: { args: []; result: AlertRule[] };
  saveAlertRules: { args: [rules: AlertRule[]]; result: AlertRule[] };
  alerts: { args: []; result: AlertState[] };
  listKeys: { args: [query: KeyListQuery]; result: KeyPage };
  causalGraph: { args: [key: string]; result: CausalGraphView };
  partitionsDetail: { args: []; result: PartitionDetail[] };
  repairPartition: { args: [partition: number | null]; result: RepairReport };
  whatIf: { args: [failed: string[], durationMs: number]; result: WhatIfView };
  listScenarios: { args: []; result: Scenario[] };
  saveScenario: { args: [spec: ScenarioSpec]; result: Scenario };
  deleteScenario: { args: [id: string]; result: null };
  runScenario: { args: [id: string, confirm: string | null]; result: RunRecord };
  stopRun: { args: [id: string]; result: RunRecord | null };
  listRuns: { args: [query: { limit: number }]; result: RunRecord[] };
  getRun: { args: [id: string]; result: RunRecord | null };
}

export type ConsoleMethod = keyof ConsoleMethods;

/** The methods, as one list (the preload exposes exactly these; IPC channels are named after them). */
export const consoleMethods = [
  'connection',
  'listProfiles',
  'saveProfile',
  'deleteProfile',
  'attach',
  'detach',
  'trace',
  'inspectKey',
  'keyPosition',
  'resolveKey',
  'injectFault',
  'healFaults',
  'killNode',
  'restartNode',
  'startWorkload',
  'stopWorkload',
  'workloadStatus',
  'nodeDetails',
  'nodeLog',
  'planMembership',
  'commitMembership',
  'membershipProgress',
  'history',
  'historyCsv',
  'listAudit',
  'alertRules',
  'saveAlertRules',
  'alerts',
  'listKeys',
  'causalGraph',
  'partitionsDetail',
  'repairPartition',
  'whatIf',
  'listScenarios',
  'saveScenario',
  'deleteScenario',
  'runScenario',
  'stopRun',
  'listRuns',
  'getRun',
] as const satisfies readonly ConsoleMethod[];

/** What the backend pushes. */
export interface ConsolePushes {
  cluster: ClusterSnapshot;
  events: readonly ControlEvent[];
  connection: ConnectionState;
  workload: WorkloadStatus;
  membership: MembershipProgress;
  alerts: readonly AlertState[];
  experiment: RunRecord;
}

export type ConsolePush = keyof ConsolePushes;
export const consolePushes = ['cluster', 'events', 'connection', 'workload', 'membership', 'alerts', 'experiment'] as const satisfies readonly ConsolePush[];

export type CallResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** The renderer's view of the backend, the same over IPC and Socket.IO. */
export interface ConsoleApi {
  call<M extends ConsoleMethod>(method: M, ...args: ConsoleMethods[M]['args']): Promise<ConsoleMethods[M]['result']>;
  on<P extends ConsolePush>(push: P, listener: (value: ConsolePushes[P]) => void): () => void;
}
