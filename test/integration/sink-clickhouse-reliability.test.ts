/**
 * The ClickHouse sink's reliability (issue 9, defects 3–7) on the real local ClickHouse: rows
 * ClickHouse cannot hold, two members creating one table, widening columns, a view left stale
 * by a crash, and entity topics read as the latest state per key with tombstones as deletes.
 *
 * These drive `ClickHouseSink.writeBatch` directly (what the runner calls with each chunk; its
 * `rejected` rows are what the runner sends to the dead letters), each on tables of its own.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { type Config, loadConfig } from '../../cli/settings.ts';
import type { AvroRecordSchema, SinkRecord, WriteResult } from '../../consumers/sink.ts';
import { quoteIdent, quoteString, tableName } from '../../consumers/sinks/clickhouse/schema.ts';
import { ClickHouseSink } from '../../consumers/sinks/clickhouse/sink.ts';
import { EXIT, FatalError } from '../../core/errors.ts';
import { createLogger } from '../../core/log.ts';
import { uniqueName } from '../helpers/names.ts';

const config = loadConfig();
const log = createLogger('test.sink-clickhouse');
const client = createClient({
  url: config.clickhouse.url,
  username: config.clickhouse.user,
  password: config.clickhouse.password,
  log: { level: ClickHouseLogLevel.OFF },
});
const database = config.clickhouse.database;
const db = quoteIdent(database);
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

const query = async <T = Record<string, unknown>>(sql: string): Promise<T[]> =>
  (await (await client.query({ query: sql, format: 'JSONEachRow' })).json()) as T[];

async function connectedSink(cfg: Config = config): Promise<ClickHouseSink> {
  const sink = new ClickHouseSink(cfg, log);
  await sink.connect();
  sinks.push(sink);
  return sink;
}

/** A new topic whose table (and view) are dropped after the tests. */
function newTopic(prefix: string, topic = uniqueName(prefix)): string {
  tables.push(tableName(topic));
  return topic;
}

let nextSchemaId = 2_000_000_000 + Math.floor(Math.random() * 100_000_000);
/** Schema ids only key the sink's caches here: a fresh one per schema. */
const schemaIdOf = new Map<AvroRecordSchema, number>();
function idOf(schema: AvroRecordSchema): number {
  let id = schemaIdOf.get(schema);
  if (id === undefined) {
    id = nextSchemaId++;
    schemaIdOf.set(schema, id);
  }
  return id;
}

const T0 = 1_763_800_000_000;

function record(
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

async function write(sink: ClickHouseSink, topic: string, records: SinkRecord[]): Promise<WriteResult> {
  return sink.writeBatch({ group: 'g-reliability', topic, partition: 0, records });
}

const ids = (result: WriteResult) => result.rejected.map((r) => String(r.record.value?.id)).sort();

async function columnsOf(table: string): Promise<Record<string, string>> {
  const found = await query<{ name: string; type: string }>(
    `SELECT name, type FROM system.columns WHERE database = ${quoteString(database)} AND table = ${quoteString(table)}`,
  );
  return Object.fromEntries(found.map((c) => [c.name, c.type]));
}

const view = (topic: string) => `${db}.${quoteIdent(`${tableName(topic)}_dedup`)}`;

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
    const field = String(r.value.id).startsWith('day') ? 'day' : 'at';
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

const V1: AvroRecordSchema = {
  type: 'record',
  name: 'Item',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'n', type: 'long' },
  ],
};
const V2: AvroRecordSchema = {
  ...V1,
  fields: [...V1.fields, { name: 'score', type: ['null', 'double'], default: null }],
};
const items = (from: number, count: number, extra: Record<string, unknown> = {}) =>
  Array.from({ length: count }, (_, i) => ({ id: `i-${from + i}`, n: from + i, ...extra }));

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
  // Meanwhile the table is dropped and another member creates it again from v1 records.
  await client.command({ query: `DROP TABLE ${db}.${quoteIdent(`${table}_dedup`)}` });
  await client.command({ query: `DROP TABLE ${db}.${quoteIdent(table)}` });
  const v1Member = await connectedSink();
  assert.deepEqual(
    (
      await write(
        v1Member,
        topic,
        items(10, 10).map((v, i) => record(topic, 10 + i, V1, v)),
      )
    ).rejected,
    [],
  );
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

// ---- defect 5: widening columns ------------------------------------------------------------

const NARROW: AvroRecordSchema = {
  type: 'record',
  name: 'Measure',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'n', type: 'int' },
    { name: 'ratio', type: 'float' },
    { name: 'note', type: 'string' },
    { name: 'counts', type: { type: 'array', items: 'int' } },
    { name: 'label', type: 'string' },
  ],
};
const WIDE: AvroRecordSchema = {
  ...NARROW,
  fields: [
    { name: 'id', type: 'string' },
    { name: 'n', type: 'long' },
    { name: 'ratio', type: 'double' },
    { name: 'note', type: ['null', 'string'], default: null },
    { name: 'counts', type: { type: 'array', items: 'long' } },
    // The registry lets a string become a union with more branches: a string stays itself.
    { name: 'label', type: ['null', 'string', 'long'], default: null },
  ],
};

test('evolution widens the columns the registry allows (int→long, float→double, T→["null",T]) with MODIFY COLUMN', async () => {
  const topic = newTopic('chr_widen');
  const table = tableName(topic);
  const sink = await connectedSink();
  const narrow = (id: string, offset: number) =>
    record(topic, offset, NARROW, { id, n: 7, ratio: 0.5, note: 'x', counts: [1], label: 'plain' });
  assert.deepEqual((await write(sink, topic, [narrow('old', 0)])).rejected, []);
  const wide = await write(sink, topic, [
    record(topic, 1, WIDE, {
      id: 'big',
      n: 5_000_000_000,
      ratio: 0.1,
      note: null,
      counts: [5_000_000_000],
      label: 'widened',
    }),
    record(topic, 2, WIDE, { id: 'num', n: -5_000_000_000, ratio: 1e300, note: 'y', counts: [], label: 42 }),
  ]);
  assert.deepEqual(wide.rejected, []);
  const columns = await columnsOf(table);
  assert.equal(columns.n, 'Int64');
  assert.equal(columns.ratio, 'Float64');
  assert.equal(columns.note, 'Nullable(String)');
  assert.equal(columns.counts, 'Array(Int64)');
  assert.equal(columns.label, 'Nullable(String)');
  // An older record arriving after the widening fits the wider column as it is.
  assert.deepEqual((await write(sink, topic, [narrow('late', 3)])).rejected, []);
  assert.deepEqual(await columnsOf(table), columns, 'nothing narrowed back');
  const rows = await query<Record<string, string | null>>(
    `SELECT id, toString(n) AS n, toString(ratio) AS ratio, note, toString(counts) AS counts, label FROM ${view(topic)} ORDER BY id`,
  );
  assert.deepEqual(rows, [
    { id: 'big', n: '5000000000', ratio: '0.1', note: null, counts: '[5000000000]', label: 'widened' },
    { id: 'late', n: '7', ratio: '0.5', note: 'x', counts: '[1]', label: 'plain' },
    { id: 'num', n: '-5000000000', ratio: '1e300', note: 'y', counts: '[]', label: '42' },
    { id: 'old', n: '7', ratio: '0.5', note: 'x', counts: '[1]', label: 'plain' },
  ]);
  const viewColumns = await columnsOf(`${table}_dedup`);
  assert.deepEqual(viewColumns, columns, 'the view shows the widened columns');
});

test('a type change that cannot be widened safely stops the sink: FatalError, exit 3, naming the table and the column', async () => {
  const topic = newTopic('chr_narrow');
  const table = tableName(topic);
  const sink = await connectedSink();
  assert.deepEqual(
    (
      await write(sink, topic, [
        record(topic, 0, NARROW, { id: 'a', n: 1, ratio: 1, note: 'x', counts: [], label: 'l' }),
      ])
    ).rejected,
    [],
  );
  const toText: AvroRecordSchema = {
    ...NARROW,
    fields: NARROW.fields.map((f) => (f.name === 'n' ? { name: 'n', type: 'string' } : f)),
  };
  const toFloat: AvroRecordSchema = {
    ...NARROW,
    fields: NARROW.fields.map((f) => (f.name === 'n' ? { name: 'n', type: 'float' } : f)),
  };
  for (const [schema, to] of [
    [toText, 'String'],
    [toFloat, 'Float32'],
  ] as const) {
    await assert.rejects(
      write(sink, topic, [
        record(topic, 1, schema, {
          id: 'b',
          n: schema === toText ? 'text' : 1.5,
          ratio: 1,
          note: 'x',
          counts: [],
          label: 'l',
        }),
      ]),
      (error: unknown) => {
        assert.ok(error instanceof FatalError, String(error));
        assert.equal(error.exitCode, EXIT.config);
        assert.ok(error.message.includes(`${database}.${table}`), error.message);
        assert.match(error.message, /column `?n`? /);
        assert.ok(error.message.includes('Int32') && error.message.includes(to), error.message);
        return true;
      },
    );
  }
  assert.equal((await columnsOf(table)).n, 'Int32', 'the column is left as it was');
  const [count] = await query<{ c: string }>(`SELECT count() AS c FROM ${db}.${quoteIdent(table)}`);
  assert.equal(count?.c, '1', 'nothing of the refused batch was written');
});

// ---- defect 6: a stale view after a crash between ALTER and the view swap -------------------

test('a view left stale by a crash between ALTER and the view swap is recreated when the sink starts', async () => {
  const topic = newTopic('chr_stale');
  const table = tableName(topic);
  const before = await connectedSink();
  assert.deepEqual(
    (
      await write(
        before,
        topic,
        items(0, 5).map((v, i) => record(topic, i, V1, v)),
      )
    ).rejected,
    [],
  );
  // The sink's ALTER for v2 went through, then it was killed before dropping the view.
  await client.command({
    query: `ALTER TABLE ${db}.${quoteIdent(table)} ADD COLUMN score Nullable(Float64)`,
  });
  assert.equal((await columnsOf(`${table}_dedup`)).score, undefined, 'the view is stale');
  const restarted = await connectedSink();
  assert.deepEqual(
    (
      await write(
        restarted,
        topic,
        items(5, 5, { score: 3 }).map((v, i) => record(topic, 5 + i, V2, v)),
      )
    ).rejected,
    [],
  );
  assert.deepEqual(await columnsOf(`${table}_dedup`), await columnsOf(table));
  const [sum] = await query<{ c: string; s: string }>(
    `SELECT count() AS c, toString(sum(ifNull(score, 0))) AS s FROM ${view(topic)}`,
  );
  assert.deepEqual(sum, { c: '10', s: '15' });
});

// ---- defect 7: entity topics, latest per key, tombstones ------------------------------------

const AGENT: AvroRecordSchema = {
  type: 'record',
  name: 'Agent',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'name', type: 'string' },
  ],
};

test('an entity topic: the _dedup view shows the latest row per key by (_timestamp, _offset), and a tombstone deletes its key', async () => {
  const prefix = `${uniqueName('chr_ent')}.`;
  const entityConfig: Config = { ...config, kafka: { ...config.kafka, topicPrefix: prefix } };
  const topic = newTopic('', `${prefix}freshchat.agents`);
  const sink = await connectedSink(entityConfig);
  const agent = (offset: number, id: string, name: string, seconds: number) =>
    record(topic, offset, AGENT, { id, name }, { timestamp: T0 + seconds * 1000 });
  const tombstone = (offset: number, key: string, seconds: number) =>
    record(topic, offset, AGENT, null, { key, timestamp: T0 + seconds * 1000 });
  const first = await write(sink, topic, [
    agent(0, 'a1', 'first', 10),
    agent(1, 'a1', 'newest', 30),
    agent(2, 'a1', 'older, arrived late', 20),
    agent(3, 'a2', 'deleted later', 10),
    agent(4, 'a3', 'same second, lower offset', 10),
    agent(5, 'a3', 'same second, higher offset', 10),
  ]);
  assert.deepEqual(first.rejected, []);
  const second = await write(sink, topic, [tombstone(6, 'a2', 40), tombstone(7, 'a9', 40)]);
  assert.deepEqual(second.rejected, [], 'tombstones are deletes, not dead letters');
  const latest = async () =>
    query<{ _key: string; name: string }>(`SELECT _key, name FROM ${view(topic)} ORDER BY _key`);
  assert.deepEqual(await latest(), [
    { _key: 'a1', name: 'newest' },
    { _key: 'a3', name: 'same second, higher offset' },
  ]);
  // The key comes back with a later version.
  assert.deepEqual((await write(sink, topic, [agent(8, 'a2', 'back again', 50)])).rejected, []);
  assert.deepEqual(
    (await latest()).map((r) => `${r._key}=${r.name}`),
    ['a1=newest', 'a2=back again', 'a3=same second, higher offset'],
  );

  // A new entity topic whose first record is a tombstone: its table starts with the metadata.
  const groups = newTopic('', `${prefix}freshchat.groups`);
  const early = await write(sink, groups, [record(groups, 0, AGENT, null, { key: 'g1' })]);
  assert.deepEqual(early.rejected, []);
  assert.deepEqual(
    (
      await write(sink, groups, [
        record(groups, 1, AGENT, { id: 'g2', name: 'support' }),
        record(groups, 2, AGENT, null, { key: 'g2' }),
        record(groups, 3, AGENT, { id: 'g3', name: 'sales' }),
      ])
    ).rejected,
    [],
  );
  assert.deepEqual(await query(`SELECT _key, name FROM ${view(groups)}`), [{ _key: 'g3', name: 'sales' }]);
});

test('a tombstone on a topic that is not an entity topic is a dead letter with the reason', async () => {
  const topic = newTopic('chr_events');
  const sink = await connectedSink();
  const result = await write(sink, topic, [
    record(topic, 0, V1, { id: 'e1', n: 1 }),
    record(topic, 1, V1, null, { key: 'e1' }),
    record(topic, 2, V1, { id: 'e2', n: 2 }),
  ]);
  assert.equal(result.rejected.length, 1);
  assert.equal(result.rejected[0]?.record.offset, 1n);
  assert.match(result.rejected[0]?.reason ?? '', /tombstone/);
  const [count] = await query<{ c: string }>(`SELECT count() AS c FROM ${view(topic)}`);
  assert.equal(count?.c, '2');
});
