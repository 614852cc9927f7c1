/**
 * The sink runner on the real local stack (Kafka, the registry, ClickHouse) where its stored
 * offsets and what it reads disagree, and with tombstones:
 *  - a tombstone on an entity topic goes through the runner to ClickHouse as a delete;
 *  - a topic deleted and created again: the stored offset lies beyond the partition's end, and
 *    the runner stops with exit 3 instead of skipping the new records silently;
 *  - a table dropped under stored offsets: the sink stops with exit 3 instead of writing a table
 *    that silently lacks everything before those offsets.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Config } from '../../cli/settings.ts';
import { quoteIdent, tableName } from '../../consumers/sinks/clickhouse/schema.ts';
import { EXIT } from '../../core/errors.ts';
import { withAdmin } from '../../kafka/client.ts';
import { uniqueName } from '../helpers/names.ts';
import { createTopic, produceAvro, produceRaw } from '../helpers/produce.ts';
import {
  base,
  clickhouse,
  configFor,
  items,
  lettersOf,
  SCHEMA,
  start,
  stop,
  stopRunners,
  until,
  visible,
} from '../helpers/sink-runner-stack.ts';

after(stopRunners);

const database = quoteIdent(base.clickhouse.database);

async function ids(topic: string): Promise<string[]> {
  const result = await clickhouse.query({
    query: `SELECT id FROM ${database}.${quoteIdent(`${tableName(topic)}_dedup`)} ORDER BY id`,
    format: 'JSONEachRow',
  });
  return ((await result.json()) as { id: string }[]).map((r) => r.id);
}

test('a tombstone on an entity topic reaches ClickHouse through the runner and deletes its key in the _dedup view', async () => {
  const prefix = `${uniqueName('tomb')}.`;
  const config = configFor({}, { kafka: { ...base.kafka, topicPrefix: prefix } });
  const topic = `${prefix}freshchat.agents`; // an entity topic (compacted): latest state per key
  await createTopic(config, topic, 1);
  await produceAvro(config, topic, SCHEMA, items(0, 4), (v) => String(v.id));
  await produceRaw(config, topic, [{ key: 'i-1', value: null }]);
  const { runner, fatal } = await start(config, topic, uniqueName('g'));
  await until('the tombstone is handled', async () => (await visible(topic)) === 3);
  assert.deepEqual(await ids(topic), ['i-0', 'i-2', 'i-3']);
  assert.deepEqual(await lettersOf(config, topic), [], 'a tombstone is a delete, not a dead letter');
  assert.deepEqual(fatal, []);
  await stop(runner);
});

/** A one-partition topic of 10 records, written by a runner of `group` that then stops. */
async function writeTenAndStop(config: Config, topic: string, group: string): Promise<void> {
  await createTopic(config, topic, 1);
  await produceAvro(config, topic, SCHEMA, items(0, 10), (v) => String(v.id));
  const first = await start(config, topic, group);
  await until('10 rows', async () => (await visible(topic)) === 10);
  await stop(first.runner);
}

test('a topic deleted and created again: the stored offset lies beyond its end, and the runner stops with exit 3 instead of skipping', async () => {
  const config = configFor();
  const topic = uniqueName('recreated');
  const group = uniqueName('g');
  await writeTenAndStop(config, topic, group);

  await withAdmin(config, (admin) => admin.deleteTopics({ topics: [topic], timeout: 30_000 }));
  await until(
    'the topic is gone',
    async () => !(await withAdmin(config, (admin) => admin.listTopics())).includes(topic),
  );
  await createTopic(config, topic, 1);
  await produceAvro(config, topic, SCHEMA, items(100, 3), (v) => String(v.id));

  const second = await start(config, topic, group);
  await until('the runner stops', () => second.fatal.length > 0);
  const [error] = second.fatal;
  assert.equal(error?.code, 'STORED_OFFSET_BEYOND_END');
  assert.equal(error?.exitCode, EXIT.config);
  assert.match(error?.message ?? '', new RegExp(`stored offset 9 for ${topic}:0 .*ends at offset 3`));
  assert.equal(await visible(topic), 10, 'nothing of the new topic was written under the old offsets');
});

test('a table dropped under stored offsets: the sink stops with exit 3 naming the table, instead of writing on without the old rows', async () => {
  const config = configFor();
  const topic = uniqueName('dropped');
  const group = uniqueName('g');
  await writeTenAndStop(config, topic, group);

  const table = tableName(topic);
  await clickhouse.command({ query: `DROP TABLE ${database}.${quoteIdent(`${table}_dedup`)}` });
  await clickhouse.command({ query: `DROP TABLE ${database}.${quoteIdent(table)}` });
  await produceAvro(config, topic, SCHEMA, items(10, 5), (v) => String(v.id));

  const second = await start(config, topic, group);
  await until('the runner stops', () => second.fatal.length > 0);
  const [error] = second.fatal;
  assert.equal(error?.code, 'CLICKHOUSE_TABLE_DROPPED');
  assert.equal(error?.exitCode, EXIT.config);
  assert.match(
    error?.message ?? '',
    new RegExp(`table ${base.clickhouse.database}\\.${table} does not exist`),
  );
  assert.match(error?.hint ?? '', /CHATSTREAM_SINK_GROUP/);
  const tables = await clickhouse.query({
    query: `SELECT count() AS c FROM system.tables WHERE database = '${base.clickhouse.database}' AND name = '${table}'`,
    format: 'JSONEachRow',
  });
  assert.equal(
    Number(((await tables.json()) as { c: string }[])[0]?.c),
    0,
    'the table was not created again',
  );
});
