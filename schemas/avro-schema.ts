/**
 * Avro schema text → a validated schema and its canonical string.
 *
 * The canonical string decides identity: two submissions are the same schema when their
 * canonical strings are equal. It keeps everything that changes meaning (names, types,
 * defaults, aliases, enum defaults, docs, logical types) and drops what does not (white space,
 * attribute order, a namespace spelled separately from the name, `{"type":"int"}` vs `"int"`).
 */
import avro from 'avsc';

export class InvalidSchemaError extends Error {}

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);
/** Attribute order of the canonical form; other attributes follow, sorted. */
const ORDER = [
  'type',
  'name',
  'namespace',
  'doc',
  'fields',
  'symbols',
  'items',
  'values',
  'size',
  'default',
  'aliases',
  'order',
  'logicalType',
];
const FIELD_ORDER = ['name', 'type', 'doc', 'default', 'order', 'aliases'];

function fullName(name: string, namespace: string | undefined): string {
  return name.includes('.') || !namespace ? name : `${namespace}.${name}`;
}

function namespaceOf(full: string): string | undefined {
  const dot = full.lastIndexOf('.');
  return dot > 0 ? full.slice(0, dot) : undefined;
}

function sortKeys(object: Record<string, unknown>, order = ORDER): Record<string, unknown> {
  const keys = Object.keys(object).sort((a, b) => {
    const ia = order.indexOf(a);
    const ib = order.indexOf(b);
    return (ia < 0 ? order.length : ia) - (ib < 0 ? order.length : ib) || a.localeCompare(b);
  });
  return Object.fromEntries(keys.map((k) => [k, object[k]]));
}

function normalize(node: unknown, namespace: string | undefined): unknown {
  if (typeof node === 'string') {
    return PRIMITIVES.has(node) ? node : fullName(node, namespace);
  }
  if (Array.isArray(node)) return node.map((branch) => normalize(branch, namespace));
  if (typeof node !== 'object' || node === null) return node;
  const schema = { ...(node as Record<string, unknown>) };
  const type = schema.type;
  if (typeof type === 'string' && PRIMITIVES.has(type) && Object.keys(schema).length === 1) return type;
  if (type === 'record' || type === 'error' || type === 'enum' || type === 'fixed') {
    const name = fullName(
      String(schema.name),
      typeof schema.namespace === 'string' && schema.namespace ? schema.namespace : namespace,
    );
    const inner = namespaceOf(name);
    delete schema.namespace;
    schema.name = name;
    if (Array.isArray(schema.aliases)) schema.aliases = schema.aliases.map((a) => fullName(String(a), inner));
    if (Array.isArray(schema.fields)) {
      schema.fields = schema.fields.map((field: Record<string, unknown>) =>
        sortKeys({ ...field, type: normalize(field.type, inner) }, FIELD_ORDER),
      );
    }
    return sortKeys(schema);
  }
  if (type === 'array') schema.items = normalize(schema.items, namespace);
  else if (type === 'map') schema.values = normalize(schema.values, namespace);
  else if (typeof type === 'object') schema.type = normalize(type, namespace);
  return sortKeys(schema);
}

export interface ParsedSchema {
  /** The canonical string: stored, returned, and compared for identity. */
  canonical: string;
  type: avro.Type;
}

/** Parses and validates Avro schema text; throws InvalidSchemaError with avsc's reason. */
export function parseAvroSchema(text: string): ParsedSchema {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // Avro allows a bare primitive name, e.g. `string`.
    json = text.trim();
  }
  let type: avro.Type;
  try {
    type = avro.Type.forSchema(json as avro.Schema);
  } catch (error) {
    throw new InvalidSchemaError(
      `Invalid schema ${text.length > 200 ? `${text.slice(0, 200)}…` : text}: ${(error as Error).message}`,
    );
  }
  return { canonical: JSON.stringify(normalize(json, undefined)), type };
}
