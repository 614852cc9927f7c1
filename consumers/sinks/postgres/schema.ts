/**
 * Avro schema → PostgreSQL columns and DDL. Pure.
 *
 * | Avro                          | PostgreSQL        |
 * |-------------------------------|-------------------|
 * | string, enum                  | text              |
 * | bytes, fixed                  | bytea             |
 * | int / long                    | integer / bigint  |
 * | float / double                | real / double precision |
 * | boolean                       | boolean           |
 * | long timestamp-millis/-micros | timestamptz       |
 * | int date                      | date              |
 * | array of the above            | T[]               |
 * | record, map, other unions     | jsonb             |
 * All data columns are nullable (new columns must be); the primary key is
 * (_topic, _partition, _offset), so a redelivered record is ignored on insert.
 */

import { namedTypes } from '../../../schemas/conform.ts';
import type { AvroRecordSchema } from '../../sink.ts';

export interface PgColumn {
  name: string;
  type: string;
  convert: (value: unknown) => unknown;
}

const toJson = (v: unknown) => JSON.stringify(v, (_k, x) => (Buffer.isBuffer(x) ? x.toString('base64') : x));

interface Mapped {
  type: string;
  convert: (v: unknown) => unknown;
  scalar: boolean;
}

const jsonb: Mapped = { type: 'jsonb', convert: toJson, scalar: false };

function mapType(nodeIn: unknown, names: Map<string, unknown>): Mapped {
  const node = typeof nodeIn === 'string' && names.has(nodeIn) ? names.get(nodeIn) : nodeIn;
  if (Array.isArray(node)) {
    const branches = node.filter((b) => b !== 'null');
    return branches.length === 1 ? mapType(branches[0], names) : jsonb;
  }
  const type = typeof node === 'string' ? node : (node as { type?: unknown })?.type;
  const logical =
    typeof node === 'object' && node !== null ? (node as { logicalType?: string }).logicalType : undefined;
  if (typeof type === 'object') return mapType(type, names);
  const scalar = (t: string, convert: (v: unknown) => unknown = (v) => v): Mapped => ({
    type: t,
    convert,
    scalar: true,
  });
  switch (type) {
    case 'string':
    case 'enum':
      return scalar('text', (v) => String(v));
    case 'bytes':
    case 'fixed':
      return scalar('bytea', (v) => (Buffer.isBuffer(v) ? v : Buffer.from(String(v))));
    case 'int':
      return logical === 'date'
        ? scalar('date', (v) => new Date(Number(v) * 86_400_000).toISOString().slice(0, 10))
        : scalar('integer');
    case 'long':
      if (logical === 'timestamp-millis') return scalar('timestamptz', (v) => new Date(Number(v)));
      if (logical === 'timestamp-micros')
        return scalar('timestamptz', (v) => new Date(Math.floor(Number(v) / 1000)));
      return scalar('bigint', (v) => String(v));
    case 'float':
      return scalar('real');
    case 'double':
      return scalar('double precision');
    case 'boolean':
      return scalar('boolean', (v) => Boolean(v));
    case 'array': {
      const item = mapType((node as { items: unknown }).items, names);
      return item.scalar
        ? {
            type: `${item.type}[]`,
            convert: (v) => (Array.isArray(v) ? v.map(item.convert) : []),
            scalar: false,
          }
        : jsonb;
    }
    default:
      return jsonb;
  }
}

export function pgColumnsOf(schema: AvroRecordSchema): PgColumn[] {
  const names = namedTypes(schema);
  return schema.fields.map((f) => {
    const mapped = mapType(f.type, names);
    return {
      name: f.name,
      type: mapped.type,
      convert: (v) => (v === null || v === undefined ? null : mapped.convert(v)),
    };
  });
}

export const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

export function pgTableName(topic: string): string {
  return topic.replace(/[^A-Za-z0-9_]/g, '_').toLowerCase();
}

export const PG_METADATA = [
  { name: '_topic', type: 'text NOT NULL' },
  { name: '_partition', type: 'integer NOT NULL' },
  { name: '_offset', type: 'bigint NOT NULL' },
  { name: '_timestamp', type: 'timestamptz NOT NULL' },
  { name: '_key', type: 'text' },
];

export function pgCreateTableSql(
  schema: string,
  table: string,
  columns: { name: string; type: string }[],
): string {
  const all = [...columns.map((c) => ({ name: c.name, type: c.type })), ...PG_METADATA];
  return `CREATE TABLE IF NOT EXISTS ${ident(schema)}.${ident(table)} (\n${all.map((c) => `  ${ident(c.name)} ${c.type}`).join(',\n')},\n  PRIMARY KEY (_topic, _partition, _offset)\n)`;
}

export function pgAddColumnsSql(
  schema: string,
  table: string,
  columns: { name: string; type: string }[],
): string {
  return `ALTER TABLE ${ident(schema)}.${ident(table)} ${columns.map((c) => `ADD COLUMN IF NOT EXISTS ${ident(c.name)} ${c.type}`).join(', ')}`;
}

export function pgOffsetsTableSql(schema: string): string {
  return `CREATE TABLE IF NOT EXISTS ${ident(schema)}._chatstream_offsets ("group" text NOT NULL, topic text NOT NULL, partition integer NOT NULL, "offset" bigint NOT NULL, updated timestamptz NOT NULL DEFAULT now(), PRIMARY KEY ("group", topic, partition))`;
}
