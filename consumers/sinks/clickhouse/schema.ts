/**
 * Avro schema → ClickHouse columns and DDL. Pure, so it is unit-tested.
 *
 * | Avro                              | ClickHouse                                   |
 * |-----------------------------------|----------------------------------------------|
 * | string, enum                      | String                                       |
 * | bytes, fixed                      | String (base64)                              |
 * | int / long / float / double       | Int32 / Int64 / Float32 / Float64            |
 * | boolean                           | UInt8 (0/1)                                  |
 * | long timestamp-millis/-micros     | DateTime64(3) (DateTime, seconds, on 18.16)  |
 * | int date                          | Date                                         |
 * | ["null", T]                       | Nullable(T); a list stays a list, empty for null |
 * | array of the above                | Array(T)                                     |
 * | record, map, other arrays         | String holding JSON                          |
 * | other unions                      | String: a string as itself, anything else JSON |
 * Every table also has _topic, _partition, _offset, _timestamp, _key (the names ClickHouse's
 * Kafka engine uses), and an entity table `_deleted` (1 for a tombstone).
 *
 * Values a column cannot hold are refused here, per value (the row goes to the dead letters):
 * ClickHouse 18.16 stores an out-of-range date as 0000-00-00 without a word.
 */

import { namedTypes } from '../../../schemas/conform.ts';
import type { AvroRecordSchema } from '../../sink.ts';
import { holdsBytes, toJson, toPlainJson } from './json.ts';

export interface Capabilities {
  version: string;
  /** DateTime64 exists from ClickHouse 20.1; 18.16 has DateTime (seconds) only. */
  dateTime64: boolean;
  /** Days since 1970 a Date holds (18.16: 1970-01-01 … 2105-12-31, measured). */
  dateDays: readonly [number, number];
  /** Epoch milliseconds the time type holds (18.16's DateTime: 1970 … 2105-12-31 23:59:59). */
  timeMs: readonly [number, number];
}

export interface Column {
  name: string;
  type: string;
  /** Avro value → the value JSONEachRow expects for this column. */
  convert: (value: unknown) => unknown;
  /**
   * Avro value → the checked value the RowBinary writer takes (rowbinary.ts): days for a Date,
   * epoch ms for a time, 0/1, base64 and JSON text as strings, null, arrays of these.
   */
  native: (value: unknown) => unknown;
}

interface Mapped {
  type: string;
  convert: (value: unknown) => unknown;
  native: (value: unknown) => unknown;
  /** May be wrapped in Nullable (ClickHouse forbids Nullable(Array), Nullable(Nullable)). */
  nullable: boolean;
  /** May be an Array element. */
  scalar: boolean;
  empty?: unknown;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** The largest record time a DateTime holds (2106-02-07 06:28:15 UTC), in ms. */
const MAX_DATETIME_MS = 4_294_967_295_000;

/**
 * A Kafka record time as `_timestamp` holds it, the same in both insert formats (a row written
 * again must land in the same partition): -1 (no time) and earlier → 1970, past 2106 → 2106.
 */
export const recordTime = (ms: number): number => Math.min(Math.max(0, ms), MAX_DATETIME_MS);

export function formatDateTime(ms: number, caps: Capabilities): string {
  const d = new Date(ms);
  const base = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return caps.dateTime64 ? `${base}.${pad(d.getUTCMilliseconds(), 3)}` : base;
}

export function dateTimeType(caps: Capabilities): string {
  return caps.dateTime64 ? "DateTime64(3, 'UTC')" : "DateTime('UTC')";
}

const DAY_MS = 86_400_000;
/** A JavaScript Date holds ±8.64e15 ms; beyond, there is no calendar date to name. */
const describeMs = (ms: number) =>
  Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${ms} ms`;

function checkedDays(days: number, caps: Capabilities): number {
  const [min, max] = caps.dateDays;
  if (!(Number.isInteger(days) && days >= min && days <= max)) {
    const at = Number.isFinite(days) && Math.abs(days * DAY_MS) <= 8.64e15;
    throw new RangeError(
      `date ${at ? new Date(days * DAY_MS).toISOString().slice(0, 10) : `(day ${days})`} is out of range for ClickHouse Date (${new Date(min * DAY_MS).toISOString().slice(0, 10)} … ${new Date(max * DAY_MS).toISOString().slice(0, 10)})`,
    );
  }
  return days;
}

const formatDate = (days: number) => new Date(days * DAY_MS).toISOString().slice(0, 10);

function checkedMs(ms: number, caps: Capabilities): number {
  const [min, max] = caps.timeMs;
  if (!(ms >= min && ms <= max))
    throw new RangeError(
      `time ${describeMs(ms)} is out of range for ClickHouse ${dateTimeType(caps)} (${describeMs(min)} … ${describeMs(max)})`,
    );
  return ms;
}

/**
 * JSON text in a String column; it may still be made Nullable by an enclosing ["null", …].
 * A string (a union's string branch) is kept as itself, so a string field that a later schema
 * widens to a union keeps writing the same text.
 */
const json = (nullable: boolean, bytes = true): Mapped => {
  const stringify = bytes ? toJson : toPlainJson;
  const convert = (v: unknown) =>
    v === null || v === undefined ? (nullable ? null : '') : typeof v === 'string' ? v : stringify(v);
  return {
    type: nullable ? 'Nullable(String)' : 'String',
    convert,
    native: convert,
    nullable: !nullable,
    scalar: false,
  };
};

const same = (v: unknown) => v;

/** A scalar column: `native` checks and converts, `format` makes JSONEachRow's value of it. */
const scalar = (
  type: string,
  native: (v: unknown) => unknown = same,
  format?: (n: never) => unknown,
): Mapped => ({
  type,
  convert: format ? (v) => format(native(v) as never) : native,
  native,
  nullable: true,
  scalar: true,
});

function map(nodeIn: unknown, caps: Capabilities, names: Map<string, unknown>): Mapped {
  const node = typeof nodeIn === 'string' && names.has(nodeIn) ? names.get(nodeIn) : nodeIn;
  if (Array.isArray(node)) {
    const branches = node.filter((b) => b !== 'null');
    const hasNull = branches.length < node.length;
    if (branches.length !== 1) return json(hasNull, holdsBytes(branches, names));
    const inner = map(branches[0], caps, names);
    if (!hasNull) return inner;
    if (inner.nullable) {
      return {
        type: `Nullable(${inner.type})`,
        convert: (v) => (v === null || v === undefined ? null : inner.convert(v)),
        native: (v) => (v === null || v === undefined ? null : inner.native(v)),
        nullable: false,
        scalar: true,
      };
    }
    return {
      ...inner,
      convert: (v) => (v === null || v === undefined ? (inner.empty ?? null) : inner.convert(v)),
      native: (v) => (v === null || v === undefined ? (inner.empty ?? null) : inner.native(v)),
    };
  }
  const type = typeof node === 'string' ? node : (node as { type?: unknown })?.type;
  const logical =
    typeof node === 'object' && node !== null ? (node as { logicalType?: string }).logicalType : undefined;
  if (typeof type === 'object') return map(type, caps, names);
  switch (type) {
    case 'string':
    case 'enum':
      return scalar('String', (v) => String(v));
    case 'bytes':
    case 'fixed':
      return scalar('String', (v) => (Buffer.isBuffer(v) ? v.toString('base64') : String(v)));
    case 'int':
      return logical === 'date'
        ? scalar('Date', (v) => checkedDays(Number(v), caps), formatDate)
        : scalar('Int32');
    case 'long': {
      const time = (ms: number) => formatDateTime(ms, caps);
      if (logical === 'timestamp-millis')
        return scalar(dateTimeType(caps), (v) => checkedMs(Number(v), caps), time);
      if (logical === 'timestamp-micros')
        return scalar(dateTimeType(caps), (v) => checkedMs(Math.floor(Number(v) / 1000), caps), time);
      return scalar('Int64');
    }
    case 'float':
      return scalar('Float32');
    case 'double':
      return scalar('Float64');
    case 'boolean':
      return scalar('UInt8', (v) => (v ? 1 : 0));
    case 'array': {
      const item = map((node as { items: unknown }).items, caps, names);
      if (!item.scalar) return json(false, holdsBytes(node, names));
      return {
        type: `Array(${item.type})`,
        convert: (v) => (Array.isArray(v) ? v.map((x) => item.convert(x)) : []),
        native: (v) => (Array.isArray(v) ? v.map((x) => item.native(x)) : []),
        nullable: false,
        scalar: false,
        empty: [],
      };
    }
    default:
      return json(false, holdsBytes(node, names)); // record, map
  }
}

/** The columns of a record schema, in field order. */
export function columnsOf(schema: AvroRecordSchema, caps: Capabilities): Column[] {
  const names = namedTypes(schema);
  return schema.fields.map((field) => {
    const mapped = map(field.type, caps, names);
    return { name: field.name, type: mapped.type, convert: mapped.convert, native: mapped.native };
  });
}

export const METADATA_COLUMNS = (caps: Capabilities): { name: string; type: string }[] => [
  { name: '_topic', type: 'String' },
  { name: '_partition', type: 'Int32' },
  { name: '_offset', type: 'Int64' },
  { name: '_timestamp', type: dateTimeType(caps) },
  { name: '_key', type: 'String' },
];

/** 1 on a tombstone's row (a null Kafka value: the key was deleted), in entity tables. */
export const DELETED_COLUMN = { name: '_deleted', type: 'UInt8' };

/** The metadata columns of a table read with this policy. */
export function metadataColumns(
  caps: Capabilities,
  policy: DedupPolicy = { kind: 'offset' },
): { name: string; type: string }[] {
  const tombstones = policy.kind === 'latest' && policy.tombstones === true;
  return tombstones ? [...METADATA_COLUMNS(caps), DELETED_COLUMN] : METADATA_COLUMNS(caps);
}

export const quoteIdent = (name: string) => `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
export const quoteString = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** ClickHouse table name for a topic: letters, digits and underscores. */
export function tableName(topic: string): string {
  return topic.replace(/[^A-Za-z0-9_]/g, '_');
}

export function createTableSql(
  database: string,
  table: string,
  columns: { name: string; type: string }[],
  caps: Capabilities,
  policy: DedupPolicy = { kind: 'offset' },
): string {
  const all = [...columns, ...metadataColumns(caps, policy)];
  return [
    `CREATE TABLE IF NOT EXISTS ${quoteIdent(database)}.${quoteIdent(table)} (`,
    all.map((c) => `  ${quoteIdent(c.name)} ${c.type}`).join(',\n'),
    ') ENGINE = ReplacingMergeTree()',
    'PARTITION BY toYYYYMM(_timestamp)',
    'ORDER BY (_key, _topic, _partition, _offset)',
  ].join('\n');
}

/**
 * How the `_dedup` view reads a topic (from the record kind in schemas/catalog.ts):
 *  - `latest`: the latest state per key (by record time, then offset); with `tombstones` (an
 *    entity topic, compacted) a key whose latest record is a tombstone is not shown;
 *  - `identity`: an event topic whose events carry their own id — each id once (the first
 *    delivery), so a message seen by both webhook and poll, or a redelivered event, counts once;
 *  - `offset`: anything else — each (topic, partition, offset) once.
 */
export type DedupPolicy =
  | { kind: 'latest'; tombstones?: boolean }
  | { kind: 'identity'; field: string }
  | { kind: 'offset' };

/** The view queries use; every policy also hides rows redelivered after a crash (FINAL). */
export function createViewSql(
  database: string,
  table: string,
  policy: DedupPolicy = { kind: 'offset' },
): string {
  const source = `SELECT * FROM ${quoteIdent(database)}.${quoteIdent(table)} FINAL`;
  const latest = `${source} ORDER BY _key, _timestamp DESC, _offset DESC LIMIT 1 BY _key`;
  const query =
    policy.kind === 'latest'
      ? policy.tombstones
        ? `SELECT * FROM (${latest}) WHERE _deleted = 0`
        : latest
      : policy.kind === 'identity'
        ? `${source} ORDER BY ${quoteIdent(policy.field)}, _timestamp, _offset LIMIT 1 BY ${quoteIdent(policy.field)}`
        : source;
  return `CREATE VIEW IF NOT EXISTS ${quoteIdent(database)}.${quoteIdent(`${table}_dedup`)} AS ${query}`;
}

export function addColumnsSql(
  database: string,
  table: string,
  columns: { name: string; type: string }[],
): string {
  return `ALTER TABLE ${quoteIdent(database)}.${quoteIdent(table)} ${columns.map((c) => `ADD COLUMN ${quoteIdent(c.name)} ${c.type}`).join(', ')}`;
}

/** One ALTER for the columns to add and the columns to widen. */
export function alterColumnsSql(
  database: string,
  table: string,
  add: { name: string; type: string }[],
  modify: { name: string; type: string }[],
): string {
  const actions = [
    ...add.map((c) => `ADD COLUMN ${quoteIdent(c.name)} ${c.type}`),
    ...modify.map((c) => `MODIFY COLUMN ${quoteIdent(c.name)} ${c.type}`),
  ];
  return `ALTER TABLE ${quoteIdent(database)}.${quoteIdent(table)} ${actions.join(', ')}`;
}

/**
 * What to do when a column of type `have` is to receive values of type `want` (the writer
 * schema's mapping):
 *  - keep: the column holds every such value already (the same type, or a wider one — older
 *    records arriving after a widening);
 *  - modify: widen it with `MODIFY COLUMN` to `type`, which holds every old and new value
 *    exactly (the registry's int→long, int→double, float→double, T→["null",T], element types
 *    of arrays, and DateTime → DateTime64 after a server upgrade);
 *  - refuse: no type holds both without changing values (int→float, long→double lose digits;
 *    string↔number; …): the sink stops and says so.
 */
export type ColumnChange =
  | { action: 'keep' }
  | { action: 'modify'; type: string }
  | { action: 'refuse'; reason: string };

/** Base types and the narrower ones each holds exactly (Float64 also takes Int64 a person chose). */
const HOLDS: Record<string, string[]> = {
  Int64: ['Int32'],
  Float64: ['Float32', 'Int32', 'Int64'],
  "DateTime64(3, 'UTC')": ["DateTime('UTC')"],
};
/** Base types and the wider ones they may be widened to without changing a stored value. */
const WIDENS_TO: Record<string, string[]> = {
  Int32: ['Int64', 'Float64'],
  Float32: ['Float64'],
  "DateTime('UTC')": ["DateTime64(3, 'UTC')"],
};

function unwrap(type: string, wrapper: string): string | undefined {
  const t = type.trim();
  return t.startsWith(`${wrapper}(`) && t.endsWith(')') ? t.slice(wrapper.length + 1, -1).trim() : undefined;
}

/** The narrowest type holding every value of both, if there is one. */
function common(have: string, want: string): string | undefined {
  const h = have.trim();
  const w = want.trim();
  if (h === w) return h;
  const hn = unwrap(h, 'Nullable');
  const wn = unwrap(w, 'Nullable');
  if (hn !== undefined || wn !== undefined) {
    const inner = common(hn ?? h, wn ?? w);
    return inner === undefined || inner.startsWith('Array(') ? undefined : `Nullable(${inner})`;
  }
  const ha = unwrap(h, 'Array');
  const wa = unwrap(w, 'Array');
  if (ha !== undefined || wa !== undefined) {
    if (ha === undefined || wa === undefined) return undefined;
    const inner = common(ha, wa);
    return inner === undefined ? undefined : `Array(${inner})`;
  }
  if (HOLDS[h]?.includes(w)) return h;
  if (WIDENS_TO[h]?.includes(w)) return w;
  return undefined;
}

export function columnChange(have: string, want: string): ColumnChange {
  const target = common(have, want);
  if (target === undefined)
    return {
      action: 'refuse',
      reason: `${have} cannot hold ${want} values, and no type holds both without changing values`,
    };
  return target === have.trim() ? { action: 'keep' } : { action: 'modify', type: target };
}

export const OFFSETS_TABLE = '_chatstream_offsets';

export function createOffsetsTableSql(database: string): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(database)}.${OFFSETS_TABLE} (\`group\` String, topic String, partition Int32, offset Int64, updated DateTime) ENGINE = ReplacingMergeTree(updated) ORDER BY (\`group\`, topic, partition)`;
}
