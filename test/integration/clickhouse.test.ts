import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { loadConfig } from '../../cli/settings.ts';
import { createClickHouseClient } from '../../consumers/sinks/clickhouse/connection.ts';
import { uniqueName } from '../helpers/names.ts';

const config = loadConfig();
const client = createClickHouseClient(config);
const table = uniqueName('test_events');

after(async () => {
  await client.command({ query: `DROP TABLE IF EXISTS ${table}` });
  await client.close();
});

test('@clickhouse/client creates, inserts into and reads a table on the local ClickHouse', async () => {
  await client.command({
    query: `CREATE TABLE ${table} (id String, conversation_id String, n UInt32, created DateTime) ENGINE = MergeTree ORDER BY id`,
  });
  const rows = Array.from({ length: 1000 }, (_, i) => ({
    id: `m-${String(i).padStart(4, '0')}`,
    conversation_id: `c-${i % 10}`,
    n: i,
    created: '2026-11-22 10:00:00',
  }));
  await client.insert({ table, values: rows, format: 'JSONEachRow' });

  const result = await client.query({
    query: `SELECT conversation_id, count() AS messages, sum(n) AS total FROM ${table} GROUP BY conversation_id ORDER BY conversation_id`,
    format: 'JSONEachRow',
  });
  const grouped = (await result.json()) as { conversation_id: string; messages: string; total: string }[];
  assert.equal(grouped.length, 10);
  assert.deepEqual(grouped[0], {
    conversation_id: 'c-0',
    messages: '100',
    total: String(rows.filter((r) => r.n % 10 === 0).reduce((s, r) => s + r.n, 0)),
  });
  assert.equal(
    grouped.reduce((s, g) => s + Number(g.messages), 0),
    1000,
  );
});
