/**
 * The ClickHouse sink's group commit (consumers/group-commit.ts) on the real server: batches of
 * several partitions written at the same time go in one rows insert and one offsets insert,
 * and each batch gets back its own rejected rows.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../cli/settings.ts';
import type { AvroRecordSchema, SinkRecord } from '../../consumers/sink.ts';
import { createClickHouseClient } from '../../consumers/sinks/clickhouse/connection.ts';
import {
  OFFSETS_TABLE,
  quoteIdent,
  quoteString,
  tableName,
} from '../../consumers/sinks/clickhouse/schema.ts';
import { ClickHouseSink } from '../../consumers/sinks/clickhouse/sink.ts';
import { RetriableError } from '../../core/errors.ts';
import { createLogger } from '../../core/log.ts';

const config = loadConfig();
const client = createClickHouseClient(config);
const database = config.clickhouse.database;
const query = async (sql: string) =>
  (await (await client.query({ query: sql, format: 'JSONEachRow' })).json()) as Record<string, unknown>[];

const schema: AvroRecordSchema = {
  type: 'record',
  name: 'Grouped',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
};

function records(topic: string, partition: number, count: number, badAt?: number): SinkRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    topic,
    partition,
    offset: BigInt(i),
    timestamp: Date.UTC(2026, 10, 23) + i,
    key: `p${partition}-${i}`,
    // A time before every ClickHouse's DateTime range (1970 on 18.16, 1925 from 21.4): that row alone is refused.
    value: { id: `p${partition}-${i}`, at: i === badAt ? Date.UTC(1900, 0, 1) : Date.UTC(2026, 0, 1) + i },
    schemaId: 9101,
    schema,
    bytes: 20,
  }));
}

test('batches of three partitions written at the same time go in one insert (one part, never merged) with one offsets row each; each gets its own rejected row', async () => {
  const topic = `group_commit_${Date.now().toString(36)}`;
  const table = tableName(topic);
  const sink = new ClickHouseSink(config, createLogger('test.group-commit'));
  await sink.connect();
  try {
    // The table exists first, so the three batches meet only in the insert.
    await sink.writeBatch({ group: 'gc', topic, partition: 9, records: records(topic, 9, 1) });
    const before = await query(
      `SELECT count() AS parts FROM system.parts WHERE database = ${quoteString(database)} AND table = ${quoteString(table)} AND active`,
    );
    const results = await Promise.all(
      [0, 1, 2].map((partition) =>
        sink.writeBatch({
          group: 'gc',
          topic,
          partition,
          records: records(topic, partition, 1000, partition === 1 ? 500 : undefined),
        }),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.rejected.map((x) => `${x.record.partition}:${x.record.offset}`)),
      [[], ['1:500'], []],
      'the refused row comes back to its own batch only',
    );
    const parts = await query(
      `SELECT partition_id, level, rows FROM system.parts WHERE database = ${quoteString(database)} AND table = ${quoteString(table)} AND active AND min_block_number = max_block_number ORDER BY min_block_number`,
    );
    assert.equal(Number(before[0]?.parts), 1);
    // One part from the first write, one from the three batches: each written by one insert
    // (a merged part spans several block numbers and is left out, which would fail this).
    assert.deepEqual(
      parts.map((p) => [Number(p.level), Number(p.rows)]),
      [
        [0, 1],
        [0, 2999],
      ],
    );
    const stored = await query(
      `SELECT partition, max(offset) AS o FROM ${quoteIdent(database)}.${OFFSETS_TABLE} WHERE \`group\` = 'gc' AND topic = ${quoteString(topic)} GROUP BY partition ORDER BY partition`,
    );
    assert.deepEqual(
      stored.map((r) => [Number(r.partition), Number(r.o)]),
      [
        [0, 999],
        [1, 999],
        [2, 999],
        [9, 0],
      ],
    );
    const ids = await query(
      `SELECT _partition AS p, count() AS c FROM ${quoteIdent(database)}.${quoteIdent(table)} GROUP BY p ORDER BY p`,
    );
    assert.deepEqual(
      ids.map((r) => [Number(r.p), Number(r.c)]),
      [
        [0, 1000],
        [1, 999],
        [2, 1000],
        [9, 1],
      ],
    );
  } finally {
    await sink.close();
  }
});

test('in a merged write, a dead-letter send that fails fails its own batch only; a batch that ended while queued is not written', async () => {
  const topic = `group_commit_dl_${Date.now().toString(36)}`;
  const sink = new ClickHouseSink(config, createLogger('test.group-commit'));
  await sink.connect();
  const stored = async () =>
    (
      await query(
        `SELECT partition, max(offset) AS o FROM ${quoteIdent(database)}.${OFFSETS_TABLE} WHERE \`group\` = 'gc' AND topic = ${quoteString(topic)} GROUP BY partition ORDER BY partition`,
      )
    ).map((r) => [Number(r.partition), Number(r.o)]);
  try {
    await sink.writeBatch({ group: 'gc', topic, partition: 9, records: records(topic, 9, 1) });
    const sent: string[] = [];
    const ended = new AbortController();
    ended.abort();
    const [good, failing, gone] = await Promise.allSettled([
      sink.writeBatch({
        group: 'gc',
        topic,
        partition: 0,
        records: records(topic, 0, 100, 10),
        deadLetter: async (rejected) => {
          // Acknowledged before the offset covering it: nothing is stored for partition 0 yet.
          assert.deepEqual(await stored(), [[9, 0]]);
          sent.push(...rejected.map((r) => `${r.record.partition}:${r.record.offset}`));
        },
      }),
      sink.writeBatch({
        group: 'gc',
        topic,
        partition: 1,
        records: records(topic, 1, 100, 20),
        deadLetter: async () => {
          throw new RetriableError('injected: the dead-letter topic is unavailable');
        },
      }),
      sink.writeBatch({
        group: 'gc',
        topic,
        partition: 2,
        records: records(topic, 2, 100),
        signal: ended.signal,
      }),
    ]);
    assert.equal(good.status, 'fulfilled');
    assert.deepEqual(sent, ['0:10']);
    assert.equal(failing.status, 'rejected');
    assert.match(String((failing as PromiseRejectedResult).reason), /dead-letter topic is unavailable/);
    assert.equal(gone.status, 'rejected');
    assert.ok((gone as PromiseRejectedResult).reason instanceof RetriableError);
    // Partition 0's offset is stored; partition 1's is not (its dead letter was never sent), nor 2's.
    assert.deepEqual(await stored(), [
      [0, 99],
      [9, 0],
    ]);
    const rows = await query(
      `SELECT _partition AS p, count() AS c FROM ${quoteIdent(database)}.${quoteIdent(tableName(topic))} GROUP BY p ORDER BY p`,
    );
    assert.deepEqual(
      rows.map((r) => [Number(r.p), Number(r.c)]),
      [
        [0, 99],
        [1, 99],
        [9, 1],
      ],
      'partition 1 rows are stored (written again on its retry, the view dedupes), partition 2 never written',
    );
  } finally {
    await sink.close();
  }
});
