// The console's API (issue 6): what the renderer may ask of the console backend and what the
// backend pushes to it, whichever transport carries it (Electron IPC through the preload, or
// Socket.IO to `gyre console --web`). Types and one const list only, no Node APIs: the
// renderer, the preload and the backend all import this file.

import type { ClusterSnapshot, ControlEvent, FaultView, TraceRequest, TraceResult } from './control.js';

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
] as const satisfies readonly ConsoleMethod[];

/** What the backend pushes. */
export interface ConsolePushes {
  cluster: ClusterSnapshot;
  events: readonly ControlEvent[];
  connection: ConnectionState;
  workload: WorkloadStatus;
}

export type ConsolePush = keyof ConsolePushes;
export const consolePushes = ['cluster', 'events', 'connection', 'workload'] as const satisfies readonly ConsolePush[];

export type CallResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** The renderer's view of the backend, the same over IPC and Socket.IO. */
export interface ConsoleApi {
  call<M extends ConsoleMethod>(method: M, ...args: ConsoleMethods[M]['args']): Promise<ConsoleMethods[M]['result']>;
  on<P extends ConsolePush>(push: P, listener: (value: ConsolePushes[P]) => void): () => void;
}
