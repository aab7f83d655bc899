// Node ids: what a node may be called (they appear in actors, fault tables and URLs).

export const idBytesMax = 64;

export function isValidNodeId(id: string): boolean {
  return id.length > 0 && Buffer.byteLength(id) <= idBytesMax && /^[A-Za-z0-9_-]+$/.test(id);
}

/** The longest seed address taken, in characters (a DNS name is at most 253, plus a port). */
export const seedCharsMax = 260;

/** A seed: host:port or [v6]:port (also the OpenAPI document's pattern for one). */
export const seedPattern = /^(?:[^:\s/]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/;

/**
 * Why `v` is not a seed (another node's client address, host:port or [v6]:port), or undefined
 * when it is one. The one check for --seeds and POST /admin/join.
 */
export function seedProblem(v: string): string | undefined {
  if (v.length <= seedCharsMax && seedPattern.test(v)) return undefined;
  return `${JSON.stringify(v.slice(0, 64))} is not host:port`;
}
