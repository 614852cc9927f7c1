/**
 * The ClickHouse sink's reliability (issue 9, defects 3 and 4) on the real local ClickHouse: rows
 * ClickHouse cannot hold, and two members creating or altering one table.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AvroRecordSchema } from '../../consumers/sink.ts';
import { quoteIdent, quoteString, tableName } from '../../consumers/sinks/clickhouse/schema.ts';
import type { ClickHouseService } from '../../consumers/sinks/clickhouse/service.ts';
import {
  client,
  columnsOf,
  config,
  connectedSink,
  db,
  ids,
  items,
  newTopic,
  query,
  record,
  T0,
  V1,
  V2,
  view,
  write,
} from '../helpers/clickhouse-sink-harness.ts';
import { uniqueName } from '../helpers/names.ts';

// ---- defect 3: a per-row conversion error is a dead letter for that row --------------------

const DATES: AvroRecordSchema = {
  type: 'record',
  name: 'Dated',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'day', type: { type: 'int', logicalType: 'date' } },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
};

test('a value ClickHouse cannot hold (a date out of range) is a dead letter for its row; the others land', async () => {
  const topic = newTopic('chr_dates');
  const sink = await connectedSink();
  const ok = { day: 19_000, at: T0 };
  const values = [
    { id: 'ok-1', ...ok },
    { id: 'day-far', ...ok, day: 1_000_000_000 }, // beyond what a JS Date holds: toISOString throws
    { id: 'day-2200', ...ok, day: 84_000 }, // 2199-12-27: 18.16 would store 0000-00-00 silently
    { id: 'day-1969', ...ok, day: -1 },
    { id: 'at-2200', ...ok, at: Date.UTC(2200, 0, 1) },
    { id: 'at-far', ...ok, at: 9e15 },
    { id: 'ok-2', ...ok, day: 49_672, at: Date.UTC(2105, 11, 31, 23, 59, 59) }, // the last day 18.16 holds
  ];
  const result = await write(
    sink,
    topic,
    values.map((v, i) => record(topic, i, DATES, v)),
  );
  assert.deepEqual(ids(result), ['at-2200', 'at-far', 'day-1969', 'day-2200', 'day-far']);
  for (const { record: r, reason } of result.rejected) {
    const field = String(r.value?.id).startsWith('day') ? 'day' : 'at';
    assert.match(reason, new RegExp(`field "${field}"`), reason);
    assert.match(reason, /out of range|outside/, reason);
  }
  const rows = await query<{ id: string; day: string; at: string }>(
    `SELECT id, toString(day) AS day, toString(at) AS at FROM ${view(topic)} ORDER BY id`,
  );
  assert.deepEqual(rows, [
    { id: 'ok-1', day: '2022-01-08', at: '2025-11-22 08:26:40' },
    { id: 'ok-2', day: '2105-12-31', at: '2105-12-31 23:59:59' },
  ]);
  assert.equal(await sink.storedOffset('g-reliability', topic, 0), 6n, 'the batch offset is stored');
});

// ---- defect 4: two members creating the same table -----------------------------------------

test('two members create the same table: the one that lost the race adds its columns; no good v2 row is rejected', async () => {
  const topic = newTopic('chr_race');
  const table = tableName(topic);
  const first = await connectedSink();
  const second = await connectedSink();
  // The second member reads system.columns (no table yet); then the first creates the table
  // with v1's columns; then the second goes on to create it with v2's.
  const service = (second as unknown as { service: { rows: (sql: string) => Promise<unknown[]> } }).service;
  const rows = service.rows.bind(service);
  let raced = false;
  service.rows = async (sql: string) => {
    const found = await rows(sql);
    if (!raced && sql.includes('system.columns') && sql.includes(quoteString(table)) && found.length === 0) {
      raced = true;
      const v1 = await write(
        first,
        topic,
        items(0, 10).map((v, i) => record(topic, i, V1, v)),
      );
      assert.deepEqual(v1.rejected, []);
    }
    return found;
  };
  const v2 = await write(
    second,
    topic,
    items(10, 10, { score: 2.5 }).map((v, i) => record(topic, 10 + i, V2, v)),
  );
  assert.ok(raced, 'the first member created the table in between');
  assert.deepEqual(
    v2.rejected.map((r) => r.reason),
    [],
    'no good v2 row goes to the dead letters',
  );
  const [counts] = await query<{ c: string; s: string }>(
    `SELECT count() AS c, toString(sum(ifNull(score, 0))) AS s FROM ${view(topic)}`,
  );
  assert.deepEqual(counts, { c: '20', s: '25' });
});

test('two members adding the same column at once: the ALTER that lost is decided again on the columns read after it', async () => {
  const topic = newTopic('chr_alter_race');
  const table = tableName(topic);
  const first = await connectedSink();
  const second = await connectedSink();
  assert.deepEqual(
    (
      await write(
        first,
        topic,
        items(0, 5).map((v, i) => record(topic, i, V1, v)),
      )
    ).rejected,
    [],
  );
  // The second member reads the v1 columns; the first adds v2's column; the second's ALTER then
  // finds the column there already (18.16: code 44).
  const service = (second as unknown as { service: { rows: (sql: string) => Promise<unknown[]> } }).service;
  const rows = service.rows.bind(service);
  let raced = false;
  service.rows = async (sql: string) => {
    const found = await rows(sql);
    if (!raced && sql.includes('system.columns') && sql.includes(quoteString(table))) {
      raced = true;
      const v2 = await write(
        first,
        topic,
        items(5, 5, { score: 1 }).map((v, i) => record(topic, 5 + i, V2, v)),
      );
      assert.deepEqual(v2.rejected, []);
    }
    return found;
  };
  const late = await write(
    second,
    topic,
    items(10, 5, { score: 2 }).map((v, i) => record(topic, 10 + i, V2, v)),
  );
  assert.ok(raced);
  assert.deepEqual(late.rejected, []);
  const [counts] = await query<{ c: string; s: string }>(
    `SELECT count() AS c, toString(sum(ifNull(score, 0))) AS s FROM ${view(topic)}`,
  );
  assert.deepEqual(counts, { c: '15', s: '15' });
});

test('an insert refused for an unknown column is a schema change: the columns are read again and added, not dead-lettered', async () => {
  const topic = newTopic('chr_unknown');
  const table = tableName(topic);
  const v2Member = await connectedSink();
  const write2 = (from: number) =>
    write(
      v2Member,
      topic,
      items(from, 10, { score: 1 }).map((v, i) => record(topic, from + i, V2, v)),
    );
  assert.deepEqual((await write2(0)).rejected, []);
  // Meanwhile the column goes (by hand, or another member's table from older columns): the
  // table holds v1 columns only. (A table dropped under stored offsets is refused: see
  // sink-runner-offsets.test.ts.)
  await client.command({ query: `ALTER TABLE ${db}.${quoteIdent(table)} DROP COLUMN score` });
  assert.equal((await columnsOf(table)).score, undefined, 'the table has v1 columns only');
  // The v2 member believes the table ready for v2: its insert meets an unknown column.
  const again = await write2(20);
  assert.deepEqual(
    again.rejected.map((r) => r.reason),
    [],
  );
  assert.equal((await columnsOf(table)).score, 'Nullable(Float64)');
  const [counts] = await query<{ c: string; s: string }>(
    `SELECT count() AS c, toString(sum(ifNull(score, 0))) AS s FROM ${view(topic)}`,
  );
  assert.deepEqual(counts, { c: '20', s: '10' });
});

// ---- review: names the sink keeps for itself, and a database dropped under it -------------

test('a schema with a field named like a metadata column (_key) makes dead letters of its records, not a DDL retry loop', async () => {
  const topic = newTopic('chr_reserved');
  const sink = await connectedSink();
  const Clash: AvroRecordSchema = {
    type: 'record',
    name: 'Clash',
    fields: [
      { name: 'id', type: 'string' },
      { name: '_key', type: 'string' },
    ],
  };
  const result = await write(sink, topic, [
    record(topic, 0, V1, { id: 'good-0', n: 0 }),
    record(topic, 1, Clash, { id: 'clash-1', _key: 'mine' }),
    record(topic, 2, V1, { id: 'good-2', n: 2 }),
  ]);
  assert.deepEqual(ids(result), ['clash-1']);
  assert.match(result.rejected[0]?.reason ?? '', /field named "_key", which the ClickHouse sink keeps/);
  const rows = await query<{ id: string }>(`SELECT id FROM ${view(topic)} ORDER BY id`);
  assert.deepEqual(
    rows.map((r) => r.id),
    ['good-0', 'good-2'],
  );
});

test('a database dropped under a running sink is made again (with its offsets table) on the next write', async () => {
  const database = uniqueName('chr_db');
  const cfg = { ...config, clickhouse: { ...config.clickhouse, database } };
  const topic = uniqueName('chr_dbtopic');
  const sink = await connectedSink(cfg);
  try {
    const batch = (from: number) => items(from, 5).map((v, i) => record(topic, from + i, V1, v));
    await sink.writeBatch({ group: 'g', topic, partition: 0, records: batch(0) });
    await client.command({ query: `DROP DATABASE ${quoteIdent(database)}` });
    // The first attempt meets "unknown database" (retriable, as the runner would retry it)...
    await assert.rejects(sink.writeBatch({ group: 'g', topic, partition: 0, records: batch(5) }));
    // ...and the next one makes the database, the offsets table and the table again.
    const result = await sink.writeBatch({ group: 'g', topic, partition: 0, records: batch(5) });
    assert.deepEqual(result.rejected, []);
    assert.equal(await sink.storedOffset('g', topic, 0), 9n);
    const [row] = await query<{ c: string }>(
      `SELECT count() AS c FROM ${quoteIdent(database)}.${quoteIdent(`${tableName(topic)}_dedup`)}`,
    );
    assert.equal(row?.c, '5');
  } finally {
    await client.command({ query: `DROP DATABASE IF EXISTS ${quoteIdent(database)}` });
  }
});

// ---- a RowBinary body the server cannot read (Code: 33) -------------------------------------

test('a RowBinary body ClickHouse cannot read (33) is not retried forever: refused again on the columns read again, the chunk lands as JSONEachRow', async () => {
  const topic = newTopic('chr_misframed');
  const sink = await connectedSink();
  // A writer bug, as the server would meet it: every RowBinary body one byte short.
  const service = (sink as unknown as { service: ClickHouseService }).service;
  const sent: number[] = [];
  const insertRowBinary = service.insertRowBinary.bind(service);
  service.insertRowBinary = (table, columns, body) => {
    sent.push(body.length);
    return insertRowBinary(table, columns, body.subarray(0, body.length - 1));
  };
  const values = items(0, 3);
  const result = await write(
    sink,
    topic,
    values.map((v, i) => record(topic, i, V1, v)),
  );
  assert.deepEqual(result.rejected, []);
  assert.equal(
    sent.length,
    2,
    'RowBinary twice (the second time on the columns read again), then JSONEachRow',
  );
  const rows = await query<{ id: string; n: string }>(
    `SELECT id, toString(n) AS n FROM ${view(topic)} ORDER BY id`,
  );
  assert.deepEqual(
    rows,
    values.map((v) => ({ id: v.id, n: String(v.n) })),
  );
  assert.equal(await sink.storedOffset('g-reliability', topic, 0), 2n, 'the batch offset is stored');
});
