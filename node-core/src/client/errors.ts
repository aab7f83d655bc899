// The errors a GyreClient throws, one class per thing a caller does something different about:
// - UnavailableError: no node could serve the call (fewer than R/W replicas answered, the node
//   shed load, or no node was reachable) after every retry; try later or lower R/W;
// - AuthError: the token is missing or wrong (401), or the call needs the admin token (403);
// - SiblingsError: a read found concurrent versions and no resolver was given to merge them;
// - GyreError: anything else a node refused (400 bad context, 413 too large...), with its code.
// HttpError (http.ts) is one failed exchange; a client with failover wraps the last one in an
// UnavailableError, a pinned client (failover: false) throws it as is.

export class GyreError extends Error {
  constructor(
    /** The HTTP status the node answered, or 0 where none answered. */
    readonly status: number,
    /** The API's error code (`bad_context`, `too_large`, `unavailable`...), or `bad_response`. */
    readonly code: string,
    message: string,
  ) {
    super(`${status} ${code}: ${message}`);
    this.name = 'GyreError';
  }
}

/** One try of a call that failed in a way worth trying again, for the caller's diagnosis. */
export interface Attempt {
  readonly url: string;
  /** The node's status, or 0 where it did not answer. */
  readonly status: number;
  /** The error code: the API's (`unavailable`), or the socket's (`ECONNREFUSED`, `timeout`). */
  readonly code: string;
  readonly message: string;
}

export class UnavailableError extends GyreError {
  constructor(
    message: string,
    /** Every try, oldest first. */
    readonly attempts: readonly Attempt[],
  ) {
    const last = attempts[attempts.length - 1];
    super(last?.status ?? 0, last?.code ?? 'unavailable', message);
    this.name = 'UnavailableError';
  }
}

export class AuthError extends GyreError {
  constructor(status: number, code: string, message: string) {
    super(status, code, message);
    this.name = 'AuthError';
  }
}

export class SiblingsError extends GyreError {
  constructor(
    readonly key: string,
    /** How many live versions the read found. */
    readonly count: number,
  ) {
    super(300, 'siblings', `${JSON.stringify(key.slice(0, 200))} has ${count} concurrent versions: pass a resolver (resolve: resolvers.lastWriterWins, resolvers.jsonSetUnion, or your own)`);
    this.name = 'SiblingsError';
  }
}
