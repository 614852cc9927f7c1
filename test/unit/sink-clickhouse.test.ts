import assert from 'node:assert/strict';
import { test } from 'node:test';
import avro from 'avsc';
import { decodedSize } from '../../consumers/runner.ts';
import type { AvroRecordSchema } from '../../consumers/sink.ts';
import { sinkMetrics } from '../../consumers/sink-metrics.ts';
import { JsonRows } from '../../consumers/sinks/clickhouse/json-rows.ts';
import {
  addColumnsSql,
  columnsOf,
  createTableSql,
  formatDateTime,
  quoteString,
  tableName,
} from '../../consumers/sinks/clickhouse/schema.ts';
import { type ClickHouseService, classify } from '../../consumers/sinks/clickhouse/service.ts';
import { detectCapabilities } from '../../consumers/sinks/clickhouse/sink.ts';
import { isRetriable, PoisonError } from '../../core/errors.ts';
import { createMetricsRegistry } from '../../core/metrics.ts';

const OLD = detectCapabilities('18.16.1');
const NEW = detectCapabilities('25.8.3.66');

const schema: AvroRecordSchema = {
  type: 'record',
  name: 'T',
  fields: [
    { name: 's', type: 'string' },
    { name: 'i', type: 'int' },
    { name: 'l', type: 'long' },
    { name: 'f', type: 'float' },
    { name: 'd', type: 'double' },
    { name: 'b', type: 'boolean' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'ots', type: ['null', { type: 'long', logicalType: 'timestamp-millis' }], default: null },
    { name: 'day', type: { type: 'int', logicalType: 'date' } },
    { name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B'] } },
    { name: 'os', type: ['null', 'string'], default: null },
    { name: 'tags', type: { type: 'array', items: 'string' } },
    { name: 'otags', type: ['null', { type: 'array', items: 'long' }], default: null },
    { name: 'rec', type: { type: 'record', name: 'R', fields: [{ name: 'x', type: 'int' }] } },
    { name: 'orec', type: ['null', 'R'], default: null },
    { name: 'm', type: { type: 'map', values: 'string' } },
    { name: 'u', type: ['null', 'long', 'string'], default: null },
    { name: 'parts', type: { type: 'array', items: 'R' } },
  ],
};

test('the documented Avro → ClickHouse type mapping, on 18.16 and on a current server', () => {
  const types = (caps: typeof OLD) =>
    Object.fromEntries(columnsOf(schema, caps).map((c) => [c.name, c.type]));
  assert.deepEqual(types(OLD), {
    s: 'String',
    i: 'Int32',
    l: 'Int64',
    f: 'Float32',
    d: 'Float64',
    b: 'UInt8',
    ts: "DateTime('UTC')",
    ots: "Nullable(DateTime('UTC'))",
    day: 'Date',
    e: 'String',
    os: 'Nullable(String)',
    tags: 'Array(String)',
    otags: 'Array(Int64)',
    rec: 'String',
    orec: 'Nullable(String)',
    m: 'String',
    u: 'Nullable(String)',
    parts: 'String',
  });
  assert.equal(types(NEW).ts, "DateTime64(3, 'UTC')");
  assert.equal(types(NEW).ots, "Nullable(DateTime64(3, 'UTC'))");
});

test('values convert to what JSONEachRow expects', () => {
  const convert = (caps: typeof OLD) =>
    Object.fromEntries(columnsOf(schema, caps).map((c) => [c.name, c.convert]));
  const c = convert(OLD);
  assert.equal(c.b?.(true), 1);
  assert.equal(c.ts?.(1669114523126), '2022-11-22 10:55:23');
  assert.equal(convert(NEW).ts?.(1669114523126), '2022-11-22 10:55:23.126');
  assert.equal(c.ots?.(null), null);
  assert.equal(c.day?.(19000), '2022-01-08');
  assert.deepEqual(c.otags?.(null), [], 'a null list is an empty list');
  assert.equal(c.rec?.({ x: 1 }), '{"x":1}');
  assert.equal(c.orec?.(null), null);
  assert.equal(c.m?.({ k: 'v' }), '{"k":"v"}');
  assert.equal(c.u?.(5), '5');
  assert.equal(formatDateTime(0, OLD), '1970-01-01 00:00:00');
});

test('DDL: ReplacingMergeTree ordered by the record key, partitioned by month, metadata columns; ADD COLUMN lists', () => {
  const ddl = createTableSql('chat', 'freshchat_messages', [{ name: 'id', type: 'String' }], OLD);
  assert.match(ddl, /CREATE TABLE IF NOT EXISTS `chat`\.`freshchat_messages`/);
  assert.match(ddl, /`_timestamp` DateTime\('UTC'\)/);
  assert.match(
    ddl,
    /ENGINE = ReplacingMergeTree\(\)\nPARTITION BY toYYYYMM\(_timestamp\)\nORDER BY \(_key, _topic, _partition, _offset\)/,
  );
  assert.equal(
    addColumnsSql('chat', 't', [
      { name: 'a', type: 'String' },
      { name: 'b', type: 'Nullable(Int64)' },
    ]),
    'ALTER TABLE `chat`.`t` ADD COLUMN `a` String, ADD COLUMN `b` Nullable(Int64)',
  );
  assert.equal(tableName('prod.freshchat.messages'), 'prod_freshchat_messages');
  assert.equal(quoteString("it's \\ ok"), "'it\\'s \\\\ ok'");
  assert.equal(detectCapabilities('20.1.2').dateTime64, true);
  assert.equal(detectCapabilities('19.17.9').dateTime64, false);
});

test('ClickHouse errors map to decisions through the table: bad data, fatal, retriable', () => {
  const bad = classify(Object.assign(new Error('Cannot parse input'), { code: '27' }));
  assert.ok(
    bad instanceof PoisonError &&
      bad.kind === 'bad_data' &&
      /CANNOT_PARSE_INPUT_ASSERTION_FAILED \(27\)/.test(bad.message),
  );
  const auth = classify(Object.assign(new Error('Authentication failed'), { code: '516' }));
  assert.ok(
    !isRetriable(auth) &&
      !(auth instanceof PoisonError) &&
      /CHATSTREAM_CLICKHOUSE_PASSWORD/.test(auth.message),
  );
  assert.ok(
    isRetriable(
      classify(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' })),
    ),
  );
  assert.ok(isRetriable(classify(Object.assign(new Error('Too many parts'), { code: '252' }))));
  assert.ok(
    isRetriable(classify(new Error('Code: 241, e.displayText() = DB::Exception: Memory limit exceeded'))),
  );
});

test('sink metrics: the documented names and labels, on the registry given', async () => {
  const registry = createMetricsRegistry();
  const m = sinkMetrics(registry);
  m.recordsIn.inc({ topic: 'a"b' }, 2);
  m.deadLetters.inc({ topic: 't', kind: 'undecodable' }, 2);
  m.lag.set({ topic: 't', partition: 1 }, 5);
  m.flushSeconds.observe({ topic: 't' }, 0.5);
  const text = await registry.metrics();
  assert.match(
    text,
    /# TYPE chatstream_sink_records_in_total counter\nchatstream_sink_records_in_total\{topic="a\\"b"\} 2/,
  );
  assert.match(text, /chatstream_sink_dead_letters_total\{topic="t",kind="undecodable"\} 2/);
  assert.match(text, /chatstream_sink_lag\{topic="t",partition="1"\} 5/);
  assert.match(text, /chatstream_sink_flush_seconds_bucket\{le="0.25",topic="t"\} 0\n/);
  assert.match(text, /chatstream_sink_flush_seconds_bucket\{le="0.5",topic="t"\} 1\n/);
  assert.match(text, /chatstream_sink_flush_seconds_count\{topic="t"\} 1/);
  assert.match(text, /process_resident_memory_bytes \d+/);
  assert.equal(decodedSize(100), 656);
});

test('JSONEachRow rows: a field named like an Object.prototype member is the field; a `__proto__` field (avsc gives it no value) is left out', () => {
  const odd: AvroRecordSchema = {
    type: 'record',
    name: 'Odd',
    fields: [
      { name: 'toString', type: 'string' },
      { name: 'constructor', type: 'long' },
      { name: '__proto__', type: 'long' },
    ],
  };
  const type = avro.Type.forSchema(odd as avro.Schema);
  const value = type.fromBuffer(Buffer.from([2, 0x61, 4, 6])) as Record<string, unknown>;
  const record = {
    topic: 't',
    partition: 0,
    offset: 5n,
    timestamp: 0,
    key: 'k',
    value,
    schemaId: 1,
    schema: odd,
    bytes: 4,
  };
  const json = new JsonRows({} as ClickHouseService, () => OLD);
  const [item] = json.items([record], new Map([[1, columnsOf(odd, OLD)]]), []);
  const row = item?.row as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(row), Object.prototype);
  assert.deepEqual(JSON.parse(JSON.stringify(row)), {
    toString: 'a',
    constructor: 2,
    _topic: 't',
    _partition: 0,
    _offset: '5',
    _timestamp: '1970-01-01 00:00:00',
    _key: 'k',
  });
});
