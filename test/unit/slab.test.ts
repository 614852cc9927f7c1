import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import avro from 'avsc';
import { Slab } from '../../producers/runtime/slab.ts';

const type = avro.Type.forSchema({
  type: 'record',
  name: 'T',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'n', type: 'long' },
  ],
});
const header = Buffer.from([0, 0, 0, 0, 42]);
const expected = (value: unknown) => Buffer.concat([header, type.toBuffer(value)]);

describe('Slab', () => {
  it('frames records exactly as header + toBuffer, small and larger than a slab, each view intact after later writes', () => {
    const slab = new Slab(3);
    const values = [
      { id: 'a', n: 1 },
      { id: 'x'.repeat(700), n: -5 },
      { id: 'y'.repeat(3000), n: 2 ** 40 }, // larger than the 3 KiB slab
      { id: 'é'.repeat(100_000), n: 7 }, // larger than the largest slab
      { id: 'b', n: 0 },
    ];
    const framed = values.map((v) => slab.frame(type, header, v));
    framed.forEach((f, i) => {
      assert.deepEqual(f, expected(values[i]));
      assert.deepEqual({ ...type.fromBuffer(f.subarray(5)) }, values[i]);
    });
  });

  it('fills a slab to its last byte and goes on in a new one', () => {
    const slab = new Slab(1); // 1 KiB
    const values = Array.from({ length: 40 }, (_, i) => ({ id: 'z'.repeat(i * 7), n: i }));
    const framed = values.map((v) => slab.frame(type, header, v));
    for (const [i, f] of framed.entries()) assert.deepEqual(f, expected(values[i]));
  });

  it('throws on a value that does not fit the type and keeps the records framed before', () => {
    const slab = new Slab(2);
    const first = slab.frame(type, header, { id: 'ok', n: 1 });
    assert.throws(() => slab.frame(type, header, { id: 3, n: 'no' }));
    const next = slab.frame(type, header, { id: 'next', n: 2 });
    assert.deepEqual(first, expected({ id: 'ok', n: 1 }));
    assert.deepEqual(next, expected({ id: 'next', n: 2 }));
  });
});
