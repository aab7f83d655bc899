// Sibling resolvers (Dynamo 4.4: the application reconciles divergent versions on read; Riak's
// clients carried the same hook). A resolver takes the live versions a read found and returns
// the one value to write back over all of them; GyreClient.update writes it with the read's
// context, so the siblings it merged are superseded and nothing written since is.

import { Buffer } from 'buffer';
import type { Sibling } from './sibling.js';

/** What a resolver or an update function returns: bytes or text, and optionally their type. */
export type ValueInput = string | Uint8Array | { readonly value: string | Uint8Array; readonly contentType?: string };

/** Merges concurrent versions (at least two, none deleted) into one. */
export type Resolver = (siblings: readonly Sibling[]) => ValueInput;

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/**
 * The version written last by its coordinator's clock (`lastModified`), ties broken by the
 * bytes so every reader picks the same one. Loses the other writes: right for caches and
 * whole-document replacement, wrong for anything that accumulates (use a merge). Clocks of
 * different nodes drift, so "last" is only as good as their synchronisation.
 */
export const lastWriterWins: Resolver = (siblings) => {
  let best = siblings[0]!;
  for (const s of siblings.slice(1)) {
    const d = (s.lastModified ?? 0) - (best.lastModified ?? 0);
    if (d > 0 || (d === 0 && compareBytes(s.value, best.value) > 0)) best = s;
  }
  return { value: best.value, contentType: best.contentType };
};

function parseJson(s: Sibling): unknown {
  try {
    return JSON.parse(Buffer.from(s.value).toString('utf8')) as unknown;
  } catch {
    throw new TypeError(`a sibling is not JSON (${s.contentType}, ${s.value.byteLength} bytes): this resolver merges JSON values only`);
  }
}

/** JSON with object keys sorted: the identity of a set element, whatever key order it was written with. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * Siblings that are JSON arrays merged as sets: every element of any of them, once (elements
 * compared as canonical JSON), in order of first appearance. No concurrent add is lost; a
 * removal concurrent with a write that still holds the element is undone (a grow-only set:
 * removals need tombstones in the value, as an OR-set keeps).
 */
export const jsonSetUnion: Resolver = (siblings) => {
  const seen = new Set<string>();
  const out: unknown[] = [];
  for (const s of siblings) {
    const v = parseJson(s);
    if (!Array.isArray(v)) throw new TypeError('jsonSetUnion merges JSON arrays; a sibling is another JSON value');
    for (const e of v) {
      const id = canonical(e);
      if (seen.has(id)) continue;
      seen.add(id);
      out.push(e);
    }
  }
  return { value: JSON.stringify(out), contentType: 'application/json' };
};

/** A resolver from a merge of parsed JSON values (e.g. summing counters per node, merging maps). */
export function jsonMerge(merge: (values: readonly unknown[]) => unknown): Resolver {
  return (siblings) => ({ value: JSON.stringify(merge(siblings.map(parseJson))), contentType: 'application/json' });
}

/** A resolver from a pairwise merge of values, folded over the siblings in the order read. */
export function mergeWith(merge: (a: Sibling, b: Sibling) => ValueInput): Resolver {
  return (siblings) => {
    let acc: Sibling = siblings[0]!;
    for (const s of siblings.slice(1)) acc = { ...acc, ...toSibling(merge(acc, s), acc.contentType) };
    return { value: acc.value, contentType: acc.contentType };
  };
}

/** A ValueInput as bytes and a content type (`fallbackType` where it names none). */
export function toSibling(v: ValueInput, fallbackType: string): { value: Buffer; contentType: string } {
  if (typeof v === 'string') return { value: Buffer.from(v, 'utf8'), contentType: fallbackType };
  if (v instanceof Uint8Array) return { value: Buffer.from(v.buffer, v.byteOffset, v.byteLength), contentType: fallbackType };
  const bytes = typeof v.value === 'string' ? Buffer.from(v.value, 'utf8') : Buffer.from(v.value.buffer, v.value.byteOffset, v.value.byteLength);
  return { value: bytes, contentType: v.contentType ?? fallbackType };
}

export const resolvers = { lastWriterWins, jsonSetUnion, jsonMerge, mergeWith } as const;
