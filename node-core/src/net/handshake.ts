// The internode handshake: both ends prove they hold the cluster token, and neither sends it.
//
//   listener -> dialer   [challenge, version, nL]                 nL: 32 fresh random bytes
//   dialer -> listener   [hello, version, dialerId, nD, proofD]   nD: 32 fresh random bytes
//   listener -> dialer   [welcome, listenerId, proofL]
//
//   proofD = HMAC-SHA256(token, ["gyre dialer", nL, nD, dialerId, address])
//   proofL = HMAC-SHA256(token, ["gyre listener", nL, nD, dialerId, address, listenerId])
//
// `address` is the internode address the dialer meant to reach (what gossip or a seed named);
// the listener checks it against its own. So a proof is good for one connection to one
// listener: a process on a dead node's old port that passes a live node's challenge on to a
// dialer, and the dialer's answer back, gets a proof for the wrong address, which the live node
// refuses; and the dialer sends nothing else until the listener has proved itself in turn. The labels differ, so a proof one side
// makes can never serve as the other side's (no reflection). The node ids are inside the
// proofs: the id a connection is served under is the one its holder proved. Without a cluster
// token the same exchange runs under an empty key: it then proves nothing, as before.
//
// Over TLS both proofs also cover keying material exported from the TLS session: a relay that
// terminates TLS on both sides holds two sessions with different material, so neither proof it
// passes on verifies.
//
// What a stranger can still do with a proof is guess the token offline, which is why tokens
// must be long and random where the network can reach a node (node/secrets.ts). Over plain TCP
// the handshake keeps strangers out, but not someone on the path between two nodes, who can
// read and change what follows it: that is what TLS is for.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { Packr } from 'msgpackr';

export const frameChallenge = 4;
export const frameWelcome = 5;
export const nonceBytes = 32;
const proofBytes = 32;
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

function mac(token: string | undefined, parts: readonly unknown[]): Buffer {
  return createHmac('sha256', token ?? '').update(packr.pack(parts)).digest();
}

/** `binding`: keying material exported from the TLS session the handshake runs in (none over plain TCP). */
export function dialerProof(token: string | undefined, listenerNonce: Uint8Array, dialerNonce: Uint8Array, dialerId: string, address: string, binding?: Uint8Array): Buffer {
  return mac(token, ['gyre dialer', listenerNonce, dialerNonce, dialerId, address, ...(binding ? [binding] : [])]);
}

export function listenerProof(token: string | undefined, listenerNonce: Uint8Array, dialerNonce: Uint8Array, dialerId: string, address: string, listenerId: string, binding?: Uint8Array): Buffer {
  return mac(token, ['gyre listener', listenerNonce, dialerNonce, dialerId, address, listenerId, ...(binding ? [binding] : [])]);
}

/** Whether `given` (from the wire: anything) is the proof `expected`. */
export function proofMatches(expected: Buffer, given: unknown): boolean {
  return given instanceof Uint8Array && given.byteLength === proofBytes && timingSafeEqual(expected, given);
}

export function isNonce(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array && x.byteLength === nonceBytes;
}
