/**
 * The ClickHouse sink's RowBinary inserts, read back from the real server: every column type
 * the sink creates, nulls, unicode, a large string and edge numbers land exactly as the same
 * rows written as JSONEachRow do; a table with a column type the writer does not know is
 * written as JSONEachRow instead.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../cli/settings.ts';
import type { AvroRecordSchema, SinkRecord } from '../../consumers/sink.ts';
import { createClickHouseClient } from '../../consumers/sinks/clickhouse/connection.ts';
import { columnsOf, formatDateTime, quoteIdent, tableName } from '../../consumers/sinks/clickhouse/schema.ts';
import { ClickHouseSink } from '../../consumers/sinks/clickhouse/sink.ts';
import { createLogger } from '../../core/log.ts';

const config = loadConfig();
const client = createClickHouseClient(config);
const db = quoteIdent(config.clickhouse.database);
const query = async (sql: string) =>
  (await (await client.query({ query: sql, format: 'JSONEachRow' })).json()) as Record<string, unknown>[];

const schema: AvroRecordSchema = {
  type: 'record',
  name: 'Everything',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['A', 'B'] } },
    { name: 'raw', type: 'bytes' },
    { name: 'fx', type: { type: 'fixed', name: 'F2', size: 2 } },
    { name: 'i', type: 'int' },
    { name: 'l', type: 'long' },
    { name: 'f', type: 'float' },
    { name: 'd', type: 'double' },
    { name: 'b', type: 'boolean' },
    { name: 'day', type: { type: 'int', logicalType: 'date' } },
    { name: 'ms', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'us', type: { type: 'long', logicalType: 'timestamp-micros' } },
    { name: 'ns', type: ['null', 'string'] },
    { name: 'ni', type: ['null', 'int'] },
    { name: 'nl', type: ['null', 'long'] },
    { name: 'nd', type: ['null', 'double'] },
    { name: 'nt', type: ['null', { type: 'long', logicalType: 'timestamp-millis' }] },
    { name: 'ai', type: { type: 'array', items: 'int' } },
    { name: 'as', type: { type: 'array', items: 'string' } },
    { name: 'nas', type: ['null', { type: 'array', items: 'string' }] },
    { name: 'rec', type: { type: 'record', name: 'Inner', fields: [{ name: 'x', type: 'int' }] } },
    { name: 'm', type: { type: 'map', values: 'string' } },
    { name: 'u', type: ['null', 'string', 'int'] },
  ],
};

const big = `${'ü'.repeat(300_000)}end`;
const values: Record<string, unknown>[] = [
  {
    id: 'edges-max',
    kind: 'A',
    raw: Buffer.from([0, 255, 10]),
    fx: Buffer.from('hi'),
    i: 2_147_483_647,
    l: Number.MAX_SAFE_INTEGER,
    f: 3.4028234663852886e38,
    d: Number.MAX_VALUE,
    b: true,
    day: 49_672,
    ms: Date.UTC(2105, 11, 31, 23, 59, 59),
    us: Date.UTC(2020, 0, 1) * 1000 + 999,
    ns: 'grüße 😀 \n\t"quoted" \\ back',
    ni: -2_147_483_648,
    nl: -Number.MAX_SAFE_INTEGER,
    nd: -0.1,
    nt: 0,
    ai: [1, -1, 2_147_483_647],
    as: ['', 'ä', 'x'.repeat(200)],
    nas: ['a', 'b'],
    rec: { x: 1 },
    m: Object.fromEntries([
      ['k', 'v'],
      ['ü', '😀'],
    ]), // a non-ASCII map key
    u: 'text',
  },
  {
    id: 'nulls-and-mins',
    kind: 'B',
    raw: Buffer.alloc(0),
    fx: Buffer.from([0, 0]),
    i: -2_147_483_648,
    l: -Number.MAX_SAFE_INTEGER,
    f: -1.5,
    d: 2.2250738585072014e-308, // the least normal double (18.16 reads a subnormal's text as 0)
    b: false,
    day: 0,
    ms: 0,
    us: 0,
    ns: null,
    ni: null,
    nl: null,
    nd: null,
    nt: null,
    ai: [],
    as: [],
    nas: null,
    rec: { x: -1 },
    m: {},
    u: 42,
  },
  { ...baseLarge() },
];

function baseLarge(): Record<string, unknown> {
  return {
    id: 'large',
    kind: 'A',
    raw: Buffer.alloc(100_000, 7),
    fx: Buffer.from('zz'),
    i: 0,
    l: 2 ** 40 + 5,
    f: 0.1,
    d: 1 / 3,
    b: true,
    day: 19_000,
    ms: Date.UTC(2022, 10, 22, 10, 55, 23, 126),
    us: 1_669_114_523_126_999,
    ns: big,
    ni: 0,
    nl: 0,
    nd: 0,
    nt: Date.UTC(2022, 0, 1),
    ai: Array.from({ length: 1000 }, (_, i) => i - 500),
    as: ['日本語', 'עברית', 'emoji 👩‍👩‍👧'],
    nas: [],
    rec: { x: 0 },
    m: { big },
    u: null,
  };
}

const records = (topic: string): SinkRecord[] =>
  values.map((value, i) => ({
    topic,
    partition: 0,
    offset: BigInt(i),
    timestamp: Date.UTC(2024, 1, 29, 12, 0, 0, 5) + i,
    key: `k${i}`,
    value,
    schemaId: 9001,
    schema,
    bytes: 100,
  }));

test('RowBinary rows read back like the same rows written as JSONEachRow: every column type, nulls, unicode, large strings, edge numbers', async () => {
  const topic = `rb_types_${Date.now().toString(36)}`;
  const table = tableName(topic);
  const sink = new ClickHouseSink(config, createLogger('test.rowbinary'));
  await sink.connect();
  try {
    const result = await sink.writeBatch({ group: 'rb', topic, partition: 0, records: records(topic) });
    assert.deepEqual(result.rejected, []);
    // The same rows through JSONEachRow, into a copy of the table.
    const copy = `${table}_json`;
    await client.command({ query: `CREATE TABLE ${db}.${quoteIdent(copy)} AS ${db}.${quoteIdent(table)}` });
    const columns = columnsOf(schema, sink.capabilities);
    const rows = records(topic).map((r) => {
      const row: Record<string, unknown> = {};
      for (const c of columns) row[c.name] = c.convert((r.value as Record<string, unknown>)[c.name]);
      return Object.assign(row, {
        _topic: r.topic,
        _partition: r.partition,
        _offset: String(r.offset),
        _timestamp: formatDateTime(r.timestamp, sink.capabilities),
        _key: r.key,
      });
    });
    await client.insert({ table: `${db}.${quoteIdent(copy)}`, values: rows, format: 'JSONEachRow' });
    const read = (name: string) => query(`SELECT * FROM ${db}.${quoteIdent(name)} ORDER BY _offset`);
    const binary = await read(table);
    assert.equal(binary.length, values.length);
    assert.deepEqual(binary, await read(copy));
    // And a few values as themselves.
    const [max, mins, large] = binary as Record<string, unknown>[];
    assert.equal(max?.ns, values[0]?.ns);
    assert.equal(max?.i, 2_147_483_647);
    assert.equal(max?.l, String(Number.MAX_SAFE_INTEGER));
    assert.equal(max?.raw, Buffer.from([0, 255, 10]).toString('base64'));
    assert.equal(max?.day, '2105-12-31');
    assert.deepEqual(max?.as, ['', 'ä', 'x'.repeat(200)]);
    assert.equal(mins?.ns, null);
    assert.equal(mins?.nas === null || Array.isArray(mins?.nas), true);
    assert.equal(mins?.u, '42');
    assert.equal(large?.ns, big);
    assert.equal((large?.ai as number[] | undefined)?.length, 1000);
    assert.equal(large?._timestamp, '2024-02-29 12:00:00');
    await client.command({ query: `DROP TABLE IF EXISTS ${db}.${quoteIdent(copy)}` });
  } finally {
    await sink.close();
  }
});

/**
 * A table written once, then altered by hand (`alter`, after `ALTER TABLE <table>`), then
 * written again by a new sink: the second write's result and the table's name.
 */
async function writeAfterHandAlter(prefix: string, alter: string) {
  const topic = `${prefix}_${Date.now().toString(36)}`;
  const table = tableName(topic);
  const first = new ClickHouseSink(config, createLogger('test.rowbinary'));
  await first.connect();
  await first.writeBatch({ group: 'rb', topic, partition: 0, records: records(topic).slice(0, 1) });
  await first.close();
  await client.command({ query: `ALTER TABLE ${db}.${quoteIdent(table)} ${alter}` });
  const second = new ClickHouseSink(config, createLogger('test.rowbinary'));
  await second.connect();
  try {
    const later = records(topic)
      .slice(1, 2)
      .map((r) => ({ ...r, offset: 5n }));
    const result = await second.writeBatch({ group: 'rb', topic, partition: 0, records: later });
    return { result, table };
  } finally {
    await second.close();
  }
}

test('a table with a column type RowBinary is not written for here (added by hand) is written as JSONEachRow', async () => {
  const { result, table } = await writeAfterHandAlter(
    'rb_fallback',
    `ADD COLUMN mood Enum8('calm' = 1, 'busy' = 2)`,
  );
  assert.deepEqual(result.rejected, []);
  const rows = await query(`SELECT id, mood FROM ${db}.${quoteIdent(table)} ORDER BY _offset`);
  assert.deepEqual(rows, [
    { id: 'edges-max', mood: 'calm' },
    { id: 'nulls-and-mins', mood: 'calm' },
  ]);
});

test('MATERIALIZED and ALIAS columns added by hand are left to ClickHouse: rows still go in, the view is kept', async () => {
  const { result, table } = await writeAfterHandAlter(
    'rb_computed',
    'ADD COLUMN id_length UInt64 MATERIALIZED length(id), ADD COLUMN id_upper String ALIAS upper(id)',
  );
  assert.deepEqual(result.rejected, []);
  const rows = await query(`SELECT id, id_length, id_upper FROM ${db}.${quoteIdent(table)} ORDER BY _offset`);
  assert.deepEqual(rows, [
    { id: 'edges-max', id_length: '9', id_upper: 'EDGES-MAX' },
    { id: 'nulls-and-mins', id_length: '14', id_upper: 'NULLS-AND-MINS' },
  ]);
  const view = await query(`SELECT id FROM ${db}.${quoteIdent(`${table}_dedup`)} ORDER BY id`);
  assert.equal(view.length, 2);
});

test.after(() => client.close());
