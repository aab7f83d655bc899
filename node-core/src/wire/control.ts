// The control plane's protocol (issue 5): the typed Socket.IO events both ends share, and the
// shapes they carry. Types only, no Node APIs: the console's renderer imports this file too
// (STYLE 12: socket.io's typed events, one definition for server and client).

export type MemberStatus = 'up' | 'suspect' | 'down' | 'joining' | 'leaving';
export type OpKind = 'get' | 'put' | 'delete';

export interface MemberView {
  readonly id: string;
  readonly address: string;
  readonly status: MemberStatus;
  readonly state: 'joining' | 'member' | 'leaving' | 'left';
  readonly phi: number | null;
  readonly heartbeatAgeMs: number | null;
  readonly partitions: number;
}

export interface OpWindow {
  /** Requests completed in the last whole second, and in all. */
  readonly lastSecond: number;
  readonly total: number;
  /** Latency percentiles over the last whole second, ms (null when there were none). */
  readonly p50: number | null;
  readonly p99: number | null;
  readonly p999: number | null;
  readonly max: number | null;
  /** Answers 5xx (and transport failures) and 503s, in all. */
  readonly errors: number;
  readonly unavailable: number;
}

export type ControlEventBody =
  | { readonly type: 'member-status'; readonly member: string; readonly from: string; readonly to: string }
  | { readonly type: 'member-state'; readonly member: string; readonly from: string; readonly to: string }
  | { readonly type: 'transfer-started'; readonly partition: number; readonly from: string; readonly to: string }
  | { readonly type: 'transfer-finished'; readonly partition: number; readonly keys: number; readonly ms: number }
  | { readonly type: 'hints-delivered'; readonly target: string; readonly count: number }
  | { readonly type: 'ae-repair'; readonly peer: string; readonly partition: number; readonly keys: number }
  | { readonly type: 'fault-injected'; readonly fault: FaultView }
  | { readonly type: 'fault-healed'; readonly fault: FaultView; readonly reason: 'healed' | 'expired' };

/** Something that happened on one node, with its time (ms since the epoch) and a per-node sequence. */
export type ControlEvent = ControlEventBody & { readonly seq: number; readonly at: number; readonly node: string };

export interface FaultView {
  readonly id: string;
  readonly kind: string;
  readonly description: string;
  readonly startedAt: number;
  readonly remainingMs: number | null;
  readonly [field: string]: unknown;
}

/** What one node reports about itself, about once a second, to whoever asks. */
export interface NodeSnapshot {
  readonly id: string;
  readonly at: number;
  readonly address: string;
  readonly uptimeMs: number;
  readonly members: readonly MemberView[];
  readonly hints: { readonly byTarget: Readonly<Record<string, number>>; readonly delivered: number };
  readonly antiEntropy: { readonly exchanges: number; readonly keysRepaired: number };
  readonly transfers: { readonly active: number; readonly completed: number; readonly keysReceived: number };
  readonly conflicts: {
    readonly keysWithSiblings: number;
    /** Some of those keys (utf-8, or base64 prefixed "base64:" when not text). */
    readonly sample: readonly string[];
    readonly siblingsCreated: number;
    readonly siblingsResolved: number;
    readonly readRepairs: number;
  };
  readonly ops: Readonly<Record<OpKind, OpWindow>>;
  /** quarantined and writable: storage health (absent from older nodes). */
  readonly storage: { readonly keys: number; readonly bytes: number; readonly quarantined?: number; readonly writable?: boolean };
  /** Merkle root per partition this node holds (hex), when Q is small enough to ship them. */
  readonly merkle: Readonly<Record<string, string>> | null;
  readonly faults: readonly FaultView[];
  /** Events after the asker's cursor (at most eventsPerSnapshotMax). */
  readonly events: readonly ControlEvent[];
  readonly lastEventSeq: number;
}

export interface PartitionHealth {
  readonly partition: number;
  readonly owner: string;
  readonly pendingTo: string | null;
  readonly preferenceList: readonly string[];
  /** Preference-list nodes the attached node sees up. */
  readonly replicasUp: number;
  /** Stand-ins holding hints for this partition's down replicas, as "standIn>for". */
  readonly fallbacks: readonly string[];
  /** Whether the replicas' Merkle roots agree (null when not every replica reported one). */
  readonly merkleAgree: boolean | null;
}

export interface ClusterSnapshot {
  readonly at: number;
  /** The node this client is attached to, whose view of membership this is. */
  readonly via: string;
  readonly config: { readonly n: number; readonly r: number; readonly w: number; readonly partitions: number };
  readonly members: readonly MemberView[];
  /** Each reachable node's own snapshot; unreachable ones with the reason. */
  readonly nodes: readonly (NodeSnapshot | { readonly id: string; readonly unreachable: string })[];
  /** Who sees whom: status[i][j] is what observers[i] thinks of targets[j] (null: no report). */
  readonly matrix: { readonly observers: readonly string[]; readonly targets: readonly string[]; readonly status: readonly (readonly (MemberStatus | null)[])[] };
  readonly partitions: readonly PartitionHealth[];
  readonly hints: { readonly byTarget: Readonly<Record<string, number>>; readonly total: number; readonly drainPerSecond: number };
  readonly antiEntropy: { readonly exchanges: number; readonly keysRepaired: number; readonly repairedPerSecond: number };
  readonly conflicts: { readonly keysWithSiblings: number; readonly sample: readonly string[]; readonly createdPerSecond: number; readonly resolvedPerSecond: number; readonly readRepairsPerSecond: number };
  readonly ops: Readonly<Record<OpKind, { readonly perSecond: number; readonly p50: number | null; readonly p99: number | null; readonly p999: number | null; readonly errors: number; readonly unavailable: number }>>;
  readonly storage: { readonly keys: number; readonly bytes: number };
  readonly faults: readonly FaultView[];
  /** Whether the node this view comes through accepts fault injection (--allow-faults); the console offers faults only then. */
  readonly faultsAllowed: boolean;
}

export interface TraceRequest {
  readonly op: OpKind;
  /** The key as text, or base64 with `keyEncoding: 'base64'`. */
  readonly key: string;
  readonly keyEncoding?: 'utf8' | 'base64';
  readonly value?: string;
  readonly valueEncoding?: 'utf8' | 'base64';
  readonly contentType?: string;
  readonly context?: string;
  readonly r?: number;
  readonly w?: number;
  readonly timeoutMs?: number;
}

export interface TraceStepView {
  readonly at: number;
  readonly step: string;
  readonly node: string | undefined;
  readonly hintFor?: string;
  readonly versions?: readonly { readonly version: string; readonly deleted: boolean; readonly size: number }[];
  readonly detail: string;
}

export interface TraceResult {
  readonly status: number;
  readonly coordinator: string;
  readonly context?: string;
  readonly version?: string;
  readonly siblings?: readonly { readonly version: string; readonly value: string; readonly contentType: string; readonly deleted: boolean }[];
  readonly error?: { readonly error: string; readonly message: string };
  readonly durationMs: number;
  readonly steps: readonly TraceStepView[];
}

export type Ack<T> = (reply: { ok: true; value: T } | { ok: false; error: string; message: string }) => void;

export interface ServerToClientEvents {
  /** The cluster as the attached node sees it, about once a second while subscribed. */
  cluster: (s: ClusterSnapshot) => void;
  /** New events from every node, in batches. */
  events: (e: readonly ControlEvent[]) => void;
}

export interface ClientToServerEvents {
  /** Start (or stop) the 1 Hz streams on this connection. */
  subscribe: (ack?: Ack<{ node: string }>) => void;
  unsubscribe: (ack?: Ack<null>) => void;
  /** One snapshot now. */
  snapshot: (ack: Ack<ClusterSnapshot>) => void;
  'faults:list': (ack: Ack<readonly FaultView[]>) => void;
  'faults:inject': (spec: Record<string, unknown>, ack: Ack<{ fault: FaultView; reached: string[]; missed: string[] }>) => void;
  'faults:heal': (id: string | null, ack: Ack<{ healed: FaultView[] }>) => void;
  /** A get/put/delete with tracing on. */
  trace: (req: TraceRequest, ack: Ack<TraceResult>) => void;
}
