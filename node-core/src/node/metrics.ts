// Prometheus metrics (prom-client), one registry per node so several nodes can share a
// process (tests, simulator) without mixing their figures.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class NodeMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'op' | 'status'>;
  readonly requestSeconds: Histogram<'op'>;
  readonly readRepairs: Counter;
  readonly internode: Counter<'type' | 'outcome'>;
  readonly internodeRejected: Counter<'reason'>;
  readonly storeKeys: Gauge;
  readonly storeBytes: Gauge;
  readonly members: Gauge<'status'>;
  readonly hintsPending: Gauge<'target'>;
  readonly hintsWritten: Counter<'target' | 'stand_in'>;
  readonly hintsDelivered: Counter<'target'>;
  readonly siblingWrites: Counter;
  readonly transferKeys: Counter;
  readonly transfersCompleted: Counter;
  readonly handoffKeys: Counter;
  readonly aeExchanges: Counter<'outcome'>;
  readonly aeKeysRepaired: Counter;
  readonly tombstonesReaped: Counter;
  readonly keysWithSiblings: Gauge;
  readonly siblingsResolved: Gauge;
  readonly faultsActive: Gauge<'kind'>;
  readonly httpShed: Counter;
  readonly respCommands: Counter<'command' | 'outcome'>;
  readonly storeQuarantined: Gauge;
  readonly storeWritable: Gauge;

  constructor(opts: {
    defaultMetrics: boolean;
    storeStats: () => { keys: number; bytes: number; quarantined: number; writable: boolean };
    memberStatuses: () => Record<string, number>;
    hintCounts: () => Map<string, number>;
    conflicts?: () => { keysWithSiblings: number; siblingsResolved: number };
    faultKinds?: () => string[];
  }) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'gyre_requests_total', help: 'Client requests by operation and HTTP status', labelNames: ['op', 'status'], registers });
    this.requestSeconds = new Histogram({
      name: 'gyre_request_duration_seconds',
      help: 'Client request latency by operation',
      labelNames: ['op'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      registers,
    });
    this.readRepairs = new Counter({ name: 'gyre_read_repairs_total', help: 'Replicas sent a merged sibling set after a read found them stale', registers });
    this.internode = new Counter({ name: 'gyre_internode_requests_total', help: 'Internode requests sent, by type and outcome', labelNames: ['type', 'outcome'], registers });
    this.internodeRejected = new Counter({ name: 'gyre_internode_rejected_total', help: 'Internode requests refused as malformed or unauthorized', labelNames: ['reason'], registers });
    this.storeKeys = new Gauge({ name: 'gyre_store_keys', help: 'Keys held by this node', registers, collect: () => this.storeKeys.set(opts.storeStats().keys) });
    this.storeBytes = new Gauge({ name: 'gyre_store_bytes', help: 'Bytes of sibling sets held by this node', registers, collect: () => this.storeBytes.set(opts.storeStats().bytes) });
    this.members = new Gauge({
      name: 'gyre_members',
      help: 'Cluster members by status, as this node sees them',
      labelNames: ['status'],
      registers,
      collect: () => {
        this.members.reset();
        for (const [status, n] of Object.entries(opts.memberStatuses())) this.members.set({ status }, n);
      },
    });
    this.hintsPending = new Gauge({
      name: 'gyre_hints_pending',
      help: 'Hinted-handoff backlog held by this node, per target node',
      labelNames: ['target'],
      registers,
      collect: () => {
        this.hintsPending.reset();
        for (const [target, n] of opts.hintCounts()) this.hintsPending.set({ target }, n);
      },
    });
    this.hintsWritten = new Counter({ name: 'gyre_hinted_writes_total', help: 'Replica writes sent to a stand-in for a down node (sloppy quorum)', labelNames: ['target', 'stand_in'], registers });
    this.hintsDelivered = new Counter({ name: 'gyre_hints_delivered_total', help: 'Hinted keys delivered to their owner and deleted here', labelNames: ['target'], registers });
    this.siblingWrites = new Counter({ name: 'gyre_sibling_writes_total', help: 'Coordinated writes that left the key with siblings', registers });
    this.transferKeys = new Counter({ name: 'gyre_transfer_keys_total', help: 'Keys received by ownership transfers that were new or newer here', registers });
    this.transfersCompleted = new Counter({ name: 'gyre_transfers_completed_total', help: 'Partition ownership transfers completed by this node', registers });
    this.handoffKeys = new Counter({ name: 'gyre_handoff_keys_total', help: 'Keys of partitions this node no longer replicates, handed to their replicas and dropped', registers });
    this.aeExchanges = new Counter({ name: 'gyre_ae_exchanges_total', help: 'Anti-entropy exchanges by outcome', labelNames: ['outcome'], registers });
    this.aeKeysRepaired = new Counter({ name: 'gyre_ae_keys_repaired_total', help: 'Keys found different by anti-entropy and merged', registers });
    this.tombstonesReaped = new Counter({ name: 'gyre_tombstones_reaped_total', help: 'Tombstone-only keys reaped after every replica held them and the grace period passed', registers });
    this.keysWithSiblings = new Gauge({ name: 'gyre_keys_with_siblings', help: 'Keys stored here with more than one version (unresolved conflicts)', registers, collect: () => this.keysWithSiblings.set(opts.conflicts?.().keysWithSiblings ?? 0) });
    this.siblingsResolved = new Gauge({ name: 'gyre_siblings_resolved', help: 'Keys whose siblings were resolved here since the node started', registers, collect: () => this.siblingsResolved.set(opts.conflicts?.().siblingsResolved ?? 0) });
    this.faultsActive = new Gauge({
      name: 'gyre_faults_active',
      help: 'Injected faults in force, by kind',
      labelNames: ['kind'],
      registers,
      collect: () => {
        this.faultsActive.reset();
        for (const k of opts.faultKinds?.() ?? []) this.faultsActive.inc({ kind: k });
      },
    });
    this.httpShed = new Counter({ name: 'gyre_http_shed_total', help: 'Client requests answered 503 overloaded because the node-wide budget of requests or body bytes in flight was full', registers });
    this.respCommands = new Counter({ name: 'gyre_resp_commands_total', help: 'RESP commands answered, by command and outcome (ok, or the error reply\'s code)', labelNames: ['command', 'outcome'], registers });
    this.storeQuarantined = new Gauge({ name: 'gyre_store_quarantined_rows', help: 'Stored rows that could not be read back, moved aside (anti-entropy restores the keys from their replicas)', registers, collect: () => this.storeQuarantined.set(opts.storeStats().quarantined) });
    this.storeWritable = new Gauge({ name: 'gyre_store_writable', help: '1 while the last commit to this node\'s database succeeded, 0 after a failed one (disk full, read-only)', registers, collect: () => this.storeWritable.set(opts.storeStats().writable ? 1 : 0) });
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'gyre_process_' });
  }
}
