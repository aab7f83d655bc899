// Invariants (TigerBeetle's assertions): conditions the code itself guarantees, checked where
// data crosses into storage or onto the wire, and in the core's decisions. A failed invariant
// is a bug in Gyre, never bad input: input is parsed and refused at the boundary with a clear
// error. It throws rather than exits, so the request at hand fails and nothing is stored or sent.

export class InvariantError extends Error {
  /** Lets callers tell our own bug from a peer's failure (the failure detector must not blame the peer). */
  readonly code = 'invariant';

  constructor(message: string) {
    super(`invariant violated: ${message}`);
    this.name = 'InvariantError';
  }
}

export function invariant(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new InvariantError(typeof message === 'string' ? message : message());
}
