// The node's secrets: the cluster token (clients and nodes) and the optional admin token
// (/admin/*, faults, leave, traces with values), and the roles they give. One way to compare
// them; reading them from files and judging their strength is start/secret-files.ts.
//
// Comparison: both sides are first reduced to an HMAC-SHA256 under a key drawn when the process
// starts, then compared with timingSafeEqual. The digests always have the same length, so
// neither the time taken nor an early length check tells a guesser how long the secret is or
// how much of a guess was right.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const compareKey = randomBytes(32);

function digest(value: string | Uint8Array): Buffer {
  return createHmac('sha256', compareKey).update(value).digest();
}

/** A secret held in a form that can only be compared, never logged by accident. */
export class Secret {
  private readonly mac: Buffer;
  private constructor(value: string) {
    this.mac = digest(value);
  }

  static of(value: string): Secret;
  static of(value: string | undefined): Secret | undefined;
  static of(value: string | undefined): Secret | undefined {
    return value === undefined ? undefined : new Secret(value);
  }

  /** Whether `candidate` is this secret, in time independent of both. Anything not a string or bytes is not. */
  matches(candidate: unknown): boolean {
    if (typeof candidate !== 'string' && !(candidate instanceof Uint8Array)) return false;
    return timingSafeEqual(this.mac, digest(candidate));
  }

  toJSON(): string {
    return '[secret]';
  }
}

/** The secrets a node checks what it is presented against. */
export interface Credentials {
  readonly cluster: Secret | undefined;
  readonly admin: Secret | undefined;
}

export function credentialsOf(config: { readonly token: string | undefined; readonly adminToken?: string | undefined }): Credentials {
  return { cluster: Secret.of(config.token || undefined), admin: Secret.of(config.adminToken || undefined) };
}

/**
 * What the holder of `presented` may do: 'admin' (everything), 'client' (read and write, no
 * /admin/*, faults, leave or traces), or undefined (nothing). Without an admin token the cluster
 * token does everything, as before roles existed; without any token everything is open (and
 * the node listens on loopback only).
 */
export type Role = 'admin' | 'client';

export function roleOf(c: Credentials, presented: unknown): Role | undefined {
  if (c.admin?.matches(presented)) return 'admin';
  const client = c.cluster === undefined || c.cluster.matches(presented);
  if (!client) return undefined;
  return c.admin === undefined ? 'admin' : 'client';
}
