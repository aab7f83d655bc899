// Gossiped cluster state (Dynamo 4.8): the membership and partition ownership every node
// converges on, with no leader. It is a state-based CRDT: every part merges by a
// deterministic "newer wins" rule, so any two nodes that have exchanged states hold the same
// state, whatever order exchanges happened in.
//
// - A member record is changed only by explicit acts (join, leave, address change), each
//   bumping its `version`; the member's own `heartbeat` rises every round and is how others
//   see it alive. Failing to answer changes nothing here (4.8.1).
// - Each partition's record (owner, pending transfer) carries an `epoch`; a change bumps it.
//   Two concurrent changes to the same partition resolve by (epoch, owner, pending target),
//   so every node picks the same winner.
//
// Pure: rounds, heartbeats and peer choice take nowMs and a random source from the caller.

import { type Ring, claimForJoin, claimForLeave, stripedRing } from './ring.js';

export interface MemberInfo {
  readonly id: string;
  /** Client HTTP address, host:port: what --seeds names. */
  readonly http: string;
  /** Internode address, host:port. */
  readonly internode: string;
}

export type MemberState = 'joining' | 'member' | 'leaving' | 'left';

export interface MemberRecord {
  readonly id: string;
  readonly http: string;
  readonly internode: string;
  readonly state: MemberState;
  /** Bumped by every explicit change of this record. */
  readonly version: number;
  /** Rises every gossip round of the member itself: evidence it is alive. */
  readonly heartbeat: number;
}

export interface PartitionRecord {
  readonly owner: string;
  readonly epoch: number;
  /** A transfer in flight: `to` pulls the partition's data, then becomes the owner. */
  readonly pendingTo: string | undefined;
}

export interface ClusterState {
  readonly partitions: number;
  readonly n: number;
  readonly members: ReadonlyMap<string, MemberRecord>;
  readonly ring: readonly PartitionRecord[];
}

/** Fixed order of member states for tie-breaking equal versions (later wins). */
const stateRank: Record<MemberState, number> = { joining: 0, member: 1, leaving: 2, left: 3 };

function newerMember(a: MemberRecord, b: MemberRecord): MemberRecord {
  if (a.version !== b.version) return a.version > b.version ? a : b;
  if (a.state !== b.state) return stateRank[a.state] > stateRank[b.state] ? a : b;
  if (a.http !== b.http) return a.http > b.http ? a : b;
  return a.internode >= b.internode ? a : b;
}

function mergeMember(a: MemberRecord, b: MemberRecord): MemberRecord {
  const winner = newerMember(a, b);
  const heartbeat = Math.max(a.heartbeat, b.heartbeat);
  return winner.heartbeat === heartbeat ? winner : { ...winner, heartbeat };
}

function newerPartition(a: PartitionRecord, b: PartitionRecord): PartitionRecord {
  if (a.epoch !== b.epoch) return a.epoch > b.epoch ? a : b;
  if (a.owner !== b.owner) return a.owner > b.owner ? a : b;
  return (a.pendingTo ?? '') >= (b.pendingTo ?? '') ? a : b;
}

/** Join of two states: commutative, associative, idempotent. */
export function mergeStates(a: ClusterState, b: ClusterState): ClusterState {
  if (a.partitions !== b.partitions || a.n !== b.n) throw new RangeError('cannot merge states of different cluster shapes');
  const members = new Map(a.members);
  for (const [id, m] of b.members) {
    const mine = members.get(id);
    members.set(id, mine ? mergeMember(mine, m) : m);
  }
  const ring = a.ring.map((r, p) => newerPartition(r, b.ring[p]!));
  return { partitions: a.partitions, n: a.n, members, ring };
}

export function sameState(a: ClusterState, b: ClusterState): boolean {
  if (a.members.size !== b.members.size) return false;
  for (const [id, m] of a.members) {
    const o = b.members.get(id);
    if (!o || o.version !== m.version || o.heartbeat !== m.heartbeat || o.state !== m.state || o.http !== m.http || o.internode !== m.internode) return false;
  }
  return a.ring.every((r, p) => {
    const o = b.ring[p]!;
    return r.owner === o.owner && r.epoch === o.epoch && r.pendingTo === o.pendingTo;
  });
}

/** A one-node cluster: the state a node creates when it has no seeds and no saved state. */
export function foundState(self: MemberInfo, partitions: number, n: number): ClusterState {
  const members = new Map<string, MemberRecord>([[self.id, { ...self, state: 'member', version: 1, heartbeat: 0 }]]);
  const ring = stripedRing([self.id], partitions).owners.map((owner) => ({ owner, epoch: 1, pendingTo: undefined }));
  return { partitions, n, members, ring };
}

/**
 * Epoch 0 marks a placeholder: the ring a node makes up before it has heard from anyone.
 * When nodes start together with each other as seeds, those placeholders are all there is,
 * and the ring the cluster forms from them keeps epoch 0 wherever nobody moved a partition.
 * A member confirms the placeholders it owns (epoch 1), so a node joining later, whose own
 * placeholders are epoch 0 too, can never win a partition by tie-break instead of transfer.
 */
export function confirmPlaceholders(state: ClusterState, id: string): ClusterState {
  if (!state.ring.some((r) => r.epoch === 0 && r.owner === id)) return state;
  return { ...state, ring: state.ring.map((r) => (r.epoch === 0 && r.owner === id ? { ...r, epoch: 1 } : r)) };
}

/** A node's state before it has heard from anyone: it knows only itself, joining. */
export function joiningState(self: MemberInfo, partitions: number, n: number, ring: readonly PartitionRecord[] | undefined): ClusterState {
  const members = new Map<string, MemberRecord>([[self.id, { ...self, state: 'joining', version: 1, heartbeat: 0 }]]);
  return { partitions, n, members, ring: ring ?? Array.from({ length: partitions }, () => ({ owner: self.id, epoch: 0, pendingTo: undefined })) };
}

export function ringOf(state: ClusterState): Ring {
  return { partitions: state.partitions, owners: state.ring.map((r) => r.owner) };
}

/** The ring as it will be once every pending transfer has completed. */
export function targetRingOf(state: ClusterState): Ring {
  return { partitions: state.partitions, owners: state.ring.map((r) => r.pendingTo ?? r.owner) };
}

function withMember(state: ClusterState, m: MemberRecord): ClusterState {
  const members = new Map(state.members);
  members.set(m.id, m);
  return { ...state, members };
}

/**
 * The largest member version, heartbeat and partition epoch: peers refuse states past it, and
 * our own counters saturate there rather than pass it. Far below 2^53: a peer that sent a value
 * near the edge of the safe integers would make an honest member's next `+ 1` unrepresentable,
 * and every node would then refuse that member's state for good. Honest values grow by one per
 * explicit change (versions, epochs) or per second (heartbeats): 2^48 seconds is nine million years.
 */
export const gossipCounterLimit = 2 ** 48;

function bump(n: number): number {
  return Math.min(gossipCounterLimit, n + 1);
}

/** Our own round: bump our heartbeat (and re-announce our address if it changed). */
export function beat(state: ClusterState, self: MemberInfo): ClusterState {
  const me = state.members.get(self.id);
  if (!me) return state;
  if (me.http !== self.http || me.internode !== self.internode) return withMember(state, { ...me, http: self.http, internode: self.internode, version: bump(me.version), heartbeat: bump(me.heartbeat) });
  return withMember(state, { ...me, heartbeat: bump(me.heartbeat) });
}

/**
 * Our own record is ours alone: if a merge left it saying something we did not say (another
 * member bumped its version to change our state or addresses), say it again with a higher
 * version. `mine` is the record as we last wrote it.
 */
export function reassertSelf(state: ClusterState, mine: MemberRecord): ClusterState {
  const cur = state.members.get(mine.id);
  if (!cur) return withMember(state, mine);
  if (cur.state === mine.state && cur.http === mine.http && cur.internode === mine.internode) return state;
  return withMember(state, { ...mine, version: bump(Math.max(cur.version, mine.version)), heartbeat: Math.max(cur.heartbeat, mine.heartbeat) });
}

/**
 * A joining node claims its fair share (about Q/(m+1) partitions, the minimum that balances
 * the ring) as pending transfers to itself; ownership moves per partition once its data has
 * arrived (`completeTransfer`). Planned against the target ring, so transfers already in
 * flight count.
 */
export function planJoin(state: ClusterState, self: MemberInfo): ClusterState {
  const me = state.members.get(self.id);
  const base = me ? state : withMember(state, { ...self, state: 'joining', version: 1, heartbeat: 0 });
  const target = targetRingOf(base);
  const claimed = claimForJoin(target, self.id, state.n);
  if (claimed === target || claimed.owners.every((o, p) => o === target.owners[p])) return base; // fair share already claimed
  const ring = base.ring.map((r, p) => (claimed.owners[p] === self.id && target.owners[p] !== self.id ? { owner: r.owner, epoch: bump(r.epoch), pendingTo: self.id } : r));
  return { ...base, ring };
}

/** A leaving node gives each of its partitions to the least loaded remaining member. */
export function planLeave(state: ClusterState, id: string): ClusterState {
  const me = state.members.get(id);
  if (!me || me.state === 'left') return state;
  const leaving = withMember(state, { ...me, state: 'leaving', version: bump(me.version) });
  const target = targetRingOf(leaving);
  if (!target.owners.includes(id)) return leaving;
  const remaining = [...leaving.members.values()].filter((m) => m.id !== id && (m.state === 'member' || m.state === 'joining')).map((m) => m.id);
  if (remaining.length === 0) return state; // the last member cannot leave
  const planned = claimForLeave(target, id, remaining);
  const ring = leaving.ring.map((r, p) => {
    const t = target.owners[p];
    if (t !== id) return r;
    return { owner: r.owner, epoch: bump(r.epoch), pendingTo: planned.owners[p] === r.owner ? undefined : planned.owners[p] };
  });
  return { ...leaving, ring };
}

/** The data of partition p has reached its new owner: switch ownership. */
export function completeTransfer(state: ClusterState, p: number, to: string): ClusterState {
  const r = state.ring[p];
  if (!r || r.pendingTo !== to) return state; // superseded by a newer plan: nothing to switch
  const ring = state.ring.map((x, i) => (i === p ? { owner: to, epoch: bump(r.epoch), pendingTo: undefined } : x));
  return { ...state, ring };
}

/**
 * A joining node becomes a member once it owns its fair share (floor(Q/m)) with nothing
 * pending: claims of concurrent joins resolve per partition, so "no transfer pending" alone
 * could mean "lost every race", not "done".
 */
export function admitIfSettled(state: ClusterState, id: string): ClusterState {
  const me = state.members.get(id);
  if (!me || me.state !== 'joining') return state;
  if (state.ring.some((r) => r.pendingTo === id)) return state;
  const active = [...state.members.values()].filter((m) => m.state === 'joining' || m.state === 'member').length;
  const owned = state.ring.filter((r) => r.owner === id).length;
  if (owned < Math.floor(state.partitions / Math.max(1, active))) return state;
  return withMember(state, { ...me, state: 'member', version: bump(me.version) });
}

/**
 * A node's claim step, run after every gossip exchange: a joining node claims its fair share;
 * a member tops up too, because claims resolve per partition, so a joiner that lost races, or
 * a donor that concurrent joins on divergent views each took partitions from, can end short
 * of floor(Q/m). Then a joiner that holds its share becomes a member.
 */
export function claimStep(state: ClusterState, self: MemberInfo): ClusterState {
  const me = state.members.get(self.id);
  if (!me || (me.state !== 'joining' && me.state !== 'member')) return state;
  if (activeMembers(state).every((m) => m.id === self.id)) return state; // alone: nothing to claim from
  return admitIfSettled(planJoin(state, self), self.id);
}

/** A node started again after it left the cluster joins it anew (its old record says `left`). */
export function rejoin(state: ClusterState, self: MemberInfo): ClusterState {
  const me = state.members.get(self.id);
  if (!me || me.state !== 'left') return state;
  return withMember(state, { ...me, ...self, state: 'joining', version: bump(me.version) });
}

/** A leaving member that owns nothing and has nothing pending is gone. */
export function markLeftIfDone(state: ClusterState, id: string): ClusterState {
  const me = state.members.get(id);
  if (!me || me.state !== 'leaving') return state;
  if (state.ring.some((r) => r.owner === id || r.pendingTo === id)) return state;
  return withMember(state, { ...me, state: 'left', version: bump(me.version) });
}

/** Members that take part in the ring (not left). */
export function activeMembers(state: ClusterState): MemberRecord[] {
  return [...state.members.values()].filter((m) => m.state !== 'left').sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Whom to gossip with this round (Cassandra's rule): a random peer we see up, and, with
 * probability unreachable/(live+1), also a random peer we do not, to notice it coming back.
 * Never letting a dead peer take the round's only exchange keeps heartbeats flowing between
 * live nodes at the normal rate, so a pause elsewhere cannot make them suspect each other.
 */
export function pickGossipPeers(state: ClusterState, selfId: string, isUp: (id: string) => boolean, random: () => number): { live: string | undefined; unreachable: string | undefined } {
  const peers = activeMembers(state).filter((m) => m.id !== selfId);
  const live = peers.filter((m) => isUp(m.id));
  const dead = peers.filter((m) => !isUp(m.id));
  const pick = (xs: readonly MemberRecord[]) => (xs.length === 0 ? undefined : xs[Math.floor(random() * xs.length)]!.id);
  const liveId = pick(live);
  const probeDead = dead.length > 0 && random() < dead.length / (live.length + 1);
  return { live: liveId, unreachable: probeDead ? pick(dead) : undefined };
}
