// The value viewers (issue 14), pure and browser-safe: from a value's bytes and content type,
// which views apply (text, JSON, hex, msgpack) and their data. Values come from the cluster,
// so any byte is hostile: nothing here throws out to the page (a bad decode becomes a
// message), and nothing renders unbounded (the tree expands lazily, a page at a time; hex
// shows 4 KiB a page; text is cut past textCharsMax).

import { C1, Unpackr } from 'msgpackr';

export type ViewKind = 'text' | 'json' | 'hex' | 'msgpack';
export const viewKinds: readonly ViewKind[] = ['text', 'json', 'hex', 'msgpack'];

/** Characters of text shown at most (the rest is cut, and said so). */
export const textCharsMax = 256 * 1024;
/** Children of one tree node shown per page ("show more" adds the next). */
export const treeChildrenPageMax = 100;
/** Characters of a string leaf shown in the tree. */
export const treeStringCharsMax = 200;
/** Bytes per hex page, and per row. */
export const hexPageBytes = 4096;
export const hexRowBytes = 16;
/** Bytes decoded as msgpack at most: past this the view is not offered (hex still is). */
export const msgpackBytesMax = 16 * 1024 * 1024;
/** Nesting decoded at most: deeper input is refused with a message rather than left to overflow the stack. */
export const treeDepthMax = 512;

export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

export interface ValueViews {
  readonly bytes: number;
  /** The views that apply to these bytes; hex always does. */
  readonly available: Readonly<Record<ViewKind, boolean>>;
  readonly defaultView: ViewKind;
  /** The bytes as text when they are valid UTF-8 (cut past textCharsMax), else null. */
  readonly text: { readonly text: string; readonly truncated: boolean } | null;
  /** The parsed JSON (when the bytes are text and the content type or the bytes say JSON). */
  readonly json: Decoded<unknown> | null;
  /** The decoded msgpack (when the content type says msgpack, or the bytes are not text but decode cleanly). */
  readonly msgpack: Decoded<unknown> | null;
}

/** The media type without parameters, lower-cased ("Application/JSON; charset=utf-8" -> "application/json"). */
export function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

export function isJsonType(contentType: string): boolean {
  const t = mediaType(contentType);
  return t === 'application/json' || t === 'text/json' || /^application\/[^/]+\+json$/.test(t);
}

export function isMsgpackType(contentType: string): boolean {
  const t = mediaType(contentType);
  return t === 'application/msgpack' || t === 'application/x-msgpack' || t === 'application/vnd.msgpack';
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeText(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/** How deep `text` nests JSON arrays and objects (outside strings), stopping once past `max`. */
function jsonDepth(text: string, max: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > max) return deepest;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

export function parseJson(text: string): Decoded<unknown> {
  // The tree walks values recursively: refuse what would nest past what it can show.
  if (jsonDepth(text, treeDepthMax) > treeDepthMax) return { ok: false, message: `nested deeper than ${treeDepthMax} levels` };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, message: `not valid JSON: ${errorText(e)}` };
  }
}

// Plain data only: maps as Map (keys of any type, no "__proto__" assignments on objects), no
// msgpackr records or structures (state shared between calls, and a hostile stream could
// define them), 64-bit integers as bigint so none is silently rounded.
const unpackr = new Unpackr({ mapsAsObjects: false, useRecords: false, structuredClone: false, int64AsType: 'bigint', moreTypes: false, copyBuffers: true });

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * What makes a decoded value unshowable, or null: 0xc1 anywhere (msgpackr hands back a marker
 * object for the byte msgpack never uses, where it should fail), or nesting past `max`.
 */
function problemOf(value: unknown, max: number, depth = 0): string | null {
  if (value === C1) return 'not valid msgpack: it holds 0xc1, a byte msgpack never uses';
  if (depth > max) return `nested deeper than ${max} levels`;
  const children = Array.isArray(value) ? value : value instanceof Map ? [...value.keys(), ...value.values()] : isPlainObject(value) ? Object.values(value) : [];
  for (const x of children) {
    const p = problemOf(x, max, depth + 1);
    if (p !== null) return p;
  }
  return null;
}

export function decodeMsgpack(bytes: Uint8Array): Decoded<unknown> {
  if (bytes.length > msgpackBytesMax) return { ok: false, message: `larger than ${msgpackBytesMax} bytes` };
  if (bytes.length === 0) return { ok: false, message: 'empty: no msgpack value' };
  try {
    // unpack refuses trailing bytes after the first value, so text rarely passes for msgpack.
    const value: unknown = unpackr.unpack(bytes);
    const problem = problemOf(value, treeDepthMax);
    if (problem !== null) return { ok: false, message: problem };
    return { ok: true, value };
  } catch (e) {
    // Any failure at all, including a stack overflow on deep nesting, is the value's fault.
    return { ok: false, message: `not valid msgpack: ${errorText(e)}` };
  }
}

function errorText(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.length > 300 ? `${m.slice(0, 300)}…` : m;
}

/** No control characters but tab, newline and carriage return. */
function isPrintable(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f) return false;
  }
  return true;
}

export function valueViews(bytes: Uint8Array, contentType: string): ValueViews {
  const rawText = decodeText(bytes);
  const text = rawText === null ? null : rawText.length > textCharsMax ? { text: rawText.slice(0, textCharsMax), truncated: true } : { text: rawText, truncated: false };
  const jsonType = isJsonType(contentType);
  const msgpackType = isMsgpackType(contentType);
  // JSON is tried on any text: a JSON value stored as text/plain or octet-stream still gets its tree.
  const tried = rawText === null ? null : parseJson(rawText);
  const json = jsonType ? (tried ?? { ok: false as const, message: 'not valid UTF-8, so not JSON' }) : tried?.ok ? tried : null;
  const mp = msgpackType || rawText === null ? decodeMsgpack(bytes) : null;
  const msgpack = msgpackType ? mp : mp?.ok ? mp : null;
  const available: Record<ViewKind, boolean> = { text: text !== null, json: json !== null, hex: true, msgpack: msgpack !== null };
  const t = mediaType(contentType);
  // A generic type (none, octet-stream: what curl and most clients send) says nothing: printable
  // text is shown as text, as Redis consoles do; anything else as hex.
  const generic = t === '' || t === 'application/octet-stream';
  const printable = rawText !== null && isPrintable(rawText);
  const defaultView: ViewKind = jsonType ? 'json' : msgpackType ? 'msgpack' : (t.startsWith('text/') && text !== null) || (generic && printable && text !== null) ? 'text' : 'hex';
  return { bytes: bytes.length, available, defaultView, text, json, msgpack };
}

// The tree: one model for JSON and msgpack values. Nodes are made on demand from the decoded
// value, a page of children at a time, so a 1 MiB document renders its first level only.

export type TreeType = 'object' | 'array' | 'map' | 'string' | 'number' | 'bigint' | 'boolean' | 'null' | 'undefined' | 'binary' | 'date' | 'other';

export interface TreeNode {
  /** `$`, `$.a`, `$.a[0]`, `$["odd key"]`; map entries of msgpack with non-string keys as `$[<key>]`. */
  readonly path: string;
  /** The key or index as shown ("a", "0"); null for the root. */
  readonly label: string | null;
  readonly type: TreeType;
  /** A leaf's value as shown (strings cut past treeStringCharsMax), or a container's summary. */
  readonly preview: string;
  /** Children of a container (0 for leaves). */
  readonly size: number;
  readonly expandable: boolean;
  /** The decoded value, for childrenOf. */
  readonly value: unknown;
}

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function childPath(parent: string, key: string | number, inMap: boolean): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  if (!inMap && identifier.test(key)) return `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
}

function typeOf(v: unknown): TreeType {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Map) return 'map';
  if (v instanceof Uint8Array) return 'binary';
  if (v instanceof Date) return 'date';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'number':
      return 'number';
    case 'bigint':
      return 'bigint';
    case 'boolean':
      return 'boolean';
    case 'object':
      // msgpackr's own extensions (Set, RegExp, Error, typed arrays) are shown, not walked.
      return isPlainObject(v) ? 'object' : 'other';
    default:
      return 'other';
  }
}

function shown(v: unknown): string {
  try {
    return String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

function cut(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function leafPreview(v: unknown, type: TreeType): string {
  switch (type) {
    case 'string':
      return JSON.stringify(cut(v as string, treeStringCharsMax));
    case 'bigint':
      return `${String(v)}n`;
    case 'binary': {
      const b = v as Uint8Array;
      const head = [...b.subarray(0, 16)].map((x) => x.toString(16).padStart(2, '0')).join(' ');
      return `<${b.length} bytes${b.length > 0 ? `: ${head}${b.length > 16 ? ' …' : ''}` : ''}>`;
    }
    case 'date': {
      const d = v as Date;
      return Number.isNaN(d.getTime()) ? 'Invalid Date' : d.toISOString();
    }
    case 'other':
      return cut(shown(v), treeStringCharsMax);
    default:
      return String(v);
  }
}

function sizeOf(v: unknown, type: TreeType): number {
  if (type === 'array') return (v as unknown[]).length;
  if (type === 'map') return (v as Map<unknown, unknown>).size;
  if (type === 'object') return Object.keys(v as object).length;
  return 0;
}

function makeNode(path: string, label: string | null, value: unknown): TreeNode {
  const type = typeOf(value);
  const size = sizeOf(value, type);
  const container = type === 'array' || type === 'map' || type === 'object';
  const preview = !container ? leafPreview(value, type) : type === 'array' ? `[${size}]` : `{${size}}`;
  return { path, label, type, preview, size, expandable: container && size > 0, value };
}

export function treeRoot(value: unknown): TreeNode {
  return makeNode('$', null, value);
}

function keyLabel(k: unknown): string {
  if (typeof k === 'string') return k;
  return makeNode('', null, k).preview;
}

/** Children `from` .. `from + limit` of a container node (in order), and how many there are. */
export function childrenOf(node: TreeNode, from = 0, limit = treeChildrenPageMax): { readonly nodes: TreeNode[]; readonly total: number } {
  const start = Math.max(0, Math.floor(from));
  const end = start + Math.max(0, Math.floor(limit));
  const out: TreeNode[] = [];
  const v = node.value;
  if (node.type === 'array') {
    const a = v as unknown[];
    for (let i = start; i < Math.min(end, a.length); i++) out.push(makeNode(childPath(node.path, i, false), String(i), a[i]));
    return { nodes: out, total: a.length };
  }
  if (node.type === 'map') {
    const m = v as Map<unknown, unknown>;
    let i = 0;
    for (const [k, x] of m) {
      if (i >= end) break;
      if (i >= start) {
        // String keys read like object keys; others (numbers, binary) in brackets as shown.
        const label = keyLabel(k);
        const path = typeof k === 'string' ? childPath(node.path, k, false) : `${node.path}[${label}]`;
        out.push(makeNode(path, label, x));
      }
      i++;
    }
    return { nodes: out, total: m.size };
  }
  if (node.type === 'object') {
    const keys = Object.keys(v as object);
    for (let i = start; i < Math.min(end, keys.length); i++) {
      const k = keys[i]!;
      out.push(makeNode(childPath(node.path, k, false), k, (v as Record<string, unknown>)[k]));
    }
    return { nodes: out, total: keys.length };
  }
  return { nodes: [], total: 0 };
}

// Hex: offset, 16 bytes, and their ASCII (printable 0x20..0x7e, else '.'), a page at a time.

export interface HexRow {
  /** Offset of the row's first byte, 8 hex digits. */
  readonly offset: string;
  readonly hex: readonly string[];
  readonly ascii: string;
}

export interface HexPage {
  readonly page: number;
  readonly pages: number;
  readonly rows: readonly HexRow[];
}

export function hexPages(byteCount: number): number {
  return Math.max(1, Math.ceil(byteCount / hexPageBytes));
}

export function hexPage(bytes: Uint8Array, page: number): HexPage {
  const pages = hexPages(bytes.length);
  const p = Number.isInteger(page) ? Math.min(Math.max(page, 0), pages - 1) : 0;
  const rows: HexRow[] = [];
  const end = Math.min(bytes.length, (p + 1) * hexPageBytes);
  for (let at = p * hexPageBytes; at < end; at += hexRowBytes) {
    const chunk = bytes.subarray(at, Math.min(at + hexRowBytes, end));
    rows.push({
      offset: at.toString(16).padStart(8, '0'),
      hex: [...chunk].map((b) => b.toString(16).padStart(2, '0')),
      ascii: [...chunk].map((b) => (b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : '.')).join(''),
    });
  }
  return { page: p, pages, rows };
}
