// The console's contract, re-exported for the renderer (types only: erased from the bundle).
export type {
  ClusterSnapshot,
  ControlEvent,
  FaultView,
  MemberStatus,
  MemberView,
  NodeSnapshot,
  OpKind,
  PartitionHealth,
  TraceRequest,
  TraceResult,
  TraceStepView,
} from '../../../node-core/src/wire/control.js';
export type {
  Attachment,
  AttachTarget,
  CallResult,
  ConnectionState,
  ConsoleApi,
  ConsoleMethod,
  ConsoleMethods,
  ConsolePush,
  ConsolePushes,
  Environment,
  KeyInspection,
  KeyPosition,
  Profile,
  ProfileInput,
  SiblingView,
  WorkloadSpec,
  WorkloadStatus,
} from '../../../node-core/src/wire/console.js';

export const opKinds = ['get', 'put', 'delete'] as const;
