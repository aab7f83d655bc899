// Node ids: what a node may be called (they appear in actors, fault tables and URLs).

export const idBytesMax = 64;

export function isValidNodeId(id: string): boolean {
  return id.length > 0 && Buffer.byteLength(id) <= idBytesMax && /^[A-Za-z0-9_-]+$/.test(id);
}
