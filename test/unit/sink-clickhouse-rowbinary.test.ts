/** The RowBinary writer and the row plans of the ClickHouse sink, byte for byte (no server). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AvroRecordSchema, Rejected, SinkRecord } from '../../consumers/sink.ts';
import { encodeRows, planRows, WriterPool } from '../../consumers/sinks/clickhouse/request.ts';
import { RowBinaryWriter, writerFor } from '../../consumers/sinks/clickhouse/rowbinary.ts';
import { columnsOf } from '../../consumers/sinks/clickhouse/schema.ts';
import { detectCapabilities } from '../../consumers/sinks/clickhouse/sink.ts';

const OLD = detectCapabilities('18.16.1');

function bytes(type: string, value: unknown, size = 16): number[] {
  const w = new RowBinaryWriter(size);
  const write = writerFor(type);
  assert.ok(write, type);
  write(w, value);
  return [...w.bytes()];
}

test('strings: a LEB128 length, then UTF-8; ASCII, multi-byte, surrogate pairs, lengths around the one-byte varint', () => {
  assert.deepEqual(bytes('String', 'ab'), [2, 97, 98]);
  assert.deepEqual(bytes('String', ''), [0]);
  assert.deepEqual(bytes('String', 'é€😀'), [9, ...Buffer.from('é€😀')]);
  for (const length of [42, 43, 127, 128, 300, 20_000]) {
    const s = `${'x'.repeat(length - 1)}ü`;
    const utf8 = Buffer.from(s);
    const out = Buffer.from(bytes('String', s, 1));
    let n = 0;
    let shift = 0;
    let i = 0;
    for (;;) {
      const b = out[i++] as number;
      n += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) break;
    }
    assert.equal(n, utf8.length, `length ${length}`);
    assert.deepEqual(out.subarray(i), utf8, `length ${length}`);
  }
  // A number reaching a String column (a union's text) is written as its text.
  assert.deepEqual(bytes('String', 12), [2, 49, 50]);
});

test('numbers little-endian, edges included; undefined writes the default', () => {
  assert.deepEqual(bytes('Int32', -2_147_483_648), [0, 0, 0, 0x80]);
  assert.deepEqual(bytes('Int32', 2_147_483_647), [0xff, 0xff, 0xff, 0x7f]);
  assert.deepEqual(bytes('Int64', -1), [255, 255, 255, 255, 255, 255, 255, 255]);
  const big = Buffer.alloc(8);
  for (const v of [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 40 + 5, -(2 ** 33) - 7]) {
    big.writeBigInt64LE(BigInt(v));
    assert.deepEqual(bytes('Int64', v), [...big], String(v));
  }
  // Bigints (Kafka offsets): inside the safe range as numbers, beyond it as bigints.
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  for (const v of [0n, 42n, max, -max, max + 1n, -max - 1n, 2n ** 63n - 1n, -(2n ** 63n)]) {
    big.writeBigInt64LE(v);
    assert.deepEqual(bytes('Int64', v), [...big], `${v}n`);
  }
  assert.deepEqual(bytes('Float64', 0.1), [...new Uint8Array(new Float64Array([0.1]).buffer)]);
  assert.deepEqual(bytes('Float32', -1.5), [0, 0, 0xc0, 0xbf]);
  assert.deepEqual(bytes('UInt8', true), [1]);
  assert.deepEqual(bytes('Int64', undefined), [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(bytes('Int32', undefined), [0, 0, 0, 0]);
  assert.throws(() => bytes('Int32', 2 ** 31), RangeError);
});

test('Date as UInt16 days, DateTime as UInt32 seconds, DateTime64(3) as Int64 milliseconds', () => {
  assert.deepEqual(bytes('Date', 19_000), [0x38, 0x4a]);
  const ms = Date.UTC(2022, 10, 22, 10, 55, 23, 126);
  const seconds = Buffer.alloc(4);
  seconds.writeUInt32LE(Math.floor(ms / 1000));
  assert.deepEqual(bytes("DateTime('UTC')", ms), [...seconds]);
  assert.deepEqual(bytes('DateTime', ms), [...seconds]);
  const millis = Buffer.alloc(8);
  millis.writeBigInt64LE(BigInt(ms));
  assert.deepEqual(bytes("DateTime64(3, 'UTC')", ms), [...millis]);
});

test('Nullable: a 1 byte for null, 0 then the value; Array: a count, then the items', () => {
  assert.deepEqual(bytes('Nullable(Int32)', null), [1]);
  assert.deepEqual(bytes('Nullable(Int32)', undefined), [1]);
  assert.deepEqual(bytes('Nullable(Int32)', 7), [0, 7, 0, 0, 0]);
  assert.deepEqual(bytes('Nullable(String)', 'a'), [0, 1, 97]);
  assert.deepEqual(bytes('Array(Int32)', [1, -1]), [2, 1, 0, 0, 0, 255, 255, 255, 255]);
  assert.deepEqual(bytes('Array(String)', undefined), [0]);
  assert.deepEqual(bytes('Array(Nullable(String))', ['x', null]), [2, 0, 1, 120, 1]);
});

test('types written here and types left to JSONEachRow', () => {
  for (const type of ['LowCardinality(String)', "Enum8('a' = 1)", 'Decimal(10, 2)', 'UUID', 'DateTime64(6)'])
    assert.equal(writerFor(type), undefined, type);
  assert.equal(writerFor('Array(LowCardinality(String))'), undefined);
  assert.equal(writerFor('Nullable(Decimal(10, 2))'), undefined);
});

test('the buffer grows and keeps what is written; reset shrinks an oversized one', () => {
  const w = new RowBinaryWriter(4);
  for (let i = 0; i < 1000; i++) w.string('abc');
  assert.equal(w.pos, 4000);
  assert.equal(w.bytes().toString('latin1', 0, 8), '\x03abc\x03abc');
  w.reset(1024, 16);
  assert.equal(w.pos, 0);
  assert.equal(w.buf.length, 16);
});

const schema: AvroRecordSchema = {
  type: 'record',
  name: 'R',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'day', type: { type: 'int', logicalType: 'date' } },
    { name: 'n', type: ['null', 'long'] },
  ],
};

const record = (offset: number, value: Record<string, unknown> | null): SinkRecord => ({
  topic: 't',
  partition: 1,
  offset: BigInt(offset),
  timestamp: 1_000_000,
  key: `k${offset}`,
  value,
  schemaId: 1,
  schema,
  bytes: 10,
});

test('rows follow the table columns; a value no column holds rejects its row only, naming the field', () => {
  const table = new Map([
    ['id', 'String'],
    ['day', 'Date'],
    ['n', 'Nullable(Int64)'],
    ['extra', 'Array(String)'], // a column of another schema version: its default
    ['_topic', 'String'],
    ['_partition', 'Int32'],
    ['_offset', 'Int64'],
    ['_timestamp', "DateTime('UTC')"],
    ['_key', 'String'],
  ]);
  const plan = planRows(table, columnsOf(schema, OLD));
  assert.ok(plan);
  const rejected: Rejected[] = [];
  const w = new RowBinaryWriter(8);
  const body = encodeRows(
    w,
    [
      record(0, { id: 'a', day: 1, n: null }),
      record(1, { id: 'b', day: 99_999, n: 5 }),
      record(2, { id: 'c', day: 2, n: 3 }),
    ],
    () => plan,
    rejected,
  );
  assert.deepEqual(body.columns, [...table.keys()]);
  assert.deepEqual(
    body.records.map((r) => r.offset),
    [0n, 2n],
  );
  assert.equal(rejected.length, 1);
  assert.match(rejected[0]?.reason ?? '', /^field "day": date .* is out of range for ClickHouse Date/);
  const row = (id: string, day: number, n: number[], offset: number) => [
    1,
    id.charCodeAt(0),
    day,
    0,
    ...n,
    0,
    1,
    116,
    1,
    0,
    0,
    0,
    offset,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0xe8,
    0x03,
    0,
    0,
    2,
    107,
    48 + offset,
  ];
  const first = row('a', 1, [1], 0);
  const third = row('c', 2, [0, 3, 0, 0, 0, 0, 0, 0, 0], 2);
  assert.deepEqual([...w.bytes()], [...first, ...third]);
  assert.deepEqual(body.starts, [0, first.length, first.length + third.length]);
  assert.equal(planRows(new Map([['x', 'UUID']]), []), undefined);
});

test('a schema field the table lacks gives no plan (JSONEachRow then names the unknown field) instead of being dropped', () => {
  const table = new Map([
    ['id', 'String'],
    ['day', 'Date'], // no column `n`
    ['_topic', 'String'],
  ]);
  assert.equal(planRows(table, columnsOf(schema, OLD)), undefined);
  assert.ok(planRows(new Map([...table, ['n', 'Nullable(Int64)']]), columnsOf(schema, OLD)));
});

test('an error that is not about the value (a bug) is thrown, not turned into a dead letter', () => {
  const plan = planRows(new Map([['id', 'String']]), []);
  assert.ok(plan);
  const broken = {
    ...plan,
    write: () => {
      throw new TypeError('a bug');
    },
  };
  const rejected: Rejected[] = [];
  assert.throws(
    () => encodeRows(new RowBinaryWriter(8), [record(0, { id: 'a' })], () => broken, rejected),
    /a bug/,
  );
  assert.equal(rejected.length, 0);
});

test('the writer pool keeps writers with their buffers, up to its bytes all together, so an insert does not allocate its body anew', () => {
  const pool = new WriterPool(16 << 20);
  const a = pool.take();
  a.reserve(10 << 20); // grown by an insert to 16 MiB
  const grown = a.buf;
  pool.give(a);
  const again = pool.take();
  // Identity checks with ok(): a failed equal() would print two 16 MiB buffers in its diff.
  assert.ok(again === a, 'the writer is reused');
  assert.ok(again.buf === grown, 'the 16 MiB buffer is reused, not allocated again');
  assert.equal(again.pos, 0);
  again.reserve(20 << 20); // grown past the pool's bytes: kept at 16 MiB
  pool.give(again);
  const shrunk = pool.take();
  assert.ok(shrunk === again && shrunk.buf.length === 16 << 20, 'kept, at 16 MiB');
  const [y, z] = [pool.take(), pool.take()];
  pool.give(shrunk);
  pool.give(y);
  pool.give(z);
  // 16 MiB kept: another 1 MiB would pass the pool's bytes, so y and z go.
  const kept = new Set([pool.take(), pool.take()]);
  assert.ok(kept.has(shrunk) && !kept.has(y) && !kept.has(z), 'only what fits is kept');
  const small = new WriterPool(4 << 20);
  const [p, q, r] = [small.take(), small.take(), small.take()];
  for (const w of [p, q, r]) small.give(w);
  const reused = new Set([small.take(), small.take(), small.take(), small.take()]);
  assert.ok(reused.has(p) && reused.has(q) && reused.has(r), 'three 1 MiB writers fit in 4 MiB');
});
