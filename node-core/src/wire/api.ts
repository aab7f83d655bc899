// The JSON documents of the client HTTP API (CONTRACT.md, docs/api.md): what node-core's
// http/api.ts sends and node-core/src/client parses. Types only, so both sides (and the
// console) agree on one definition.

/** One sibling in the `{context, siblings}` form; `value` is base64. */
export interface SiblingJson {
  readonly value: string;
  readonly contentType: string;
  readonly deleted: boolean;
  /** When the version was written (ms since the epoch, the coordinating node's clock). */
  readonly lastModified?: number;
}

/** A read of several versions (300), or of one with `Accept: application/json` (200). */
export interface SiblingsDocument {
  readonly context: string;
  readonly siblings: readonly SiblingJson[];
}

/** Every error: a stable code and a sentence for people. */
export interface ErrorDocument {
  readonly error: string;
  readonly message: string;
}

export interface ReplicaVersionJson {
  readonly clock: Readonly<Record<string, number>>;
  readonly deleted: boolean;
  readonly size: number;
  readonly ts?: number;
  readonly dot?: { readonly actor: string; readonly counter: number };
  /** The clock's exact events: every counter up to entries[actor], and each of dots (`clock` is their summary). */
  readonly events?: { readonly entries: Readonly<Record<string, number>>; readonly dots: readonly { readonly actor: string; readonly counter: number }[] };
  readonly version?: string;
  readonly contentType?: string;
  /** This version's own clock, sealed like any context. */
  readonly context?: string;
  /** With `?values=true`: the value, base64. */
  readonly value?: string;
}

/** GET /replicas/{key}: what each replica of the key holds, read from each directly. */
export interface ReplicasDocument {
  readonly key?: string;
  readonly partition: number;
  readonly preferenceList: readonly string[];
  readonly replicas: readonly { readonly node: string; readonly reachable: boolean; readonly error?: string; readonly versions: readonly ReplicaVersionJson[] }[];
}

export interface StatusMemberJson {
  readonly id: string;
  readonly address: string;
  readonly status: string;
  readonly state?: string;
  readonly partitions?: number;
  readonly internode?: string | undefined;
  readonly phi?: number | null;
  readonly heartbeatAgeMs?: number | null;
  readonly heartbeat?: number | undefined;
}

/** GET /status: this node's view of the cluster (the contract's core, then what the node adds). */
export interface StatusDocument {
  readonly node: { readonly id: string; readonly address?: string; readonly state?: string; readonly startedAt?: string; readonly uptimeMs?: number; readonly version?: string; readonly pid?: number };
  /** Gyre nodes always send it; the contract's minimum document does not include it. */
  readonly listeners?: { readonly http: string; readonly internode: string; readonly control?: string; readonly resp?: string };
  readonly config: { readonly n: number; readonly r: number; readonly w: number; readonly partitions: number; readonly requestTimeoutMs?: number };
  readonly members: readonly StatusMemberJson[];
  readonly hintsPending: number;
  readonly ring?: { readonly partitions: number; readonly owners?: readonly string[] };
  readonly transfers?: {
    readonly pending?: readonly { readonly partition: number; readonly from: string; readonly to: string }[];
    readonly active?: readonly { readonly partition: number; readonly from: string; readonly to: string; readonly keys: number }[];
    readonly completed?: number;
    readonly keysReceived?: number;
  };
  /** What the node stores (not checked by parseStatusDocument: read its fields as untrusted). */
  readonly storage?: { readonly keys?: unknown; readonly bytes?: unknown };
  /** What this node requires and allows: the console shows fault controls only where faultsAllowed. */
  readonly security?: { readonly tokenRequired: boolean; readonly adminTokenRequired: boolean; readonly faultsAllowed: boolean };
}

/** One key of a GET /keys page, merged over the replicas that answered. */
export interface ListedKeyJson {
  /** The key as text, or null when it is not valid printable UTF-8 (key64 always has the bytes). */
  readonly key: string | null;
  readonly key64: string;
  /** Live (not deleted) versions. */
  readonly siblings: number;
  /** Value bytes of the live versions. */
  readonly bytes: number;
  /** Only tombstones are left (listed with tombstones=1 only). */
  readonly deleted: boolean;
  readonly partition: number;
}

/** GET /keys: one page of the cluster's keys. */
export interface KeyListingDocument {
  readonly keys: readonly ListedKeyJson[];
  /** Pass as `cursor` for the next page; null: the listing is complete. */
  readonly cursor: string | null;
  /** Partitions walked so far (those before the cursor), of all. */
  readonly scanned: { readonly partitions: number; readonly total: number };
  /** Partitions of this page no replica answered for: their keys are missing from the listing. */
  readonly unavailable: readonly number[];
}

/** GET /admin/log: the node's recent log lines. */
export interface LogDocument {
  readonly lines: readonly { readonly seq: number; readonly text: string }[];
  /** Pass as `after` to get only later lines. */
  readonly next: number;
  /** Lines after `after` were already dropped from the node's buffer. */
  readonly dropped: boolean;
}

/** One partition in GET /admin/partitions. */
export interface PartitionJson {
  readonly partition: number;
  /** Whether this node is in the partition's preference list (false: data waiting to be handed off). */
  readonly replica: boolean;
  readonly keys: number;
  /** Bytes of the partition's rows as stored (versions, clocks and values). */
  readonly bytes: number;
  /** When anti-entropy last compared it with a peer (ms since the epoch, this node's clock); null: never since start. */
  readonly lastExchangeMs: number | null;
  /** Keys anti-entropy repaired in it since start. */
  readonly keysRepaired: number;
  readonly merkleRoot: string | null;
}

/** GET /admin/partitions. */
export interface PartitionsDocument {
  readonly node: string;
  readonly partitions: readonly PartitionJson[];
}

/** POST /admin/repair. */
export interface RepairDocument {
  readonly partitions: readonly {
    readonly partition: number;
    /** The replicas exchanged with. */
    readonly peers: readonly string[];
    readonly keysRepaired: number;
    /** Replicas not exchanged with: seen down, or the exchange failed (with why). */
    readonly skipped: readonly { readonly node: string; readonly reason: string }[];
    /** Whether every peer's tree agreed with this node's at the end. */
    readonly agreed: boolean;
  }[];
  /** False when the time budget ran out before every partition was done (the rest are left out). */
  readonly complete: boolean;
}

/** A setting's value in GET /admin/config. */
export type SettingValue = string | number | boolean | readonly string[] | null;

/** GET /admin/config: the node's effective settings; secrets appear only as "set" or "unset". */
export interface ConfigDocument {
  readonly node: string;
  readonly settings: Readonly<Record<string, SettingValue>>;
}
