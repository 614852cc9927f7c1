/** The ClickHouse sink: the shared conformance suite, plus what is particular to ClickHouse. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Config } from '../../cli/settings.ts';
import { createClickHouseClient } from '../../consumers/sinks/clickhouse/connection.ts';
import { clickhouseSink } from '../../consumers/sinks/clickhouse/index.ts';
import { quoteIdent, tableName } from '../../consumers/sinks/clickhouse/schema.ts';
import { serverCode } from '../../consumers/sinks/clickhouse/service.ts';
import { type ReadBack, sinkConformance } from '../helpers/sink-conformance.ts';

function clickhouseReadBack(config: Config): ReadBack {
  const client = createClickHouseClient(config);
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
  const { loadConfig } = await import('../../cli/settings.ts');
  const config = loadConfig();
  const client = createClickHouseClient(config);
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

test('curated Freshchat schemas land in ClickHouse: real messages, nested parts as JSON, absent records NULL', async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { loadConfig } = await import('../../cli/settings.ts');
  const { PROJECT_ROOT } = await import('../../core/settings.ts');
  const { kindOf, latestSchema } = await import('../../schemas/catalog.ts');
  const { conform } = await import('../../schemas/conform.ts');
  const { SinkRunner } = await import('../../consumers/runner.ts');
  const { createLogger } = await import('../../core/log.ts');
  const { createTopic, produceAvro } = await import('../helpers/produce.ts');
  const { uniqueName } = await import('../helpers/names.ts');
  const config = loadConfig();
  const fixture = (name: string) =>
    JSON.parse(readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'freshchat', name), 'utf8'));
  const topic = uniqueName('fc_messages');
  const schema = JSON.parse(latestSchema(kindOf('freshchat.messages')).text);
  const message = conform(schema, fixture('message.json')).value as Record<string, unknown>;
  const withoutReply = conform(schema, { ...fixture('message.json'), id: 'm-2', in_reply_to: undefined })
    .value as Record<string, unknown>;
  await createTopic(config, topic, 1);
  await produceAvro(config, topic, schema, [message, withoutReply], (v) => String(v.id), {
    timestamp: (v) => Number(v.created_time),
  });
  const runner = new SinkRunner({
    config,
    sink: clickhouseSink.create({ config, log: createLogger('test') }),
    log: createLogger('test'),
    topics: [topic],
    group: uniqueName('g'),
  });
  await runner.start();
  const client = createClickHouseClient(config);
  const view = `${quoteIdent(config.clickhouse.database)}.${quoteIdent(`${tableName(topic)}_dedup`)}`;
  let rows: Record<string, unknown>[] = [];
  for (let i = 0; i < 100 && rows.length < 2; i++) {
    try {
      rows = (await (
        await client.query({ query: `SELECT * FROM ${view} ORDER BY id`, format: 'JSONEachRow' })
      ).json()) as Record<string, unknown>[];
    } catch {}
    if (rows.length < 2) await new Promise((r) => setTimeout(r, 200));
  }
  await runner.stop();
  await client.close();
  assert.equal(rows.length, 2);
  const [first, second] = rows as [Record<string, unknown>, Record<string, unknown>];
  assert.equal(first.id, '7c6e8673-def2-4894-aef9-3daadda61542');
  assert.match(String(first.created_time), /^2025-07-10 19:47:55/);
  assert.equal(first.restrictResponse, 0);
  assert.equal(first.in_reply_to, '{"message_id":"6c03caf2-a37f-45a2-a9a3-6e03aa7b85f5"}');
  assert.equal(second.in_reply_to, null, 'an absent optional record is NULL');
  const parts = JSON.parse(String(first.message_parts));
  assert.equal(parts[0].text.content, 'hello world ✓ 안녕');
  assert.equal(first.meta_data, '{"isResolved":"true"}');
  assert.match(String(first._timestamp), /^2025-07-10 19:47:55/, 'the Kafka record time is the event time');
});
