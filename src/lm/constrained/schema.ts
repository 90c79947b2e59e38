// JSON Schema (the subset documented in docs/lm-structured.md) compiled to a small graph of
// nodes the recognizer walks. Objects keep their properties in the order given; a schema
// keyword outside the subset is an error that names it, so a server can answer 400.
import { compileRegex, PatternError, type Regex } from './regex.js';

export class SchemaError extends Error {
  /** `keyword`: the unsupported or malformed keyword (null for a general error); `path`: a JSON pointer into the schema. */
  constructor(message: string, readonly keyword: string | null = null, readonly path = '#') {
    super(`[responseFormat] ${path === '#' ? '' : `${path}: `}${message}`);
    this.name = 'SchemaError';
  }
}

let nextId = 1;
const id = () => nextId++;

export interface ObjectProperty {
  name: string;
  /** The key as it is written after the opening quote: JSON.stringify(name) minus its first byte, as a byte string. */
  key: string;
  node: SchemaNode;
  required: boolean;
}
export interface ObjectNode { kind: 'object'; id: number; props: ObjectProperty[]; firstRequired: number[]; /** Free keys (no declared properties): the values' schema; null: no free keys. */ extra: SchemaNode | null }
export interface ArrayNode { kind: 'array'; id: number; items: SchemaNode; minItems: number; maxItems: number }
export interface StringNode { kind: 'string'; id: number; minLength: number; maxLength: number; pattern: Regex | null; /** Same constraints, same sig: recognizer states are shared. */ sig: number }
export interface NumberNode { kind: 'number'; id: number; integer: boolean }
/** enum, const, true/false, null: the values' compact JSON texts, as byte strings. */
export interface LiteralNode { kind: 'literal'; id: number; values: string[] }
export interface UnionNode { kind: 'union'; id: number; options: SchemaNode[] }
export interface RefNode { kind: 'ref'; id: number; target: SchemaNode | null; ref: string }
export type SchemaNode = ObjectNode | ArrayNode | StringNode | NumberNode | LiteralNode | UnionNode | RefNode;

/** UTF-8 bytes of `s` as a string of chars 0..255 (the recognizer works on bytes). */
export function byteString(s: string): string {
  let out = '';
  for (const b of new TextEncoder().encode(s)) out += String.fromCharCode(b);
  return out;
}

const stringSigs = new Map<string, number>();
export function stringNode(minLength = 0, maxLength = Infinity, pattern: Regex | null = null): StringNode {
  const k = `${minLength},${maxLength},${pattern?.source ?? ''}`;
  let sig = stringSigs.get(k);
  if (sig === undefined) stringSigs.set(k, (sig = stringSigs.size + 1));
  return { kind: 'string', id: id(), minLength, maxLength, pattern, sig };
}
const literal = (values: unknown[]): LiteralNode => ({ kind: 'literal', id: id(), values: [...new Set(values.map((v) => byteString(JSON.stringify(v))))] });

function objectNode(props: ObjectProperty[], extra: SchemaNode | null): ObjectNode {
  const firstRequired = new Array<number>(props.length + 1).fill(props.length);
  for (let i = props.length - 1; i >= 0; i--) firstRequired[i] = props[i].required ? i : firstRequired[i + 1];
  return { kind: 'object', id: id(), props, firstRequired, extra };
}

/** Any JSON value (json_object's values, `{}` and `true` schemas). */
export const ANY: UnionNode = (() => {
  const any: UnionNode = { kind: 'union', id: id(), options: [] };
  any.options.push(objectNode([], any), { kind: 'array', id: id(), items: any, minItems: 0, maxItems: Infinity }, stringNode(), { kind: 'number', id: id(), integer: false }, literal([true, false, null]));
  return any;
})();
/** Any JSON object: `response_format: { type: 'json_object' }`. */
export const ANY_OBJECT: ObjectNode = ANY.options[0] as ObjectNode;
/** Object keys with no constraint. */
export const FREE_STRING: StringNode = ANY.options[2] as StringNode;

// Keywords that only annotate: skipped.
const ANNOTATIONS = new Set(['title', 'description', 'default', 'examples', '$schema', '$id', '$comment', 'deprecated', 'readOnly', 'writeOnly', '$defs', 'definitions', 'format', 'contentMediaType', 'contentEncoding', 'strict']);
// Keywords that constrain values in ways the recognizer does not enforce: rejected by name.
const UNSUPPORTED = new Set([
  'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf',
  'patternProperties', 'propertyNames', 'minProperties', 'maxProperties', 'dependentRequired', 'dependentSchemas', 'dependencies', 'unevaluatedProperties',
  'prefixItems', 'additionalItems', 'unevaluatedItems', 'contains', 'minContains', 'maxContains',
  'not', 'if', 'then', 'else', '$dynamicRef', '$recursiveRef', '$anchor', '$dynamicAnchor',
]);
/** Deeper schemas are refused (a request body could otherwise exhaust the stack). */
const MAX_SCHEMA_DEPTH = 64;
const TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);
type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v);
const hasType = (v: unknown, t: string) => typeOf(v) === t || (t === 'number' && typeOf(v) === 'integer');

export interface CompileOptions {
  /** OpenAI's strict mode: additionalProperties is false everywhere. */
  strict?: boolean;
}

/** Compiles a JSON Schema to the recognizer's nodes; throws SchemaError for what the subset lacks. */
export function compileSchema(schema: unknown, options: CompileOptions = {}): SchemaNode {
  const root = schema;
  const strict = options.strict === true;
  const refs = new Map<string, RefNode>();

  const nonNegInt = (s: Json, k: string, path: string, dflt: number): number => {
    const v = s[k];
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new SchemaError(`'${k}' must be a non-negative integer, got ${JSON.stringify(v)}`, k, path);
    return v;
  };

  function resolve(ref: string, path: string): RefNode {
    let node = refs.get(ref);
    if (node) return node;
    if (ref !== '#' && !ref.startsWith('#/$defs/') && !ref.startsWith('#/definitions/'))
      throw new SchemaError(`'$ref' ${JSON.stringify(ref)} is not supported: only '#', '#/$defs/...' and '#/definitions/...' references`, '$ref', path);
    let target: unknown = root;
    for (const part of ref.slice(2).split('/').filter((p) => p !== '')) {
      const key = decodeURIComponent(part).replaceAll('~1', '/').replaceAll('~0', '~');
      target = isObject(target) ? target[key] : undefined;
      if (target === undefined) throw new SchemaError(`'$ref' ${JSON.stringify(ref)} points at nothing`, '$ref', path);
    }
    node = { kind: 'ref', id: id(), target: null, ref };
    refs.set(ref, node); // before compiling: recursive schemas find it
    node.target = compile(target, ref);
    return node;
  }

  let depth = 0;
  function compile(s: unknown, path: string): SchemaNode {
    if (depth >= MAX_SCHEMA_DEPTH) throw new SchemaError(`the schema nests deeper than ${MAX_SCHEMA_DEPTH} levels`, null, path.length > 200 ? `${path.slice(0, 200)}...` : path);
    depth++;
    try {
      return compileAt(s, path);
    } finally {
      depth--;
    }
  }

  function compileAt(s: unknown, path: string): SchemaNode {
    if (s === true) return ANY;
    if (s === false) throw new SchemaError('the schema false matches nothing', null, path);
    if (!isObject(s)) throw new SchemaError(`a schema must be an object or a boolean, got ${typeOf(s)}`, null, path);
    for (const k of Object.keys(s)) {
      if (UNSUPPORTED.has(k)) throw new SchemaError(`'${k}' is not supported by constrained decoding`, k, path);
    }
    if (s.uniqueItems === true) throw new SchemaError("'uniqueItems: true' is not supported by constrained decoding", 'uniqueItems', path);
    const validating = Object.keys(s).filter((k) => !ANNOTATIONS.has(k));

    if (s.$ref !== undefined) {
      if (typeof s.$ref !== 'string') throw new SchemaError(`'$ref' must be a string, got ${typeOf(s.$ref)}`, '$ref', path);
      const others = validating.filter((k) => k !== '$ref');
      if (others.length > 0) throw new SchemaError(`'$ref' next to other keywords (${others.join(', ')}) is not supported; move them into the referenced schema`, others[0], path);
      return resolve(s.$ref, path);
    }
    if (s.nullable === true) {
      const { nullable: _, ...rest } = s;
      return { kind: 'union', id: id(), options: [compile(rest, path), literal([null])] };
    }
    if (s.allOf !== undefined) {
      if (!Array.isArray(s.allOf) || s.allOf.length !== 1) throw new SchemaError("'allOf' is supported only with a single schema", 'allOf', path);
      const { allOf, ...rest } = s;
      const only = allOf as unknown[];
      if (Object.keys(rest).some((k) => !ANNOTATIONS.has(k))) {
        if (!isObject(only[0]) || only[0].$ref !== undefined) throw new SchemaError("'allOf' with a $ref next to other keywords is not supported", 'allOf', path);
        return compile({ ...rest, ...only[0] }, path);
      }
      return compile(only[0], `${path}/allOf/0`);
    }
    for (const key of ['anyOf', 'oneOf'] as const) {
      if (s[key] === undefined) continue;
      const opts = s[key];
      if (!Array.isArray(opts) || opts.length === 0) throw new SchemaError(`'${key}' must be a non-empty list of schemas`, key, path);
      const { [key]: _, ...siblings } = s;
      const shared = Object.keys(siblings).some((k) => !ANNOTATIONS.has(k));
      // Keywords beside anyOf apply to every option: merged in (the option's own win).
      return { kind: 'union', id: id(), options: opts.map((o, i) => compile(shared && isObject(o) && o.$ref === undefined ? { ...siblings, ...o } : o, `${path}/${key}/${i}`)) };
    }

    let types: string[] | null = null;
    if (s.type !== undefined) {
      types = Array.isArray(s.type) ? s.type : [s.type];
      if (types.length === 0) throw new SchemaError("'type' must not be an empty list", 'type', path);
      for (const t of types) if (typeof t !== 'string' || !TYPES.has(t)) throw new SchemaError(`unknown type ${JSON.stringify(t)} (expected one of ${[...TYPES].join(', ')})`, 'type', path);
    }

    if (s.enum !== undefined || s.const !== undefined) {
      let values: unknown[];
      if (s.const !== undefined) values = [s.const];
      else {
        if (!Array.isArray(s.enum) || s.enum.length === 0) throw new SchemaError("'enum' must be a non-empty list", 'enum', path);
        values = s.enum;
      }
      if (types) values = values.filter((v) => types!.some((t) => hasType(v, t)));
      if (values.length === 0) throw new SchemaError(`no value of '${s.const !== undefined ? 'const' : 'enum'}' has type ${types!.join(' or ')}`, s.const !== undefined ? 'const' : 'enum', path);
      return literal(values);
    }

    if (!types) {
      // No type: the keywords present say which one is meant; none means any value.
      if (['properties', 'required', 'additionalProperties'].some((k) => k in s)) types = ['object'];
      else if (['items', 'minItems', 'maxItems'].some((k) => k in s)) types = ['array'];
      else if (['minLength', 'maxLength', 'pattern'].some((k) => k in s)) types = ['string'];
      else return ANY;
    }
    const nodes = [...new Set(types)].map((t) => typed(t, s, path));
    return nodes.length === 1 ? nodes[0] : { kind: 'union', id: id(), options: nodes };
  }

  function typed(t: string, s: Json, path: string): SchemaNode {
    switch (t) {
      case 'object': {
        const properties = s.properties ?? {};
        if (!isObject(properties)) throw new SchemaError(`'properties' must be an object, got ${typeOf(properties)}`, 'properties', path);
        const required = s.required ?? [];
        if (!Array.isArray(required) || required.some((r) => typeof r !== 'string')) throw new SchemaError("'required' must be a list of property names", 'required', path);
        for (const r of required) if (!(r in properties)) throw new SchemaError(`required property ${JSON.stringify(r)} is not in 'properties' (declared: ${Object.keys(properties).join(', ') || 'none'})`, 'required', path);
        const ap = s.additionalProperties;
        if (ap !== undefined && typeof ap !== 'boolean' && !isObject(ap)) throw new SchemaError(`'additionalProperties' must be a boolean or a schema, got ${typeOf(ap)}`, 'additionalProperties', path);
        const props = Object.entries(properties).map(([name, sub]) => ({
          name, key: byteString(JSON.stringify(name)).slice(1), node: compile(sub, `${path}/properties/${name}`), required: required.includes(name),
        }));
        // Declared properties are the only ones generated (always valid output); an object
        // without them takes free keys unless strict or additionalProperties: false.
        let extra: SchemaNode | null = null;
        if (props.length === 0 && !strict && ap !== false) extra = ap === undefined || ap === true ? ANY : compile(ap, `${path}/additionalProperties`);
        return objectNode(props, extra);
      }
      case 'array': {
        if (Array.isArray(s.items)) throw new SchemaError("'items' as a list (tuples) is not supported; use one schema for every item", 'items', path);
        const minItems = nonNegInt(s, 'minItems', path, 0);
        let maxItems = nonNegInt(s, 'maxItems', path, Infinity);
        if (s.items === false) maxItems = 0;
        if (minItems > maxItems) throw new SchemaError(`minItems ${minItems} is larger than maxItems ${maxItems}`, 'minItems', path);
        const items = s.items === undefined || s.items === false ? ANY : compile(s.items, `${path}/items`);
        return { kind: 'array', id: id(), items, minItems, maxItems };
      }
      case 'string': {
        const minLength = nonNegInt(s, 'minLength', path, 0);
        const maxLength = nonNegInt(s, 'maxLength', path, Infinity);
        if (minLength > maxLength) throw new SchemaError(`minLength ${minLength} is larger than maxLength ${maxLength}`, 'minLength', path);
        let pattern: Regex | null = null;
        if (s.pattern !== undefined) {
          if (typeof s.pattern !== 'string') throw new SchemaError(`'pattern' must be a string, got ${typeOf(s.pattern)}`, 'pattern', path);
          try {
            pattern = compileRegex(s.pattern);
          } catch (e) {
            if (e instanceof PatternError) throw new SchemaError(e.message, 'pattern', path);
            throw e;
          }
        }
        return minLength === 0 && maxLength === Infinity && !pattern ? FREE_STRING : stringNode(minLength, maxLength, pattern);
      }
      case 'number': return { kind: 'number', id: id(), integer: false };
      case 'integer': return { kind: 'number', id: id(), integer: true };
      case 'boolean': return literal([true, false]);
      default: return literal([null]);
    }
  }

  return compile(schema, '#');
}

/** Follows references (a ref's target is set once its schema is compiled). */
export function deref(node: SchemaNode): Exclude<SchemaNode, RefNode> {
  let n = node;
  for (let hops = 0; n.kind === 'ref'; hops++) {
    if (!n.target || hops > 64) throw new SchemaError(`'$ref' ${JSON.stringify(n.ref)} refers only to itself`, '$ref');
    n = n.target;
  }
  return n;
}
