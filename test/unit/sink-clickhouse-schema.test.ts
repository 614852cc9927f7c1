/**
 * The ClickHouse sink's schema decisions (issue 9, defects 3–7), pure: value ranges, which
 * column changes are widened and which stop the sink, the SQL of the entity views with
 * tombstones, and which server errors mean "the table changed" rather than "bad data".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AvroRecordSchema } from '../../consumers/sink.ts';
import {
  alterColumnsSql,
  columnChange,
  columnsOf,
  createTableSql,
  createViewSql,
  metadataColumns,
} from '../../consumers/sinks/clickhouse/schema.ts';
import { classify, SchemaChangedError } from '../../consumers/sinks/clickhouse/service.ts';
import { detectCapabilities } from '../../consumers/sinks/clickhouse/sink.ts';
import { EXIT, FatalError, isRetriable, PoisonError } from '../../core/errors.ts';

const OLD = detectCapabilities('18.16.1');
const NEW = detectCapabilities('25.8.3.66');

const schema: AvroRecordSchema = {
  type: 'record',
  name: 'T',
  fields: [
    { name: 'day', type: { type: 'int', logicalType: 'date' } },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'us', type: { type: 'long', logicalType: 'timestamp-micros' } },
    { name: 'days', type: { type: 'array', items: { type: 'int', logicalType: 'date' } } },
    { name: 'u', type: ['null', 'long', 'string'], default: null },
  ],
};
const converters = (caps = OLD) =>
  Object.fromEntries(columnsOf(schema, caps).map((c) => [c.name, c.convert]));

test('dates and times outside what the server holds are refused by the conversion, naming the value', () => {
  const c = converters();
  assert.equal(c.day?.(0), '1970-01-01');
  assert.equal(c.day?.(49_672), '2105-12-31', 'the last day 18.16 holds');
  for (const day of [-1, 49_673, 1_000_000_000]) assert.throws(() => c.day?.(day), /out of range/);
  assert.equal(c.ts?.(Date.UTC(2105, 11, 31, 23, 59, 59)), '2105-12-31 23:59:59');
  for (const ms of [-1000, Date.UTC(2106, 0, 1), 9e15, Number.NaN])
    assert.throws(() => c.ts?.(ms), /out of range/);
  assert.throws(() => c.us?.(Date.UTC(2200, 0, 1) * 1000), /out of range/);
  assert.throws(() => c.days?.([19_000, -5]), /out of range/, 'inside arrays too');
  // A current server holds a wider range (DateTime64 from 1925 on, Date to 2149).
  const n = converters(NEW);
  assert.equal(n.ts?.(Date.UTC(1950, 0, 1)), '1950-01-01 00:00:00.000');
  assert.equal(n.day?.(65_535), '2149-06-06');
  assert.throws(() => n.day?.(65_536), /out of range/);
});

test('a union mapped to text keeps a string as itself (a string widened to a union reads as before)', () => {
  const c = converters();
  assert.equal(c.u?.('hello'), 'hello');
  assert.equal(c.u?.(5), '5');
  assert.equal(c.u?.(null), null);
});

test('JSON columns: bytes anywhere inside (named fixed types too) are base64, not {"type":"Buffer",…}; bigints their digits', () => {
  const nested: AvroRecordSchema = {
    type: 'record',
    name: 'N',
    fields: [
      { name: 'plain', type: { type: 'record', name: 'P', fields: [{ name: 'a', type: 'long' }] } },
      { name: 'blob', type: { type: 'map', values: 'bytes' } },
      {
        name: 'parts',
        type: {
          type: 'array',
          items: {
            type: 'record',
            name: 'Q',
            fields: [{ name: 'f', type: { type: 'fixed', name: 'F', size: 2 } }],
          },
        },
      },
      { name: 'again', type: { type: 'array', items: 'Q' } },
    ],
  };
  const c = Object.fromEntries(columnsOf(nested, OLD).map((col) => [col.name, col.convert]));
  assert.equal(c.plain?.({ a: 5 }), '{"a":5}');
  assert.equal(c.plain?.({ a: 5n }), '{"a":"5"}', 'a bigint still writes its digits');
  assert.equal(c.blob?.({ k: Buffer.from('hi') }), '{"k":"aGk="}');
  assert.equal(c.parts?.([{ f: Buffer.from([1, 2]) }]), '[{"f":"AQI="}]');
  assert.equal(c.again?.([{ f: Buffer.from([1, 2]) }]), '[{"f":"AQI="}]', 'through a named reference');
});

test('column changes: the registry promotions ClickHouse can widen exactly are widened; others refused', () => {
  const keep = { action: 'keep' };
  const modify = (type: string) => ({ action: 'modify', type });
  const cases: [string, string, object][] = [
    ['Int32', 'Int32', keep],
    ['Int32', 'Int64', modify('Int64')],
    ['Int32', 'Float64', modify('Float64')],
    ['Float32', 'Float64', modify('Float64')],
    ['String', 'Nullable(String)', modify('Nullable(String)')],
    ['Int32', 'Nullable(Int64)', modify('Nullable(Int64)')],
    ['Nullable(Int32)', 'Int64', modify('Nullable(Int64)')],
    ['Array(Int32)', 'Array(Int64)', modify('Array(Int64)')],
    ["DateTime('UTC')", "DateTime64(3, 'UTC')", modify("DateTime64(3, 'UTC')")],
    ["Nullable(DateTime('UTC'))", "DateTime('UTC')", keep],
    // Older records arriving after a widening fit the wider column.
    ['Int64', 'Int32', keep],
    ['Float64', 'Float32', keep],
    ['Float64', 'Int32', keep],
    ['Nullable(String)', 'String', keep],
    ['Array(Int64)', 'Array(Int32)', keep],
    // A column a person widened by hand to Float64 takes longs (rounding is their choice).
    ['Float64', 'Int64', keep],
  ];
  for (const [have, want, expected] of cases)
    assert.deepEqual(columnChange(have, want), expected, `${have} → ${want}`);
  for (const [have, want] of [
    ['Int32', 'Float32'], // loses precision above 2^24
    ['Int64', 'Float64'], // above 2^53
    ['Int64', 'String'],
    ['String', 'Int64'],
    ['Date', "DateTime('UTC')"],
    ['Array(String)', 'String'],
    ['Int64', 'UInt8'],
  ]) {
    const change = columnChange(have as string, want as string);
    assert.equal(change.action, 'refuse', `${have} → ${want}`);
  }
});

test('ALTER: added and widened columns in one statement', () => {
  assert.equal(
    alterColumnsSql('chat', 't', [{ name: 'a', type: 'String' }], [{ name: 'n', type: 'Int64' }]),
    'ALTER TABLE `chat`.`t` ADD COLUMN `a` String, MODIFY COLUMN `n` Int64',
  );
});

test('entity views: the latest row per key by (_timestamp, _offset), keys whose latest row is a tombstone hidden', () => {
  const policy = { kind: 'latest', tombstones: true } as const;
  assert.equal(
    createViewSql('chat', 'freshchat_users', policy),
    'CREATE VIEW IF NOT EXISTS `chat`.`freshchat_users_dedup` AS SELECT * FROM (SELECT * FROM `chat`.`freshchat_users` FINAL ORDER BY _key, _timestamp DESC, _offset DESC LIMIT 1 BY _key) WHERE _deleted = 0',
  );
  assert.deepEqual(
    metadataColumns(OLD, policy).map((c) => `${c.name} ${c.type}`),
    [
      '_topic String',
      '_partition Int32',
      '_offset Int64',
      "_timestamp DateTime('UTC')",
      '_key String',
      '_deleted UInt8',
    ],
  );
  assert.match(
    createTableSql('chat', 'freshchat_users', [], OLD, policy),
    /`_key` String,\n {2}`_deleted` UInt8\n\)/,
  );
  // Topics without tombstones: no _deleted column, the views as they were.
  assert.doesNotMatch(createTableSql('chat', 't', [], OLD), /_deleted/);
  assert.equal(
    createViewSql('chat', 'freshchat_messages', { kind: 'latest' }),
    'CREATE VIEW IF NOT EXISTS `chat`.`freshchat_messages_dedup` AS SELECT * FROM `chat`.`freshchat_messages` FINAL ORDER BY _key, _timestamp DESC, _offset DESC LIMIT 1 BY _key',
  );
});

test('ClickHouse errors: an unknown column is a schema change (retried after re-reading), not bad data; bad credentials exit 3', () => {
  for (const error of [
    Object.assign(
      new Error(
        'Code: 117, e.displayText() = DB::Exception: Unknown field found while parsing JSONEachRow format: score: (at row 1)',
      ),
      { code: '117' },
    ),
    Object.assign(new Error('Code: 16, e.displayText() = DB::Exception: No such column score in table'), {
      code: '16',
    }),
  ]) {
    const decided = classify(error);
    assert.ok(decided instanceof SchemaChangedError, decided.message);
    assert.ok(isRetriable(decided) && !(decided instanceof PoisonError));
  }
  const other117 = classify(Object.assign(new Error('Code: 117: Unexpected NULL value'), { code: '117' }));
  assert.ok(other117 instanceof PoisonError, 'other INCORRECT_DATA stays bad data');
  const auth = classify(Object.assign(new Error('Authentication failed'), { code: '516' }));
  assert.ok(auth instanceof FatalError && auth.exitCode === EXIT.config, auth.message);
});
