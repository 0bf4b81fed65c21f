/**
 * Avro schema parsing, name resolution and the canonical form the registry uses for schema identity.
 *
 * Everything here is pure. `resolveSchema` turns schema JSON into a graph of nodes with fully-qualified
 * names (recursive types become cycles); the canonical form, the avsc validation input and the
 * compatibility checker (./compatibility.ts) all work from that graph, so they agree on what a name means.
 */
import { createHash } from 'node:crypto';
import * as avro from 'avsc';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A schema as parsed JSON: a type name, a union (array) or a type object. */
export type AvroSchema = string | JsonValue[] | { [key: string]: JsonValue };

export const MAX_SCHEMA_BYTES = 1024 * 1024;
/** JSON nesting depth; deep enough for realistic schemas, shallow enough that recursive walkers are safe. */
export const MAX_SCHEMA_DEPTH = 100;

export class SchemaParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchemaParseError';
  }
}

export const PRIMITIVE_TYPES = ['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string'] as const;
export type PrimitiveName = (typeof PRIMITIVE_TYPES)[number];

/** Attributes that carry no structure (logicalType, precision, scale, doc, custom ones), in source order. */
export type Attributes = ReadonlyMap<string, JsonValue>;

export interface PrimitiveNode {
  readonly kind: 'primitive';
  readonly type: PrimitiveName;
  readonly attrs: Attributes;
}

interface NamedBase {
  readonly fullName: string;
  readonly shortName: string;
  /** '' is the null namespace. */
  readonly namespace: string;
  /** Fully qualified. */
  readonly aliases: readonly string[];
  readonly attrs: Attributes;
}

export interface RecordNode extends NamedBase {
  readonly kind: 'record';
  /** `"error"` (protocol error records) is kept so the canonical form does not lose it. */
  readonly typeKeyword: 'record' | 'error';
  readonly fields: FieldNode[];
}

export interface FieldNode {
  readonly name: string;
  readonly type: SchemaNode;
  readonly hasDefault: boolean;
  readonly defaultValue: JsonValue;
  readonly order: 'ascending' | 'descending' | 'ignore';
  readonly aliases: readonly string[];
  readonly attrs: Attributes;
}

export interface EnumNode extends NamedBase {
  readonly kind: 'enum';
  readonly symbols: readonly string[];
  readonly default?: string;
}

export interface FixedNode extends NamedBase {
  readonly kind: 'fixed';
  readonly size: number;
}

export interface ArrayNode {
  readonly kind: 'array';
  readonly items: SchemaNode;
  readonly attrs: Attributes;
}

export interface MapNode {
  readonly kind: 'map';
  readonly values: SchemaNode;
  readonly attrs: Attributes;
}

export interface UnionNode {
  readonly kind: 'union';
  readonly branches: readonly SchemaNode[];
}

export type NamedNode = RecordNode | EnumNode | FixedNode;
export type SchemaNode = PrimitiveNode | NamedNode | ArrayNode | MapNode | UnionNode;

// ---------------------------------------------------------------------------------------------------------
// Parsing

/** Parses and validates schema text; throws SchemaParseError for anything that is not a valid Avro schema. */
export function parseAvroSchema(text: string): { schema: AvroSchema } {
  if (typeof text !== 'string') throw new SchemaParseError('the schema must be a string of JSON');
  if (Buffer.byteLength(text, 'utf8') > MAX_SCHEMA_BYTES) {
    throw new SchemaParseError(`the schema is larger than ${MAX_SCHEMA_BYTES} bytes`);
  }
  assertTextDepth(text, MAX_SCHEMA_DEPTH);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SchemaParseError(`the schema is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isSchemaShape(json)) throw new SchemaParseError('an Avro schema must be a JSON string, array or object');
  const root = resolveSchema(json);
  validateWithAvsc(root);
  return { schema: json };
}

function isSchemaShape(json: unknown): json is AvroSchema {
  return typeof json === 'string' || (typeof json === 'object' && json !== null);
}

/** Counts bracket nesting without parsing, so hostile input is refused before anything recursive sees it. */
function assertTextDepth(text: string, max: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) throw new SchemaParseError(`the schema is nested deeper than ${max} levels`);
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
}

/** Iterative, because callers may hand us objects that never went through parseAvroSchema. */
function assertValueDepth(value: unknown, max: number): void {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d >= max) throw new SchemaParseError(`the schema is nested deeper than ${max} levels`);
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
}

/** avsc checks what the resolver does not: defaults against their types, symbol names, union rules, ... */
function validateWithAvsc(root: SchemaNode): void {
  try {
    // Fresh options every time: avsc stores named types in opts.registry. Logical types are left
    // unregistered so any logicalType (known or not) parses as its underlying type, as the spec requires.
    avro.Type.forSchema(toAvscSchema(root, new Set()) as avro.Schema, { wrapUnions: 'always', registry: {} });
  } catch (err) {
    throw new SchemaParseError(`invalid Avro schema: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Writes every name explicitly, because avsc resolves namespaces slightly differently from the spec
 * (it prefers an explicit namespace over a dotted name's). A leading dot makes avsc read a reference in
 * the null namespace instead of qualifying it with the enclosing one.
 */
function toAvscSchema(node: SchemaNode, defined: Set<NamedNode>): JsonValue {
  const absolute = (fullName: string): string => (fullName.includes('.') ? fullName : `.${fullName}`);
  switch (node.kind) {
    case 'primitive':
      return node.attrs.size === 0 ? node.type : { ...attrsObject(node.attrs), type: node.type };
    case 'array':
      return { ...attrsObject(node.attrs), type: 'array', items: toAvscSchema(node.items, defined) };
    case 'map':
      return { ...attrsObject(node.attrs), type: 'map', values: toAvscSchema(node.values, defined) };
    case 'union':
      return node.branches.map((b) => toAvscSchema(b, defined));
    default: {
      if (defined.has(node)) return absolute(node.fullName);
      defined.add(node);
      const base: { [key: string]: JsonValue } = {
        ...attrsObject(node.attrs),
        name: node.shortName,
        namespace: node.namespace,
        aliases: node.aliases.map(absolute),
      };
      if (node.kind === 'enum') {
        return { ...base, type: 'enum', symbols: [...node.symbols], ...(node.default !== undefined ? { default: node.default } : {}) };
      }
      if (node.kind === 'fixed') return { ...base, type: 'fixed', size: node.size };
      return {
        ...base,
        type: node.typeKeyword,
        fields: node.fields.map((f) => ({
          ...attrsObject(f.attrs),
          name: f.name,
          type: toAvscSchema(f.type, defined),
          order: f.order,
          aliases: [...f.aliases],
          ...(f.hasDefault ? { default: f.defaultValue } : {}),
        })),
      };
    }
  }
}

function attrsObject(attrs: Attributes): { [key: string]: JsonValue } {
  // Object.fromEntries defines properties, so a "__proto__" attribute stays an ordinary key.
  return Object.fromEntries(attrs);
}

// ---------------------------------------------------------------------------------------------------------
// Name resolution

const NAME_PART = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PRIMITIVES: ReadonlySet<string> = new Set(PRIMITIVE_TYPES);

function isPrimitiveName(name: string): name is PrimitiveName {
  return PRIMITIVES.has(name);
}

function fail(message: string): never {
  throw new SchemaParseError(message);
}

interface Scope {
  readonly namespace: string;
  readonly named: Map<string, NamedNode>;
}

/** Resolves schema JSON into a node graph with fully-qualified names, per the Avro specification. */
export function resolveSchema(schema: AvroSchema): SchemaNode {
  assertValueDepth(schema, MAX_SCHEMA_DEPTH);
  return resolveNode(schema as JsonValue, { namespace: '', named: new Map() }, false);
}

function resolveNode(json: JsonValue, scope: Scope, inUnion: boolean): SchemaNode {
  if (typeof json === 'string') return resolveName(json, scope);
  if (Array.isArray(json)) {
    if (inUnion) fail('a union may not directly contain another union');
    return { kind: 'union', branches: json.map((b) => resolveNode(b, scope, true)) };
  }
  if (json === null || typeof json !== 'object') fail(`not a schema: ${short(json)}`);
  const type = json.type;
  if (typeof type !== 'string') fail(`a schema object needs a string "type": ${short(json)}`);
  if (isPrimitiveName(type)) return { kind: 'primitive', type, attrs: pickAttrs(json, ['type']) };
  switch (type) {
    case 'record':
    case 'error':
      return resolveRecord(json, type, scope);
    case 'enum':
      return resolveEnum(json, scope);
    case 'fixed':
      return resolveFixed(json, scope);
    case 'array':
      if (!('items' in json)) fail('an array schema needs "items"');
      return { kind: 'array', items: resolveNode(json.items, scope, false), attrs: pickAttrs(json, ['type', 'items']) };
    case 'map':
      if (!('values' in json)) fail('a map schema needs "values"');
      return { kind: 'map', values: resolveNode(json.values, scope, false), attrs: pickAttrs(json, ['type', 'values']) };
    default:
      // {"type": "SomeName"} refers to a named type, as Java's parser allows.
      return resolveName(type, scope);
  }
}

function resolveName(name: string, scope: Scope): SchemaNode {
  if (isPrimitiveName(name)) return { kind: 'primitive', type: name, attrs: new Map() };
  const found = scope.named.get(qualify(name, scope.namespace)) ?? scope.named.get(name);
  if (!found) fail(`unknown type "${name}" (named types must be defined before they are used)`);
  return found;
}

function qualify(name: string, namespace: string): string {
  return name.includes('.') || namespace === '' ? name : `${namespace}.${name}`;
}

function checkFullName(fullName: string, what: string): void {
  if (!fullName.split('.').every((part) => NAME_PART.test(part))) fail(`invalid ${what}: "${fullName}"`);
}

interface NamedHeader {
  fullName: string;
  shortName: string;
  namespace: string;
  aliases: string[];
}

function resolveHeader(json: { [key: string]: JsonValue }, scope: Scope, kind: string): NamedHeader {
  const name = json.name;
  if (typeof name !== 'string' || name === '') fail(`a ${kind} schema needs a "name"`);
  const ns = json.namespace;
  if (ns !== undefined && ns !== null && typeof ns !== 'string') fail(`the namespace of "${name}" must be a string`);
  // A dotted name is already full and its namespace attribute is ignored (spec: "Names").
  const fullName = name.includes('.') ? name : qualify(name, typeof ns === 'string' ? ns : scope.namespace);
  checkFullName(fullName, `${kind} name`);
  const dot = fullName.lastIndexOf('.');
  const namespace = dot < 0 ? '' : fullName.slice(0, dot);
  const shortName = fullName.slice(dot + 1);
  if (isPrimitiveName(shortName)) fail(`a ${kind} may not be named after the primitive type "${shortName}"`);
  if (scope.named.has(fullName)) fail(`the type "${fullName}" is defined twice`);
  const aliases = stringList(json.aliases, `aliases of "${fullName}"`).map((a) => qualify(a, namespace));
  aliases.forEach((a) => checkFullName(a, `alias of "${fullName}"`));
  return { fullName, shortName, namespace, aliases };
}

function resolveRecord(json: { [key: string]: JsonValue }, keyword: 'record' | 'error', scope: Scope): RecordNode {
  const header = resolveHeader(json, scope, 'record');
  if (!Array.isArray(json.fields)) fail(`the record "${header.fullName}" needs a "fields" array`);
  const fields: FieldNode[] = [];
  const node: RecordNode = {
    kind: 'record',
    typeKeyword: keyword,
    ...header,
    fields,
    attrs: pickAttrs(json, ['type', 'name', 'namespace', 'aliases', 'fields']),
  };
  // Registered before the fields so they can refer back to the record (recursive types).
  scope.named.set(header.fullName, node);
  const inner: Scope = { namespace: header.namespace, named: scope.named };
  for (const f of json.fields) fields.push(resolveField(f, inner, header.fullName));
  return node;
}

function resolveField(json: JsonValue, scope: Scope, record: string): FieldNode {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail(`a field of "${record}" is not an object`);
  const name = json.name;
  if (typeof name !== 'string' || !NAME_PART.test(name)) fail(`invalid field name in "${record}": ${short(name ?? null)}`);
  if (!('type' in json)) fail(`the field "${record}.${name}" needs a "type"`);
  const order = json.order ?? 'ascending';
  if (order !== 'ascending' && order !== 'descending' && order !== 'ignore') {
    fail(`invalid order for the field "${record}.${name}": ${short(order)}`);
  }
  return {
    name,
    type: resolveNode(json.type, scope, false),
    hasDefault: 'default' in json,
    defaultValue: 'default' in json ? json.default : null,
    order,
    aliases: stringList(json.aliases, `aliases of the field "${record}.${name}"`),
    attrs: pickAttrs(json, ['name', 'type', 'default', 'order', 'aliases']),
  };
}

function resolveEnum(json: { [key: string]: JsonValue }, scope: Scope): EnumNode {
  const header = resolveHeader(json, scope, 'enum');
  const symbols = stringList(json.symbols, `symbols of "${header.fullName}"`);
  if (json.default !== undefined && typeof json.default !== 'string') fail(`the default of "${header.fullName}" must be a symbol`);
  const node: EnumNode = {
    kind: 'enum',
    ...header,
    symbols,
    ...(typeof json.default === 'string' ? { default: json.default } : {}),
    attrs: pickAttrs(json, ['type', 'name', 'namespace', 'aliases', 'symbols', 'default']),
  };
  scope.named.set(header.fullName, node);
  return node;
}

function resolveFixed(json: { [key: string]: JsonValue }, scope: Scope): FixedNode {
  const header = resolveHeader(json, scope, 'fixed');
  const size = json.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) fail(`invalid size for the fixed "${header.fullName}"`);
  const node: FixedNode = {
    kind: 'fixed',
    ...header,
    size,
    attrs: pickAttrs(json, ['type', 'name', 'namespace', 'aliases', 'size']),
  };
  scope.named.set(header.fullName, node);
  return node;
}

function stringList(value: JsonValue | undefined, what: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) fail(`${what} must be an array of strings`);
  return value;
}

function pickAttrs(json: { [key: string]: JsonValue }, structural: readonly string[]): Attributes {
  return new Map(Object.entries(json).filter(([key]) => !structural.includes(key)));
}

function short(value: JsonValue): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

// ---------------------------------------------------------------------------------------------------------
// Canonical form

/** Attributes first in this order, then any others sorted; fixed so formatting never changes identity. */
const KEY_ORDER = [
  'name', 'type', 'fields', 'symbols', 'items', 'values', 'size', 'default', 'order', 'aliases',
  'logicalType', 'precision', 'scale', 'doc',
];

/**
 * The registry's identity form: full names, no namespace attributes, bare primitives, fixed key order,
 * no whitespace; every semantically relevant attribute (defaults, doc, logical types, custom ones) kept.
 */
export function canonicalSchemaString(schema: AvroSchema): string {
  return canonicalNode(resolveSchema(schema), new Set());
}

/** sha256 (hex) of the canonical form. */
export function fingerprintOf(schema: AvroSchema): string {
  return createHash('sha256').update(canonicalSchemaString(schema), 'utf8').digest('hex');
}

function canonicalNode(node: SchemaNode, defined: Set<NamedNode>): string {
  switch (node.kind) {
    case 'primitive':
      return node.attrs.size === 0 ? JSON.stringify(node.type) : object(node.attrs, [['type', JSON.stringify(node.type)]]);
    case 'array':
      return object(node.attrs, [['type', '"array"'], ['items', canonicalNode(node.items, defined)]]);
    case 'map':
      return object(node.attrs, [['type', '"map"'], ['values', canonicalNode(node.values, defined)]]);
    case 'union':
      return `[${node.branches.map((b) => canonicalNode(b, defined)).join(',')}]`;
    default:
      if (defined.has(node)) return JSON.stringify(node.fullName);
      defined.add(node);
      return canonicalNamed(node, defined);
  }
}

function canonicalNamed(node: NamedNode, defined: Set<NamedNode>): string {
  const entries: Array<[string, string]> = [['name', JSON.stringify(node.fullName)]];
  if (node.aliases.length > 0) entries.push(['aliases', canonicalJson(sortedUnique(node.aliases))]);
  if (node.kind === 'record') {
    entries.push(['type', JSON.stringify(node.typeKeyword)]);
    entries.push(['fields', `[${node.fields.map((f) => canonicalField(f, defined)).join(',')}]`]);
  } else if (node.kind === 'enum') {
    entries.push(['type', '"enum"'], ['symbols', canonicalJson([...node.symbols])]);
    if (node.default !== undefined) entries.push(['default', JSON.stringify(node.default)]);
  } else {
    entries.push(['type', '"fixed"'], ['size', JSON.stringify(node.size)]);
  }
  return object(node.attrs, entries);
}

function canonicalField(field: FieldNode, defined: Set<NamedNode>): string {
  const entries: Array<[string, string]> = [
    ['name', JSON.stringify(field.name)],
    ['type', canonicalNode(field.type, defined)],
  ];
  if (field.hasDefault) entries.push(['default', canonicalJson(field.defaultValue)]);
  // "ascending" is the default order, so stating it does not make a different schema.
  if (field.order !== 'ascending') entries.push(['order', JSON.stringify(field.order)]);
  if (field.aliases.length > 0) entries.push(['aliases', canonicalJson(sortedUnique(field.aliases))]);
  return object(field.attrs, entries);
}

function object(attrs: Attributes, structural: Array<[string, string]>): string {
  const all = new Map<string, string>(structural);
  for (const [key, value] of attrs) if (!all.has(key)) all.set(key, canonicalJson(value));
  const rank = (key: string): number => {
    const i = KEY_ORDER.indexOf(key);
    return i < 0 ? KEY_ORDER.length : i;
  };
  const keys = [...all.keys()].sort((a, b) => rank(a) - rank(b) || compareStrings(a, b));
  return `{${keys.map((k) => `${JSON.stringify(k)}:${all.get(k)}`).join(',')}}`;
}

/** JSON with object keys sorted, for default values and custom attributes. */
export function canonicalJson(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort(compareStrings);
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function sortedUnique(values: readonly string[]): string[] {
  return [...new Set(values)].sort(compareStrings);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
