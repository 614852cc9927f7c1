/**
 * The transcoder (Avro bytes → RowBinary) against the decode-then-encode path it replaces,
 * byte for byte: every curated schema's records (random values from avsc, and the fixtures),
 * every Avro type, unions, widened and missing columns, values out of range, and bytes that do
 * not decode (given back to the slow path, which makes them dead letters of kind undecodable).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import avro from 'avsc';
import type { AvscNode } from '../../consumers/avro-bounds.ts';
import type { AvroRecordSchema } from '../../consumers/sink.ts';
import { metadataColumns } from '../../consumers/sinks/clickhouse/schema.ts';
import { PROJECT_ROOT } from '../../core/settings.ts';
import { RECORD_KINDS, schemaVersions } from '../../schemas/catalog.ts';
import { conform } from '../../schemas/conform.ts';
import { both, NEW, OLD, sameRejections, wire } from '../helpers/transcode-both.ts';

/**
 * A random value of an avsc type (avsc's own `random` recurses without end on recursive
 * schemas): deeper than 3 levels unions take null and lists are empty.
 */
function randomOf(type: avro.Type, depth = 0): unknown {
  const t = type as unknown as AvscNode;
  const n = Math.floor(Math.random() * 4);
  switch (t.typeName) {
    case 'union:unwrapped': {
      const branches = t.types ?? [];
      const nullable = branches.findIndex((b) => b.typeName === 'null');
      const pick = depth > 3 && nullable >= 0 ? nullable : Math.floor(Math.random() * branches.length);
      return randomOf(branches[pick] as avro.Type, depth + 1);
    }
    case 'record':
      return Object.fromEntries((t.fields ?? []).map((f) => [f.name, randomOf(f.type, depth + 1)]));
    case 'array':
      return depth > 3 ? [] : Array.from({ length: n }, () => randomOf(t.itemsType as avro.Type, depth + 1));
    case 'map':
      return depth > 3
        ? {}
        : Object.fromEntries(
            Array.from({ length: n }, (_, i) => [`k${i}`, randomOf(t.valuesType as avro.Type, depth + 1)]),
          );
    default:
      return type.random();
  }
}

test('every curated schema version: random records and the fixtures give the same bytes both ways', () => {
  let schemas = 0;
  for (const kind of RECORD_KINDS)
    for (const version of schemaVersions(kind)) {
      const schema = JSON.parse(version.text) as AvroRecordSchema;
      const type = avro.Type.forSchema(schema as avro.Schema);
      const values: unknown[] = Array.from({ length: 200 }, () => randomOf(type));
      // Times inside the server's range, so rows are written (not only rejected).
      for (const v of values as Record<string, unknown>[])
        for (const [k, x] of Object.entries(v))
          if (typeof x === 'number' && /time|_on$/.test(k)) v[k] = 1_600_000_000_000 + (Math.abs(x) % 1e11);
      for (const caps of [OLD, NEW]) {
        const result = both(
          schema,
          values.map((v) => wire(type, v)),
          caps,
        );
        assert.ok(result.slow.length > 0, version.path);
        assert.deepEqual(result.fast, result.slow, version.path);
        sameRejections(result);
        assert.equal(result.givenBack, 0, `${version.path}: nothing given back`);
      }
      schemas += 1;
    }
  assert.ok(schemas >= 15, `${schemas} schema versions`);
  const fixtures: [string, string][] = [
    ['freshchat.messages', 'message.json'],
    ['freshchat.conversations', 'conversation.json'],
  ];
  for (const [topic, file] of fixtures) {
    const kind = RECORD_KINDS.find((k) => k.topic === topic);
    assert.ok(kind, topic);
    const schema = JSON.parse(schemaVersions(kind).at(-1)?.text ?? '') as AvroRecordSchema;
    const type = avro.Type.forSchema(schema as avro.Schema);
    const sample = JSON.parse(
      readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'freshchat', file), 'utf8'),
    );
    const value = conform(schema, sample).value;
    const result = both(schema, [wire(type, value)]);
    assert.deepEqual(result.fast, result.slow, file);
    assert.equal(result.givenBack, 0);
    assert.equal(result.fastRejected.length, 0);
  }
});

const ALL_TYPES: AvroRecordSchema = {
  type: 'record',
  name: 'All',
  fields: [
    { name: 's', type: 'string' },
    { name: 'ns', type: ['null', 'string'] },
    { name: 'sn', type: ['string', 'null'] },
    { name: 'i', type: 'int' },
    { name: 'ni', type: ['null', 'int'] },
    { name: 'l', type: 'long' },
    { name: 'nl', type: ['null', 'long'] },
    { name: 'f', type: 'float' },
    { name: 'd', type: 'double' },
    { name: 'b', type: 'boolean' },
    { name: 'nb', type: ['null', 'boolean'] },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'nts', type: ['null', { type: 'long', logicalType: 'timestamp-millis' }] },
    { name: 'us', type: { type: 'long', logicalType: 'timestamp-micros' } },
    { name: 'day', type: { type: 'int', logicalType: 'date' } },
    { name: 'raw', type: 'bytes' },
    { name: 'fx', type: { type: 'fixed', name: 'Four', size: 4 } },
    { name: 'e', type: { type: 'enum', name: 'Colour', symbols: ['RED', 'GREEN'] } },
    { name: 'tags', type: { type: 'array', items: 'string' } },
    { name: 'nums', type: { type: 'array', items: 'long' } },
    { name: 'props', type: { type: 'map', values: 'string' } },
    { name: 'nested', type: ['null', { type: 'record', name: 'N', fields: [{ name: 'x', type: 'long' }] }] },
    { name: 'three', type: ['null', 'string', 'long'] },
  ],
};

const allValue = (i: number, text = `text ${i}`) => ({
  s: text,
  ns: i % 2 ? null : `ns ${i} ünïcödé 😀`,
  sn: i % 3 ? `sn ${i}` : null,
  i: i % 2 ? -2_147_483_648 : 2_147_483_647,
  ni: i % 2 ? null : -i,
  l: i % 2 ? Number.MAX_SAFE_INTEGER - 1 : -(2 ** 40) - i,
  nl: i % 2 ? i : null,
  f: 1.5 * i,
  d: -0.1 * i,
  b: i % 2 === 0,
  nb: i % 3 === 0 ? null : i % 3 === 1,
  ts: 1_763_800_000_000 + i,
  nts: i % 2 ? null : 1_700_000_000_000,
  us: 1_763_800_000_000_000 + i,
  day: 19_000 + i,
  raw: Buffer.from([i, 255, 0]),
  fx: Buffer.from([1, 2, 3, i]),
  e: i % 2 ? 'RED' : 'GREEN',
  tags: i % 2 ? [] : ['a', `b${i}`, 'ç'],
  nums: [i, -i, 2 ** 50],
  props: { a: 'x', [`k${i}`]: 'y' },
  nested: i % 2 ? null : { x: i },
  three: i % 3 === 0 ? null : i % 3 === 1 ? `t${i}` : i,
});

test('every Avro type, unions with null first and last, long strings; ClickHouse 18.16 and newer', () => {
  const type = avro.Type.forSchema(ALL_TYPES as avro.Schema);
  const messages = Array.from({ length: 40 }, (_, i) =>
    wire(type, allValue(i, i === 5 ? 'x'.repeat(300) : i === 6 ? 'é'.repeat(5000) : `text ${i}`)),
  );
  for (const caps of [OLD, NEW]) {
    const result = both(ALL_TYPES, messages, caps);
    assert.deepEqual(result.fast, result.slow);
    assert.equal(result.givenBack, 0);
    assert.equal(result.fastRejected.length, 0);
  }
});

test('evolution: widened columns, a column the schema lacks (its default), a Nullable column for a plain field', () => {
  const v1: AvroRecordSchema = {
    type: 'record',
    name: 'E',
    fields: [
      { name: 'id', type: 'string' },
      { name: 'n', type: 'int' },
      { name: 'x', type: 'float' },
      { name: 'opt', type: ['null', 'string'] },
      { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    ],
  };
  const type = avro.Type.forSchema(v1 as avro.Schema);
  const table = new Map([
    ['id', 'Nullable(String)'], // widened to ["null", "string"] by a later version
    ['n', 'Int64'], // int → long
    ['x', 'Float64'], // float → double
    ['opt', 'String'], // made by hand: null as ''
    ['at', "DateTime64(3, 'UTC')"], // after a server upgrade
    ['added', 'Array(String)'], // a later version's field: its default
    ['count', 'Nullable(Int64)'],
    ...metadataColumns(OLD).map((c) => [c.name, c.type] as [string, string]),
  ]);
  const messages = Array.from({ length: 10 }, (_, i) =>
    wire(type, { id: `id${i}`, n: -i, x: i / 4, opt: i % 2 ? null : 'o', at: 1_763_800_000_000 + i }),
  );
  const result = both(v1, messages, OLD, table);
  assert.deepEqual(result.fast, result.slow);
  assert.equal(result.givenBack, 0);
});

test('a value no column holds rejects its row only, with the same reason as before', () => {
  const type = avro.Type.forSchema(ALL_TYPES as avro.Schema);
  const messages = [
    wire(type, allValue(0)),
    wire(type, { ...allValue(1), ts: Date.UTC(2200, 0, 1) }), // past 2105: DateTime on 18.16
    wire(type, { ...allValue(2), nts: -5 }),
    wire(type, { ...allValue(3), day: 70_000 }),
    wire(type, allValue(4)),
  ];
  const result = both(ALL_TYPES, messages);
  assert.deepEqual(result.fast, result.slow);
  sameRejections(result);
  assert.deepEqual(
    result.fastRejected.map((r) => r.reason.slice(0, 12)),
    ['field "ts": ', 'field "nts":', 'field "day":'],
  );
  assert.equal(result.givenBack, 0);
});

test('bytes that do not decode are given back: the slow path makes them undecodable dead letters; other rows are written', () => {
  const type = avro.Type.forSchema(ALL_TYPES as avro.Schema);
  const good = wire(type, allValue(0));
  const truncated = good.subarray(0, good.length - 3);
  const trailing = Buffer.concat([good, Buffer.from([0])]);
  const badUnion = Buffer.from(good);
  // The first field is `s` ("text 0", length 6 → zigzag 12), then `ns`'s union index.
  assert.equal(badUnion[5], 12);
  badUnion[5 + 1 + 6] = 8; // union index 4
  const negative = Buffer.from(good);
  negative[5] = 3; // string length -2
  const strict: AvroRecordSchema = { type: 'record', name: 'L', fields: [{ name: 'l', type: 'long' }] };
  const long = Buffer.from([0, 0, 0, 0, 7, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]); // 2^63 - 1
  const empty = Buffer.from([0, 0, 0, 0, 7]);
  const result = both(ALL_TYPES, [good, truncated, trailing, badUnion, negative, empty, good]);
  assert.deepEqual(result.fast, result.slow);
  sameRejections(result);
  assert.equal(result.fastRejected.length, 5);
  assert.ok(result.fastRejected.every((r) => r.kind === 'undecodable'));
  assert.match(
    result.fastRejected[0]?.reason ?? '',
    /^Avro decoding with schema id 7 failed: truncated buffer/,
  );
  assert.match(result.fastRejected[1]?.reason ?? '', /trailing data/);
  assert.equal(result.givenBack, 5);
  const precision = both(strict, [long, wire(avro.Type.forSchema(strict as avro.Schema), { l: 5 })]);
  assert.deepEqual(precision.fast, precision.slow);
  sameRejections(precision);
  assert.match(precision.fastRejected[0]?.reason ?? '', /potential precision loss/);
});

test('a string that is not valid UTF-8 is given back and written as avsc decodes it (replacement characters)', () => {
  const schema: AvroRecordSchema = { type: 'record', name: 'S', fields: [{ name: 's', type: 'string' }] };
  const bad = Buffer.from([0, 0, 0, 0, 7, 6, 0x61, 0xff, 0x62]);
  const result = both(schema, [bad]);
  assert.deepEqual(result.fast, result.slow);
  assert.equal(result.givenBack, 1);
  assert.equal(result.fastRejected.length, 0);
  assert.ok(result.fast.includes(Buffer.from('\ufffd')));
});

const NESTED: AvroRecordSchema = {
  type: 'record',
  name: 'Nested',
  fields: [
    { name: 'id', type: 'string' },
    {
      name: 'parts',
      type: {
        type: 'array',
        items: {
          type: 'record',
          name: 'Part',
          fields: [
            { name: 'text', type: ['null', 'string'] },
            { name: 'n', type: ['null', 'long', 'string'] },
            { name: 'd', type: 'double' },
            { name: 'f', type: 'float' },
            { name: 'ok', type: 'boolean' },
            { name: 'kind', type: { type: 'enum', name: 'K', symbols: ['A', 'B'] } },
            { name: 'sub', type: { type: 'array', items: 'Part' } },
            { name: 'tags', type: { type: 'array', items: 'string' } },
          ],
        },
      },
    },
    { name: 'meta', type: { type: 'map', values: 'string' } },
    {
      name: 'reply',
      type: ['null', { type: 'record', name: 'Reply', fields: [{ name: 'm', type: 'int' }] }],
    },
    {
      name: 'blob',
      type: ['null', { type: 'record', name: 'Blob', fields: [{ name: 'b', type: 'bytes' }] }],
    },
  ],
};

test('JSON columns: text needing escapes, nested and recursive records, unions, enums, floats; odd map keys are given back', () => {
  const type = avro.Type.forSchema(NESTED as avro.Schema);
  const part = (text: string | null, sub: unknown[] = []) => ({
    text,
    n: text === null ? null : text.length % 2 ? text.length : text,
    d: 0.25 * (text?.length ?? -1),
    f: text === null ? Number.NaN : 1.1,
    ok: text !== null,
    kind: text === null ? 'A' : 'B',
    sub,
    tags: text === null ? [] : [text, 'x'],
  });
  const texts = [
    'plain',
    'a "quote"',
    'back\\slash',
    'tab\tnew\nline\u0001',
    'ünï 😀 ✓',
    '\u2028',
    '',
    'x'.repeat(100),
  ];
  const value = (
    i: number,
    meta: Record<string, string> = { a: 'b', [`k${i}`]: texts[i % texts.length] as string },
  ) => ({
    id: `id${i}`,
    parts: [part(texts[i % texts.length] as string, [part(null, [part('deep')])]), part(null)],
    meta,
    reply: i % 2 ? null : { m: -i },
    blob: i % 3 ? null : { b: Buffer.from([i]) },
  });
  const messages = texts.map((_, i) => wire(type, value(i)));
  const result = both(NESTED, messages);
  assert.deepEqual(result.fast, result.slow);
  assert.equal(result.givenBack, 0);
  // Keys JSON.stringify of the object reorders or drops: the slow path writes them.
  const odd = [
    { b: '1', '2': 'x', a: '3' },
    JSON.parse('{"__proto__": "p", "a": "q"}') as Record<string, string>,
  ];
  const oddMessages = odd.map((meta, i) => wire(type, value(i, meta)));
  // A map block written twice with the same key (avsc keeps the last value, at the first place).
  const twice = wire(type, value(0, { a: 'b', c: 'd' }));
  const at = twice.indexOf(Buffer.from([2 * 2, 2, 0x61, 2, 0x62, 2, 0x63, 2, 0x64, 0]));
  assert.ok(at > 0);
  twice[at + 6] = 0x61;
  const odd2 = both(NESTED, [...oddMessages, twice]);
  assert.deepEqual(odd2.fast, odd2.slow);
  assert.equal(odd2.givenBack, 3);
  assert.equal(odd2.fastRejected.length, 0);
  // Arrays in several blocks, one with a negative count and a size (as other writers send them).
  const simple: AvroRecordSchema = {
    type: 'record',
    name: 'B',
    fields: [
      {
        name: 'l',
        type: { type: 'array', items: { type: 'record', name: 'I', fields: [{ name: 'v', type: 'long' }] } },
      },
    ],
  };
  const blocks = Buffer.from([0, 0, 0, 0, 7, 2, 2, 3, 2, 4, 6, 0]); // [1] then -2 items (size 2): [2, 3]
  const multi = both(simple, [blocks]);
  assert.deepEqual(multi.fast, multi.slow);
  assert.equal(multi.givenBack, 0);
  assert.equal(multi.fastRejected.length, 0);
});

test('JSON columns: text that is not valid UTF-8 (a stray byte, an overlong form, an encoded surrogate) is written as JSON.stringify of what avsc decodes, valid non-ASCII text as its bytes', () => {
  const schema: AvroRecordSchema = {
    type: 'record',
    name: 'J',
    fields: [
      {
        name: 'j',
        type: { type: 'record', name: 'Inner', fields: [{ name: 't', type: ['null', 'string'] }] },
      },
    ],
  };
  // Record J { j: Inner { t: union branch 1 (string) } }: branch index 1 (zigzag 2), length, bytes.
  const withText = (bytes: number[]) => Buffer.from([0, 0, 0, 0, 7, 2, 2 * bytes.length, ...bytes]);
  const messages = [
    withText([0x61, 0xff, 0x62]),
    withText([0xc0, 0xaf]),
    withText([0xed, 0xa0, 0x80]),
    withText([...Buffer.from('안녕 ✓ 😀 "q"')]),
    withText([...Buffer.from('안녕 ✓ 😀')]),
  ];
  const result = both(schema, messages);
  assert.deepEqual(result.fast, result.slow);
  assert.equal(result.givenBack, 0);
  assert.ok(result.fast.includes(Buffer.from('{"t":"안녕 ✓ 😀"}')));
  assert.ok(result.fast.includes(Buffer.from('{"t":"a\ufffdb"}')));
});
