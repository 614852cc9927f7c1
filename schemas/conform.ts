/**
 * Source JSON → a value an Avro schema can encode. Pure.
 *
 * Lenient where no information is lost (numbers into string ids, ISO-8601 or epoch numbers
 * into timestamp-millis, objects into JSON-text strings, missing optional fields → default);
 * strict where it would be (a word into a number field, a missing required field). It also
 * reports the source fields the schema lacks, which the contract modes act on.
 */

type Json = unknown;
type AvroNode = unknown;

interface FieldSchema {
  name: string;
  type: AvroNode;
  default?: unknown;
  /** Set by schema evolution when the source name is not a valid Avro name. */
  source_name?: string;
}

export interface ConformResult {
  value: unknown;
  /** Paths (a, a.b, a[].b) of source fields the schema lacks, with their values. */
  unknown: { path: string; value: Json }[];
  /** Values that do not fit their field; the record cannot be encoded. */
  errors: string[];
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** Epoch milliseconds from an ISO-8601 string or an epoch number (below 1e11: seconds). */
export function toEpochMillis(value: Json): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value))
    return Math.round(value < 1e11 ? value * 1000 : value);
  if (typeof value === 'string' && ISO_DATE.test(value.trim())) {
    const ms = Date.parse(value.trim());
    return Number.isNaN(ms) ? undefined : ms;
  }
  if (typeof value === 'string' && /^\d+$/.test(value)) return toEpochMillis(Number(value));
  return undefined;
}

const isObject = (v: Json): v is Record<string, Json> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Named types (records, enums, fixed) by full and short name, so references resolve. */
export function namedTypes(
  schema: AvroNode,
  into = new Map<string, AvroNode>(),
  namespace = '',
): Map<string, AvroNode> {
  if (Array.isArray(schema)) {
    for (const branch of schema) namedTypes(branch, into, namespace);
    return into;
  }
  if (!isObject(schema)) return into;
  if (typeof schema.name === 'string' && ['record', 'enum', 'fixed'].includes(String(schema.type))) {
    const full =
      schema.name.includes('.') || !schema.namespace ? schema.name : `${schema.namespace}.${schema.name}`;
    const ns =
      typeof schema.namespace === 'string'
        ? schema.namespace
        : full.includes('.')
          ? full.slice(0, full.lastIndexOf('.'))
          : namespace;
    into.set(full, schema);
    into.set(full.slice(full.lastIndexOf('.') + 1), schema);
    for (const field of (schema.fields as FieldSchema[] | undefined) ?? []) namedTypes(field.type, into, ns);
  } else if (schema.type === 'array') namedTypes(schema.items, into, namespace);
  else if (schema.type === 'map') namedTypes(schema.values, into, namespace);
  else if (isObject(schema.type) || Array.isArray(schema.type)) namedTypes(schema.type, into, namespace);
  return into;
}

interface FieldPlan {
  name: string;
  source: string;
  type: AvroNode;
  hasDefault: boolean;
  default: unknown;
}

/** Per record schema: its fields with their source names, and the set of those names. */
const plans = new WeakMap<object, { fields: FieldPlan[]; known: Set<string> }>();

function recordPlan(node: { fields: FieldSchema[] }): { fields: FieldPlan[]; known: Set<string> } {
  let plan = plans.get(node);
  if (!plan) {
    const fields = node.fields.map((f) => ({
      name: f.name,
      source: f.source_name ?? f.name,
      type: f.type,
      hasDefault: f.default !== undefined,
      default: f.default,
    }));
    plan = { fields, known: new Set(fields.map((f) => f.source)) };
    plans.set(node, plan);
  }
  return plan;
}

/** Defaults are shared by every record: hand out fresh empty lists and maps. */
function structuredDefault(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : structuredClone(value);
  if (typeof value === 'object' && value !== null)
    return Object.keys(value).length === 0 ? {} : structuredClone(value);
  return value;
}

/** Named-type tables per schema object: building one walks the whole schema. */
const namesCache = new WeakMap<object, Map<string, AvroNode>>();

function namesOf(schema: AvroNode): Map<string, AvroNode> {
  if (typeof schema !== 'object' || schema === null) return namedTypes(schema);
  let names = namesCache.get(schema);
  if (!names) {
    names = namedTypes(schema);
    namesCache.set(schema, names);
  }
  return names;
}

export function conform(schema: AvroNode, value: Json): ConformResult {
  const names = namesOf(schema);
  const unknown: ConformResult['unknown'] = [];
  const errors: string[] = [];

  const resolve = (node: AvroNode): AvroNode =>
    typeof node === 'string' && names.has(node) ? names.get(node) : node;

  const fail = (path: string, message: string) => {
    errors.push(`${path || '(record)'}: ${message}`);
    return undefined;
  };

  /** Whether a value fits a type, without recording anything. */
  const fits = (node: AvroNode, v: Json, path: string): boolean => {
    const [errorCount, unknownCount] = [errors.length, unknown.length];
    walk(node, v, path, false);
    const ok = errors.length === errorCount;
    errors.length = errorCount;
    unknown.length = unknownCount;
    return ok;
  };

  const walk = (nodeIn: AvroNode, v: Json, path: string, report: boolean): unknown => {
    const node = resolve(nodeIn);
    if (Array.isArray(node)) {
      if (v === null || v === undefined) return node.includes('null') ? null : fail(path, 'is required');
      const branches = node.filter((b) => b !== 'null');
      // ["null", T] needs no probing; a real union takes the first branch the value fits.
      const fitting =
        branches.length === 1
          ? branches[0]
          : (branches.find((branch) => fits(branch, v, path)) ?? branches[0]);
      return walk(fitting, v, path, report);
    }
    if (typeof node === 'string') return primitive(node, v, path);
    if (!isObject(node)) return fail(path, `unknown type ${JSON.stringify(node)}`);
    if (node.logicalType === 'timestamp-millis') {
      const ms = toEpochMillis(v);
      return ms === undefined
        ? fail(path, `expected a timestamp (ISO-8601 or epoch), got ${JSON.stringify(v)}`)
        : ms;
    }
    switch (node.type) {
      case 'record':
        return record(node as { fields: FieldSchema[] }, v, path, report);
      case 'array':
        if (v === null || v === undefined) return [];
        if (!Array.isArray(v)) return fail(path, `expected a list, got ${JSON.stringify(v)}`);
        return v.map((item) => walk(node.items, item, `${path}[]`, report));
      case 'map':
        if (v === null || v === undefined) return {};
        if (!isObject(v)) return fail(path, `expected an object, got ${JSON.stringify(v)}`);
        return Object.fromEntries(
          Object.entries(v).map(([k, item]) => [k, walk(node.values, item, `${path}.${k}`, false)]),
        );
      case 'enum':
        if (typeof v === 'string' && (node.symbols as string[]).includes(v)) return v;
        if (typeof node.default === 'string') return node.default;
        return fail(
          path,
          `expected one of ${(node.symbols as string[]).join(', ')}, got ${JSON.stringify(v)}`,
        );
      default:
        return walk(node.type, v, path, report);
    }
  };

  const record = (node: { fields: FieldSchema[] }, v: Json, path: string, report: boolean): unknown => {
    if (!isObject(v)) return fail(path, `expected an object, got ${JSON.stringify(v)}`);
    const { fields, known } = recordPlan(node);
    const out: Record<string, unknown> = {};
    for (const field of fields) {
      const raw = v[field.source];
      if (raw === undefined && field.hasDefault) out[field.name] = structuredDefault(field.default);
      else out[field.name] = walk(field.type, raw, path ? `${path}.${field.source}` : field.source, report);
    }
    if (report) {
      for (const key in v) {
        if (!known.has(key) && v[key] !== undefined)
          unknown.push({ path: path ? `${path}.${key}` : key, value: v[key] });
      }
    }
    return out;
  };

  const primitive = (type: string, v: Json, path: string): unknown => {
    if (v === undefined || v === null) return type === 'null' ? null : fail(path, 'is required');
    switch (type) {
      case 'string':
        return typeof v === 'string'
          ? v
          : typeof v === 'number' || typeof v === 'boolean'
            ? String(v)
            : JSON.stringify(v);
      case 'boolean':
        if (typeof v === 'boolean') return v;
        if (v === 'true' || v === 'false') return v === 'true';
        return fail(path, `expected true or false, got ${JSON.stringify(v)}`);
      case 'int':
      case 'long': {
        const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
        if (typeof n === 'number' && Number.isSafeInteger(n)) return n;
        return fail(path, `expected a whole number, got ${JSON.stringify(v)}`);
      }
      case 'float':
      case 'double': {
        const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
        if (typeof n === 'number' && Number.isFinite(n)) return n;
        return fail(path, `expected a number, got ${JSON.stringify(v)}`);
      }
      case 'bytes':
        return typeof v === 'string'
          ? Buffer.from(v)
          : fail(path, `expected bytes as a string, got ${JSON.stringify(v)}`);
      case 'null':
        return fail(path, `expected null, got ${JSON.stringify(v)}`);
      default:
        return fail(path, `unknown type ${type}`);
    }
  };

  const result = walk(schema, value, '', true);
  return { value: result, unknown, errors };
}
