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
 * | record, map, other arrays, unions | String holding JSON                          |
 * Every table also has _topic, _partition, _offset, _timestamp, _key (the names ClickHouse's
 * Kafka engine uses).
 */

import { namedTypes } from '../../../schemas/conform.ts';
import type { AvroRecordSchema } from '../../sink.ts';

export interface Capabilities {
  version: string;
  /** DateTime64 exists from ClickHouse 20.1; 18.16 has DateTime (seconds) only. */
  dateTime64: boolean;
}

export interface Column {
  name: string;
  type: string;
  /** Avro value → the value JSONEachRow expects for this column. */
  convert: (value: unknown) => unknown;
}

interface Mapped {
  type: string;
  convert: (value: unknown) => unknown;
  /** May be wrapped in Nullable (ClickHouse forbids Nullable(Array), Nullable(Nullable)). */
  nullable: boolean;
  /** May be an Array element. */
  scalar: boolean;
  empty?: unknown;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

export function formatDateTime(ms: number, caps: Capabilities): string {
  const d = new Date(ms);
  const base = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return caps.dateTime64 ? `${base}.${pad(d.getUTCMilliseconds(), 3)}` : base;
}

export function dateTimeType(caps: Capabilities): string {
  return caps.dateTime64 ? "DateTime64(3, 'UTC')" : "DateTime('UTC')";
}

function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    Buffer.isBuffer(v) ? v.toString('base64') : typeof v === 'bigint' ? v.toString() : v,
  );
}

/** JSON text in a String column; it may still be made Nullable by an enclosing ["null", …]. */
const json = (nullable: boolean): Mapped => ({
  type: nullable ? 'Nullable(String)' : 'String',
  convert: (v) => (v === null || v === undefined ? (nullable ? null : '') : toJson(v)),
  nullable: !nullable,
  scalar: false,
});

const scalar = (type: string, convert: (v: unknown) => unknown = (v) => v): Mapped => ({
  type,
  convert,
  nullable: true,
  scalar: true,
});

function map(nodeIn: unknown, caps: Capabilities, names: Map<string, unknown>): Mapped {
  const node = typeof nodeIn === 'string' && names.has(nodeIn) ? names.get(nodeIn) : nodeIn;
  if (Array.isArray(node)) {
    const branches = node.filter((b) => b !== 'null');
    const hasNull = branches.length < node.length;
    if (branches.length !== 1) return json(hasNull);
    const inner = map(branches[0], caps, names);
    if (!hasNull) return inner;
    if (inner.nullable) {
      return {
        type: `Nullable(${inner.type})`,
        convert: (v) => (v === null || v === undefined ? null : inner.convert(v)),
        nullable: false,
        scalar: true,
      };
    }
    return {
      ...inner,
      convert: (v) => (v === null || v === undefined ? (inner.empty ?? null) : inner.convert(v)),
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
        ? scalar('Date', (v) => new Date(Number(v) * 86_400_000).toISOString().slice(0, 10))
        : scalar('Int32');
    case 'long':
      if (logical === 'timestamp-millis')
        return scalar(dateTimeType(caps), (v) => formatDateTime(Number(v), caps));
      if (logical === 'timestamp-micros')
        return scalar(dateTimeType(caps), (v) => formatDateTime(Math.floor(Number(v) / 1000), caps));
      return scalar('Int64');
    case 'float':
      return scalar('Float32');
    case 'double':
      return scalar('Float64');
    case 'boolean':
      return scalar('UInt8', (v) => (v ? 1 : 0));
    case 'array': {
      const item = map((node as { items: unknown }).items, caps, names);
      if (!item.scalar) return json(false);
      return {
        type: `Array(${item.type})`,
        convert: (v) => (Array.isArray(v) ? v.map((x) => item.convert(x)) : []),
        nullable: false,
        scalar: false,
        empty: [],
      };
    }
    default:
      return json(false); // record, map
  }
}

/** The columns of a record schema, in field order. */
export function columnsOf(schema: AvroRecordSchema, caps: Capabilities): Column[] {
  const names = namedTypes(schema);
  return schema.fields.map((field) => {
    const mapped = map(field.type, caps, names);
    return { name: field.name, type: mapped.type, convert: mapped.convert };
  });
}

export const METADATA_COLUMNS = (caps: Capabilities): { name: string; type: string }[] => [
  { name: '_topic', type: 'String' },
  { name: '_partition', type: 'Int32' },
  { name: '_offset', type: 'Int64' },
  { name: '_timestamp', type: dateTimeType(caps) },
  { name: '_key', type: 'String' },
];

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
): string {
  const all = [...columns, ...METADATA_COLUMNS(caps)];
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
 *  - `latest`: an entity topic — the latest state per key (by record time, then offset);
 *  - `identity`: an event topic whose events carry their own id — each id once (the first
 *    delivery), so a message seen by both webhook and poll, or a redelivered event, counts once;
 *  - `offset`: anything else — each (topic, partition, offset) once.
 */
export type DedupPolicy = { kind: 'latest' } | { kind: 'identity'; field: string } | { kind: 'offset' };

/** The view queries use; every policy also hides rows redelivered after a crash (FINAL). */
export function createViewSql(
  database: string,
  table: string,
  policy: DedupPolicy = { kind: 'offset' },
): string {
  const source = `SELECT * FROM ${quoteIdent(database)}.${quoteIdent(table)} FINAL`;
  const query =
    policy.kind === 'latest'
      ? `${source} ORDER BY _key, _timestamp DESC, _offset DESC LIMIT 1 BY _key`
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

export const OFFSETS_TABLE = '_chatstream_offsets';

export function createOffsetsTableSql(database: string): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(database)}.${OFFSETS_TABLE} (\`group\` String, topic String, partition Int32, offset Int64, updated DateTime) ENGINE = ReplacingMergeTree(updated) ORDER BY (\`group\`, topic, partition)`;
}
