/**
 * Array and map counts bounded by the bytes (avro-bounds.ts): a few bytes claiming millions of
 * items are undecodable, not a heap exhausted or a loop without end; every valid value decodes
 * as avsc decodes it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import avro from 'avsc';
import { boundLists, MAX_EMPTY_ITEMS, minBytes, withAvscReaders } from '../../consumers/avro-bounds.ts';
import { decodeValue } from '../../consumers/decoder.ts';
import type { AvroRecordSchema } from '../../consumers/sink.ts';
import { PoisonError } from '../../core/errors.ts';
import { RECORD_KINDS, schemaVersions } from '../../schemas/catalog.ts';
import { both, sameRejections, varint } from '../helpers/transcode-both.ts';

const listOf = (list: unknown): AvroRecordSchema => ({
  type: 'record',
  name: 'L',
  fields: [{ name: 'l', type: list }],
});
const EMPTY = { type: 'record', name: 'Empty', fields: [] };

function decode(schema: AvroRecordSchema, body: number[]) {
  const type = boundLists(avro.Type.forSchema(schema as avro.Schema));
  return decodeValue({ id: 7, schema, type }, Buffer.from([0, 0, 0, 0, 7, ...body]));
}

test('a count no bytes can hold is undecodable at once: 2^27 nulls or empty records, 2^27 ints, 2^40 map entries', () => {
  for (const [list, count] of [
    [{ type: 'array', items: 'null' }, 2 ** 27],
    [{ type: 'array', items: EMPTY }, 2 ** 27],
    [{ type: 'array', items: 'int' }, 2 ** 27],
    [{ type: 'map', values: 'null' }, 2 ** 40],
    [{ type: 'array', items: 'null' }, -(2 ** 27)],
  ] as const) {
    assert.throws(
      () => decode(listOf(list), [...varint(count), ...(count < 0 ? [2] : []), 0]),
      (error: unknown) =>
        error instanceof PoisonError &&
        error.kind === 'undecodable' &&
        /longer than the bytes left|items that take no bytes/.test(error.message),
      `${JSON.stringify(list)} × ${count}`,
    );
  }
});

test('items that take no bytes: up to the bound per value, in any number of blocks; past it undecodable', () => {
  const half = MAX_EMPTY_ITEMS / 2;
  const two = decode(listOf({ type: 'array', items: 'null' }), [...varint(half), ...varint(half), 0]);
  assert.equal((two.l as unknown[]).length, MAX_EMPTY_ITEMS);
  assert.throws(
    () => decode(listOf({ type: 'array', items: 'null' }), [...varint(half), ...varint(half), 2, 0]),
    /more than 1000000 items that take no bytes/,
  );
  assert.deepEqual(decode(listOf({ type: 'array', items: 'int' }), [6, 2, 4, 6, 0]).l, [1, 2, 3]);
});

test('the fewest bytes of each type', () => {
  const of = (schema: unknown) => minBytes(avro.Type.forSchema(schema as avro.Schema));
  assert.equal(of('null'), 0);
  assert.equal(of(EMPTY), 0);
  assert.equal(of('double'), 8);
  assert.equal(of({ type: 'fixed', name: 'F', size: 3 }), 3);
  assert.equal(
    of({
      type: 'record',
      name: 'P',
      fields: [
        { name: 'a', type: 'float' },
        { name: 'b', type: 'int' },
      ],
    }),
    5,
  );
  assert.equal(of({ type: 'record', name: 'T', fields: [{ name: 'next', type: ['null', 'T'] }] }), 1);
});

test('every curated schema: random values decode the same with the bounds as without', () => {
  let checked = 0;
  for (const kind of RECORD_KINDS)
    for (const version of schemaVersions(kind)) {
      const schema = JSON.parse(version.text) as avro.Schema;
      const type = boundLists(avro.Type.forSchema(schema));
      for (let i = 0; i < 50; i++) {
        let value: unknown;
        try {
          value = type.random();
        } catch {
          continue; // avsc's random recurses without end on a recursive schema, at times
        }
        const bytes = type.toBuffer(value);
        checked += 1;
        const expected = withAvscReaders(() => type.fromBuffer(bytes));
        assert.deepEqual(type.fromBuffer(bytes), expected, version.path);
      }
    }
  assert.ok(checked > 500, `${checked} values`);
});

test('the transcoder gives such counts back inside JSON columns, and the slow path makes them undecodable', () => {
  const schema: AvroRecordSchema = {
    type: 'record',
    name: 'R',
    fields: [
      {
        name: 'meta',
        type: {
          type: 'record',
          name: 'M',
          fields: [
            { name: 'nulls', type: { type: 'array', items: 'null' } },
            { name: 'empties', type: { type: 'array', items: EMPTY } },
          ],
        },
      },
    ],
  };
  const result = both(schema, [
    Buffer.from([0, 0, 0, 0, 7, ...varint(2 ** 27), 0, 0]),
    Buffer.from([0, 0, 0, 0, 7, 0, ...varint(MAX_EMPTY_ITEMS / 2), ...varint(MAX_EMPTY_ITEMS / 2), 2, 0]),
    Buffer.from([0, 0, 0, 0, 7, 4, 0, 2, 0]),
  ]);
  assert.deepEqual(result.fast, result.slow);
  sameRejections(result);
  assert.deepEqual(
    result.fastRejected.map((r) => r.kind),
    ['undecodable', 'undecodable'],
  );
  assert.equal(result.givenBack, 2);
  assert.ok(result.fast.includes(Buffer.from('{"nulls":[null,null],"empties":[{}]}')));
});
