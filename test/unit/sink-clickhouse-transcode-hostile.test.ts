/**
 * The transcoder on bytes and names crafted to part it from the decode-then-encode path (a
 * reviewer's findings): huge maps, overlong varints, keys that are not UTF-8, field names that
 * are Object.prototype's. Each case must give the same bytes and rejections both ways, given
 * back to the slow path where the transcoder cannot be sure.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import avro from 'avsc';
import { LazyRecord } from '../../consumers/lazy-record.ts';
import type { AvroRecordSchema, Rejected } from '../../consumers/sink.ts';
import { encodeRows, planRows } from '../../consumers/sinks/clickhouse/request.ts';
import { RowBinaryWriter } from '../../consumers/sinks/clickhouse/rowbinary.ts';
import { columnsOf } from '../../consumers/sinks/clickhouse/schema.ts';
import { both, OLD, sameRejections, tableOf, varint, wire } from '../helpers/transcode-both.ts';

/** An Avro string. */
const str = (text: string | Buffer) => {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  return [...varint(bytes.length), ...bytes];
};

/** The wire format (schema id 7) of Avro body bytes. */
const wireOf = (...parts: (readonly number[])[]) => Buffer.from([0, 0, 0, 0, 7, ...parts.flat()]);

const MAP_OF_INT: AvroRecordSchema = {
  type: 'record',
  name: 'M',
  fields: [{ name: 'attrs', type: { type: 'map', values: 'int' } }],
};

/** One map block of these keys (value i for the i-th), then the end of the map. */
const mapBlock = (keys: (string | Buffer)[]) => [
  ...varint(keys.length),
  ...keys.flatMap((k, i) => [...str(k), ...varint(i)]),
  0,
];

test('a map of 20,000 keys is written as before; a key repeated far apart is found and given back', () => {
  const keys = Array.from({ length: 20_000 }, (_, i) => `k${i.toString(36)}`);
  // Before: every key compared with every earlier one (20,000 keys: 36 s on one core).
  const many = both(MAP_OF_INT, [wireOf(mapBlock(keys))]);
  assert.deepEqual(many.fast, many.slow);
  assert.equal(many.givenBack, 0);
  assert.ok(many.fast.length > 200_000);
  // Repeats past the first few keys (where a Set takes over), and among the first few.
  const late = [...keys.slice(0, 15_000), 'k3', ...keys.slice(15_000)];
  const early = ['a', 'b', 'c', 'b', 'd'];
  const ninth = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'a'];
  const repeated = both(MAP_OF_INT, [
    wireOf(mapBlock(late)),
    wireOf(mapBlock(early)),
    wireOf(mapBlock(ninth)),
  ]);
  assert.deepEqual(repeated.fast, repeated.slow);
  assert.equal(repeated.givenBack, 3);
  assert.equal(repeated.fastRejected.length, 0);
  // The repeated key keeps its first place and takes its last value, as JSON.stringify wrote it.
  assert.ok(repeated.slow.includes(Buffer.from('{"a":0,"b":3,"c":2,"d":4}')));
});

/** A varint of 160 bytes avsc reads as NaN (last byte 0) or Infinity (last byte 1). */
const overlong = (last: 0 | 1) => [...Array(160).fill(0xff), last];

/** A record holding a JSON column of a list (array or map of int) and two ints after it. */
const listThenInts = (list: unknown): AvroRecordSchema => ({
  type: 'record',
  name: 'R',
  fields: [
    { name: 'id', type: 'string' },
    {
      name: 'meta',
      type: {
        type: 'record',
        name: 'M',
        fields: [
          { name: 'list', type: list },
          { name: 'x', type: 'int' },
          { name: 'y', type: 'int' },
        ],
      },
    },
  ],
});

test('a list block count that is not a number ends the list in avsc: given back, so bytes avsc refuses are undecodable', () => {
  for (const [list, block] of [
    [{ type: 'array', items: 'int' }, [4, 2, 4, 0]], // [1, 2]
    [{ type: 'map', values: 'int' }, [2, ...str('a'), 4, 0]], // {"a": 2}
  ] as const) {
    const messages = [
      // NaN, then a block: avsc ends the list at NaN, reads x and y from the block and refuses
      // the rest as trailing data; read on past NaN, the same bytes were a list and x = 3, y = 4.
      wireOf(str('nan'), overlong(0), block, [6, 8]),
      // A NaN count avsc reads to the end (an empty list, x = 3, y = 4): written as avsc reads it.
      wireOf(str('nan-fits'), overlong(0), [6, 8]),
      // Infinity as a count: refused (avsc for an array; avro-bounds.ts for a map, which avsc
      // read without end).
      wireOf(str('infinite'), overlong(1), [6, 8]),
      wireOf(str('fine'), block, [6, 8]),
    ];
    const result = both(listThenInts(list), messages);
    assert.deepEqual(result.fast, result.slow, list.type);
    sameRejections(result);
    assert.deepEqual(
      result.fastRejected.map((r) => [r.record.offset, r.kind]),
      [
        [1000n, 'undecodable'],
        [1002n, 'undecodable'],
      ],
      list.type,
    );
    assert.match(result.fastRejected[0]?.reason ?? '', /trailing data/);
    assert.equal(result.givenBack, 3, list.type);
    assert.ok(result.fast.includes(Buffer.from(`{"list":${list.type === 'map' ? '{}' : '[]'},"x":3,"y":4}`)));
  }
});

test('an int in a JSON column that decodes to NaN or Infinity is written as null, as JSON.stringify writes it', () => {
  const schema: AvroRecordSchema = {
    type: 'record',
    name: 'R',
    fields: [
      { name: 'meta', type: { type: 'record', name: 'M', fields: [{ name: 'n', type: 'int' }] } },
      {
        name: 'list',
        type: { type: 'array', items: { type: 'record', name: 'I', fields: [{ name: 'v', type: 'int' }] } },
      },
    ],
  };
  const result = both(schema, [
    wireOf(overlong(0), [2], overlong(1), [0]),
    wireOf(overlong(1), [0]),
    wireOf([6], [0]),
  ]);
  assert.deepEqual(result.fast, result.slow);
  assert.equal(result.givenBack, 0);
  assert.equal(result.fastRejected.length, 0);
  assert.ok(result.fast.includes(Buffer.from('{"n":null}')));
  assert.ok(result.fast.includes(Buffer.from('[{"v":null}]')));
});

test('map keys that are not UTF-8 are given back: two such keys may decode to one (U+FFFD), written once', () => {
  const result = both(MAP_OF_INT, [
    wireOf(mapBlock([Buffer.from([0xff]), Buffer.from([0xfe])])),
    wireOf(mapBlock(['a', Buffer.from([0x62, 0xc3])])),
    wireOf(mapBlock(['ü', 'é'])),
  ]);
  assert.deepEqual(result.fast, result.slow);
  assert.equal(result.givenBack, 2);
  assert.ok(result.slow.includes(Buffer.from('{"\ufffd":1}')));
  assert.ok(result.fast.includes(Buffer.from('{"ü":0,"é":1}')));
});

test('a huge JSON value does not stay in memory with its plan: the scratch buffer shrinks after the row', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const schema: AvroRecordSchema = {
    type: 'record',
    name: 'R',
    fields: [
      { name: 'meta', type: { type: 'record', name: 'M', fields: [{ name: 'text', type: 'string' }] } },
    ],
  };
  const type = avro.Type.forSchema(schema as avro.Schema);
  const columns = columnsOf(schema, OLD);
  const plans = [0, 1, 2].map(() => planRows(tableOf(schema, OLD), columns, type));
  // Collected, and given a turn of the event loop to free what was collected, three times.
  const retained = async () => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    return process.memoryUsage().arrayBuffers;
  };
  const before = await retained();
  for (const plan of plans) {
    assert.ok(plan?.transcode);
    // 2 MB of control characters: 12 MB of JSON text (\u0001 each).
    const bytes = wire(type, { meta: { text: '\u0001'.repeat(2_000_000) } });
    const record = new LazyRecord('t', 0, 0n, 0, null, { id: 7, schema, type }, bytes);
    const w = new RowBinaryWriter(16);
    assert.equal(plan.transcode(w, record, bytes), true);
    assert.ok(w.pos > 12_000_000);
  }
  const grown = (await retained()) - before;
  // Before: each plan kept a 64 MiB buffer (210 MiB for three; now 18 MiB, whatever the plans).
  assert.ok(grown < 64 << 20, `${Math.round(grown / 2 ** 20)} MiB kept by three plans`);
  assert.equal(plans.length, 3);
});

test("fields named like Object.prototype's members are written as fields; a `__proto__` field as avsc decodes it (not at all)", () => {
  const names = ['toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'constructor'];
  const schema: AvroRecordSchema = {
    type: 'record',
    name: 'R',
    fields: [
      ...names.map((name) => ({ name, type: 'string' })),
      {
        name: 'meta',
        type: {
          type: 'record',
          name: 'M',
          fields: [
            { name: '__proto__', type: ['null', { type: 'map', values: 'int' }] },
            { name: 'a', type: 'int' },
          ],
        },
      },
    ],
  };
  const strings = names.map((name) => str(`v-${name}`));
  const result = both(schema, [wireOf(...strings, [2, 2, ...str('k'), 2, 0, 4])]);
  assert.deepEqual(result.fast, result.slow);
  assert.equal(result.fastRejected.length, 0);
  assert.equal(result.givenBack, 0);
  // The row begins with the five strings and the JSON of meta without `__proto__`.
  const rowBinary = (text: string) => [text.length, ...Buffer.from(text)];
  const row = Buffer.from([...names.flatMap((name) => rowBinary(`v-${name}`)), ...rowBinary('{"a":2}')]);
  assert.equal(result.fast.subarray(0, row.length).toString('latin1'), row.toString('latin1'));
  // A top-level `__proto__` field: no transcoder; the slow path writes its default ('').
  const top: AvroRecordSchema = {
    type: 'record',
    name: 'P',
    fields: [
      { name: '__proto__', type: 'string' },
      { name: 'b', type: 'string' },
    ],
  };
  const type = avro.Type.forSchema(top as avro.Schema);
  const plan = planRows(tableOf(top, OLD), columnsOf(top, OLD), type);
  assert.ok(plan);
  assert.equal(plan.transcode, undefined);
  const bytes = wireOf(str('p'), str('b'));
  const w = new RowBinaryWriter(16);
  const rejected: Rejected[] = [];
  encodeRows(
    w,
    [new LazyRecord('t', 0, 0n, 0, null, { id: 7, schema: top, type }, bytes)],
    () => plan,
    rejected,
  );
  assert.deepEqual(rejected, []);
  assert.equal(w.bytes().subarray(0, 3).toString('latin1'), '\x00\x01b');
});

test('a JSON column nested deeper than the transcoder goes (500 levels) is given back: the slow path writes it, or refuses it as avsc does', () => {
  const schema: AvroRecordSchema = {
    type: 'record',
    name: 'J',
    fields: [
      {
        name: 'j',
        type: { type: 'record', name: 'N', fields: [{ name: 'next', type: ['null', 'N'] }] },
      },
    ],
  };
  // N { next: branch 1 (N) } d times, then branch 0 (null).
  const nested = (d: number) => Buffer.from([0, 0, 0, 0, 7, ...Array(d).fill(2), 0]);
  const shallow = both(schema, [nested(400)]);
  assert.deepEqual(shallow.fast, shallow.slow);
  assert.equal(shallow.givenBack, 0);
  const deep = both(schema, [nested(600)]);
  assert.deepEqual(deep.fast, deep.slow);
  assert.equal(deep.givenBack, 1);
  // Far deeper than avsc decodes on a cold stack: both paths refuse it the same way.
  const deeper = both(schema, [nested(20_000)]);
  assert.deepEqual(deeper.fast, deeper.slow);
  sameRejections(deeper);
});
