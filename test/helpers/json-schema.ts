// A JSON Schema checker for the subset /openapi.json is written in (node-core/src/http/openapi.ts):
// $ref (to '#/...' in the same document), type, properties, required, additionalProperties,
// items, minItems, maxItems, enum, const, allOf, oneOf, minimum, maximum, minLength, maxLength, pattern,
// format date-time and contentEncoding base64. A keyword outside the subset is reported as an
// error rather than ignored, so the document cannot say more than the tests check.

/** Keywords that only annotate: nothing to check. */
const annotations = new Set(['description', 'examples', 'title']);
const checked = new Set(['$ref', 'type', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'maxItems', 'enum', 'const', 'allOf', 'oneOf', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'format', 'contentEncoding']);
/** How deep $refs may nest before the checker calls the schema circular. */
const refDepthMax = 64;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The value a local JSON pointer (`#/a/b`) names in `root`, or undefined. */
export function resolvePointer(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) return undefined;
  let at: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    const part = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObject(at) || !Object.prototype.hasOwnProperty.call(at, part)) return undefined;
    at = at[part];
  }
  return at;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function hasType(v: unknown, t: unknown): boolean {
  if (t === 'number') return typeof v === 'number' && Number.isFinite(v);
  if (t === 'integer') return typeof v === 'number' && Number.isInteger(v);
  return typeOf(v) === t;
}

/**
 * Every way `value` breaks `schema` (empty: it conforms), each as `path: what`. `root` is the
 * document $refs are resolved in.
 */
export function schemaErrors(schema: unknown, value: unknown, root: unknown, at = '$', depth = 0): string[] {
  if (depth > refDepthMax) return [`${at}: $refs nest deeper than ${refDepthMax}`];
  if (schema === true || (isObject(schema) && Object.keys(schema).length === 0)) return [];
  if (schema === false) return [`${at}: no value is allowed here`];
  if (!isObject(schema)) return [`${at}: the schema is not an object`];
  const errors: string[] = [];
  for (const k of Object.keys(schema)) if (!checked.has(k) && !annotations.has(k)) errors.push(`${at}: unsupported keyword ${k}`);
  if (typeof schema.$ref === 'string') {
    const target = resolvePointer(root, schema.$ref);
    if (target === undefined) errors.push(`${at}: $ref ${schema.$ref} does not resolve`);
    else errors.push(...schemaErrors(target, value, root, at, depth + 1));
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as unknown[]) : [schema.type];
    if (!types.some((t) => hasType(value, t))) return [...errors, `${at}: ${typeOf(value)} where ${types.join(' or ')} is expected`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => e === value)) errors.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if ('const' in schema && schema.const !== value) errors.push(`${at}: ${JSON.stringify(value)} is not ${JSON.stringify(schema.const)}`);
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${at}: ${value} < minimum ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${at}: ${value} > maximum ${schema.maximum}`);
  }
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && [...value].length < schema.minLength) errors.push(`${at}: shorter than ${schema.minLength}`);
    if (typeof schema.maxLength === 'number' && [...value].length > schema.maxLength) errors.push(`${at}: longer than ${schema.maxLength}`);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) errors.push(`${at}: ${JSON.stringify(value.slice(0, 80))} does not match ${schema.pattern}`);
    if (schema.format === 'date-time' && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value)) errors.push(`${at}: ${JSON.stringify(value)} is not a date-time`);
    if (schema.contentEncoding === 'base64' && (value.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value))) errors.push(`${at}: not base64`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) errors.push(`${at}: fewer than ${schema.minItems} items`);
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) errors.push(`${at}: more than ${schema.maxItems} items`);
    if (schema.items !== undefined) value.forEach((item, i) => errors.push(...schemaErrors(schema.items, item, root, `${at}[${i}]`, depth)));
  }
  if (isObject(value)) {
    const properties = isObject(schema.properties) ? schema.properties : {};
    if (Array.isArray(schema.required)) for (const k of schema.required) if (typeof k === 'string' && !(k in value)) errors.push(`${at}: ${k} is required`);
    for (const [k, v] of Object.entries(value)) {
      if (k in properties) errors.push(...schemaErrors(properties[k], v, root, `${at}.${k}`, depth));
      else if (schema.additionalProperties === false) errors.push(`${at}: ${k} is not a documented property`);
      else if (isObject(schema.additionalProperties)) errors.push(...schemaErrors(schema.additionalProperties, v, root, `${at}.${k}`, depth));
    }
  }
  if (Array.isArray(schema.allOf)) for (const sub of schema.allOf) errors.push(...schemaErrors(sub, value, root, at, depth));
  if (Array.isArray(schema.oneOf)) {
    const results = schema.oneOf.map((sub) => schemaErrors(sub, value, root, at, depth));
    const matching = results.filter((r) => r.length === 0).length;
    if (matching !== 1) errors.push(`${at}: matches ${matching} of the oneOf schemas, not exactly one (${results.map((r, i) => `#${i}: ${r[0] ?? 'ok'}`).join('; ')})`);
  }
  return errors;
}

/** Keywords of `schema` and the schemas inside it that the checker does not know (a static check of a whole document's schemas). */
export function unsupportedKeywords(schema: unknown, at = '$'): string[] {
  if (!isObject(schema)) return [];
  const out = Object.keys(schema)
    .filter((k) => !checked.has(k) && !annotations.has(k))
    .map((k) => `${at}: unsupported keyword ${k}`);
  if (isObject(schema.properties)) for (const [k, sub] of Object.entries(schema.properties)) out.push(...unsupportedKeywords(sub, `${at}.${k}`));
  if (isObject(schema.additionalProperties)) out.push(...unsupportedKeywords(schema.additionalProperties, `${at}.*`));
  if (schema.items !== undefined) out.push(...unsupportedKeywords(schema.items, `${at}[]`));
  for (const k of ['allOf', 'oneOf'] as const) {
    const list = schema[k];
    if (Array.isArray(list)) list.forEach((sub, i) => out.push(...unsupportedKeywords(sub, `${at}.${k}[${i}]`)));
  }
  return out;
}
