/**
 * A harness for ClickHouse sink tests that drive `ClickHouseSink.writeBatch` directly on the real
 * ClickHouse (what the runner calls with each chunk), each on tables of their own that are
 * dropped when the test file ends.
 */
import { after } from 'node:test';
import { type Config, loadConfig } from '../../cli/settings.ts';
import type { AvroRecordSchema, SinkRecord, WriteResult } from '../../consumers/sink.ts';
import { createClickHouseClient } from '../../consumers/sinks/clickhouse/connection.ts';
import { quoteIdent, quoteString, tableName } from '../../consumers/sinks/clickhouse/schema.ts';
import { ClickHouseSink } from '../../consumers/sinks/clickhouse/sink.ts';
import { createLogger } from '../../core/log.ts';
import { uniqueName } from './names.ts';

export const config = loadConfig();
export const log = createLogger('test.sink-clickhouse');
export const client = createClickHouseClient(config);
export const database = config.clickhouse.database;
export const db = quoteIdent(database);
const sinks: ClickHouseSink[] = [];
const tables: string[] = [];

after(async () => {
  for (const sink of sinks) await sink.close().catch(() => {});
  for (const table of tables) {
    await client.command({ query: `DROP TABLE IF EXISTS ${db}.${quoteIdent(`${table}_dedup`)}` });
    await client.command({ query: `DROP TABLE IF EXISTS ${db}.${quoteIdent(table)}` });
  }
  await client.close();
});

export const query = async <T = Record<string, unknown>>(sql: string): Promise<T[]> =>
  (await (await client.query({ query: sql, format: 'JSONEachRow' })).json()) as T[];

export async function connectedSink(cfg: Config = config): Promise<ClickHouseSink> {
  const sink = new ClickHouseSink(cfg, log);
  await sink.connect();
  sinks.push(sink);
  return sink;
}

/** A new topic whose table (and view) are dropped after the tests. */
export function newTopic(prefix: string, topic = uniqueName(prefix)): string {
  tables.push(tableName(topic));
  return topic;
}

let nextSchemaId = 2_000_000_000 + Math.floor(Math.random() * 100_000_000);
/** Schema ids only key the sink's caches here: a fresh one per schema. */
const schemaIdOf = new Map<AvroRecordSchema, number>();
export function idOf(schema: AvroRecordSchema): number {
  let id = schemaIdOf.get(schema);
  if (id === undefined) {
    id = nextSchemaId++;
    schemaIdOf.set(schema, id);
  }
  return id;
}

export const T0 = 1_763_800_000_000;

export function record(
  topic: string,
  offset: number,
  schema: AvroRecordSchema,
  value: Record<string, unknown> | null,
  options: { key?: string | null; timestamp?: number } = {},
): SinkRecord {
  return {
    topic,
    partition: 0,
    offset: BigInt(offset),
    timestamp: options.timestamp ?? T0 + offset * 1000,
    key: options.key === undefined ? String(value?.id ?? offset) : options.key,
    // A tombstone (null Kafka value) as the runner hands it to a sink that takes tombstones.
    value: value as Record<string, unknown>,
    schemaId: idOf(schema),
    schema,
    bytes: 10,
  };
}

export async function write(
  sink: ClickHouseSink,
  topic: string,
  records: SinkRecord[],
): Promise<WriteResult> {
  return sink.writeBatch({ group: 'g-reliability', topic, partition: 0, records });
}

export const ids = (result: WriteResult) => result.rejected.map((r) => String(r.record.value?.id)).sort();

export async function columnsOf(table: string): Promise<Record<string, string>> {
  const found = await query<{ name: string; type: string }>(
    `SELECT name, type FROM system.columns WHERE database = ${quoteString(database)} AND table = ${quoteString(table)}`,
  );
  return Object.fromEntries(found.map((c) => [c.name, c.type]));
}

export const view = (topic: string) => `${db}.${quoteIdent(`${tableName(topic)}_dedup`)}`;

/** A schema and its next version, with rows of either. */
export const V1: AvroRecordSchema = {
  type: 'record',
  name: 'Item',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'n', type: 'long' },
  ],
};
export const V2: AvroRecordSchema = {
  ...V1,
  fields: [...V1.fields, { name: 'score', type: ['null', 'double'], default: null }],
};
export const items = (from: number, count: number, extra: Record<string, unknown> = {}) =>
  Array.from({ length: count }, (_, i) => ({ id: `i-${from + i}`, n: from + i, ...extra }));
