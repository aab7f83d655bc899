// Hostile input from a member (issue 9): numeric fields a misbehaving peer sends are checked
// against named limits, so it cannot make the cluster reject an honest member, hand a
// partition to a stranger, or pause a node for longer than an operator may ask.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ClusterState, beat, foundState, gossipCounterLimit, mergeStates, reassertSelf } from '../../node-core/src/core/gossip.js';
import { type MemberInfo, gossipCounterMax, packState, parseFaultTable, parseState } from '../../node-core/src/net/messages.js';
import { faultDurationMaxMs, pauseDurationMaxMs } from '../../node-core/src/core/faults.js';

const self: MemberInfo = { id: 'n1', http: '127.0.0.1:7070', internode: '127.0.0.1:7170' };

function packed(s: ClusterState): unknown[] {
  return packState(s) as unknown[];
}

function withMemberField(s: ClusterState, field: 4 | 5, value: unknown): unknown[] {
  const raw = packed(s);
  const members = raw[2] as unknown[][];
  members[0]![field] = value;
  return raw;
}

test('Hostile member: heartbeats and versions past the gossip limit are refused, at the limit accepted', () => {
  const s = foundState(self, 4, 3);
  assert.ok(parseState(withMemberField(s, 5, gossipCounterMax)), 'a heartbeat at the limit');
  for (const [what, field, value] of [
    ['a heartbeat one past the limit', 5, gossipCounterMax + 1],
    ['a heartbeat of 2^53 - 1', 5, Number.MAX_SAFE_INTEGER],
    ['a version of 2^53 - 1', 4, Number.MAX_SAFE_INTEGER],
    ['a fractional version', 4, 1.5],
    ['a negative heartbeat', 5, -1],
  ] as const) {
    assert.equal(parseState(withMemberField(s, field, value)), undefined, what);
  }
});

test('Hostile member: an honest member at the limit saturates instead of producing a state its peers refuse', () => {
  let s = foundState(self, 4, 3);
  const me = s.members.get('n1')!;
  s = { ...s, members: new Map([['n1', { ...me, heartbeat: gossipCounterLimit }]]) };
  const next = beat(s, self);
  assert.equal(next.members.get('n1')!.heartbeat, gossipCounterLimit);
  assert.ok(parseState(packState(next)), 'its next state still parses everywhere');
});

test('Hostile member: a partition owned by, or moving to, a node the state does not list is refused', () => {
  const s = foundState(self, 4, 3);
  const raw = packed(s);
  (raw[3] as unknown[][])[0]![0] = 'stranger';
  assert.equal(parseState(raw), undefined, 'owner not a member');
  const raw2 = packed(s);
  (raw2[3] as unknown[][])[1]![2] = 'stranger';
  assert.equal(parseState(raw2), undefined, 'pending transfer to a non-member');
  const raw3 = packed(s);
  (raw3[2] as unknown[][]).push([...(raw3[2] as unknown[][])[0]!]);
  assert.equal(parseState(raw3), undefined, 'the same member twice');
});

test('Hostile member: a node says again what it is when a peer marks it leaving behind its back', () => {
  const mine = foundState(self, 4, 3);
  const me = mine.members.get('n1')!;
  const forged: ClusterState = { ...mine, members: new Map([['n1', { ...me, state: 'leaving', version: me.version + 5 }]]) };
  const merged = mergeStates(mine, forged);
  assert.equal(merged.members.get('n1')!.state, 'leaving', 'the merge alone takes the higher version');
  const fixed = reassertSelf(merged, me);
  const back = fixed.members.get('n1')!;
  assert.equal(back.state, 'member');
  assert.ok(back.version > me.version + 5, 'with a version that beats the forged one');
  assert.equal(mergeStates(fixed, forged).members.get('n1')!.state, 'member', 'and wins every later merge with it');
});

test('Hostile member: a pause fault copied over the internode path is held to the API limit of 120 s', () => {
  const pause = (remainingMs: number | null) => [[['f1', { kind: 'pause', node: 'n1' }, 0, remainingMs]], []];
  assert.ok(parseFaultTable(pause(pauseDurationMaxMs)));
  assert.equal(parseFaultTable(pause(pauseDurationMaxMs + 1)), undefined);
  assert.equal(parseFaultTable(pause(faultDurationMaxMs)), undefined, 'a 24 h pause');
  assert.equal(parseFaultTable(pause(null)), undefined, 'a pause without an end');
  assert.ok(parseFaultTable([[['f2', { kind: 'loss', probability: 0.5 }, 0, faultDurationMaxMs]], []]), 'other faults keep the 24 h limit');
});
