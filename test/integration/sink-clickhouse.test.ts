/** The ClickHouse sink: the shared conformance suite, plus what is particular to ClickHouse. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { clickhouseSink } from '../../consumers/sinks/clickhouse/index.ts';
import { quoteIdent, tableName } from '../../consumers/sinks/clickhouse/schema.ts';
import { serverCode } from '../../consumers/sinks/clickhouse/service.ts';
import type { Config } from '../../core/settings.ts';
import { type ReadBack, sinkConformance } from '../helpers/sink-conformance.ts';

function clickhouseReadBack(config: Config): ReadBack {
  const client = createClient({
    url: config.clickhouse.url,
    username: config.clickhouse.user,
    password: config.clickhouse.password,
    log: { level: ClickHouseLogLevel.OFF },
  });
  const db = quoteIdent(config.clickhouse.database);
  const rows = async <T>(query: string): Promise<T[]> => {
    try {
      return (await (await client.query({ query, format: 'JSONEachRow' })).json()) as T[];
    } catch (error) {
      if (serverCode(error) === 60) return []; // the table does not exist yet
      throw error;
    }
  };
  return {
    async visible(topic) {
      const [row] = await rows<{ c: string }>(
        `SELECT count() AS c FROM ${db}.${quoteIdent(`${tableName(topic)}_dedup`)}`,
      );
      return Number(row?.c ?? 0);
    },
    async stored(topic) {
      const [row] = await rows<{ d: string; r: string }>(
        `SELECT uniqExact(_partition, _offset) AS d, count() AS r FROM ${db}.${quoteIdent(tableName(topic))}`,
      );
      return { distinct: Number(row?.d ?? 0), rows: Number(row?.r ?? 0) };
    },
    async field(topic, field) {
      const found = await rows<{ id: string; v: string | null }>(
        `SELECT id, toString(${quoteIdent(field)}) AS v FROM ${db}.${quoteIdent(`${tableName(topic)}_dedup`)}`,
      );
      return new Map(found.map((r) => [r.id, r.v]));
    },
    close: () => client.close(),
  };
}

sinkConformance(clickhouseSink, clickhouseReadBack);

test('ClickHouse tables: ReplacingMergeTree ordered by the record key, partitioned by month, Kafka metadata columns', async () => {
  const { loadConfig } = await import('../../core/settings.ts');
  const config = loadConfig();
  const client = createClient({
    url: config.clickhouse.url,
    username: config.clickhouse.user,
    password: config.clickhouse.password,
  });
  const query = async (sql: string) =>
    (await (await client.query({ query: sql, format: 'JSONEachRow' })).json()) as Record<string, string>[];
  const [table] = await query(
    `SELECT name FROM system.tables WHERE database = '${config.clickhouse.database}' AND name LIKE 'conf\\_evolve%' AND engine = 'ReplacingMergeTree' LIMIT 1`,
  );
  assert.ok(table?.name, 'the evolution test left its table');
  const [ddl] = await query(
    `SHOW CREATE TABLE ${quoteIdent(config.clickhouse.database)}.${quoteIdent(table.name)}`,
  );
  const text = Object.values(ddl ?? {})[0] ?? '';
  await client.close();
  assert.match(text, /ENGINE = ReplacingMergeTree/);
  assert.match(text, /PARTITION BY toYYYYMM\(_timestamp\)/);
  assert.match(text, /ORDER BY \(_key, _topic, _partition, _offset\)/);
  // Servers differ in quoting names in SHOW CREATE (18.16 does not): compare without backquotes.
  const plain = text.replace(/`/g, '');
  for (const column of [
    'id String',
    'n Int64',
    'note Nullable(String)',
    'score Nullable(Float64)',
    '_topic String',
    '_partition Int32',
    '_offset Int64',
    '_key String',
  ]) {
    assert.ok(plain.includes(column), `${column} in ${text}`);
  }
  assert.match(plain, /created_time DateTime(64\(3, 'UTC'\)|\('UTC'\))/);
});
