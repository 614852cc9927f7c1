/** The producers' partitioner puts every key where kafkajs's (and Java's) default puts it. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { Partitioners } from 'kafkajs';
import { murmur2, murmur2Partitioner } from '../../kafka/partitioner.ts';

const require = createRequire(import.meta.url);
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (
  key: Buffer,
) => number;

test("murmur2 matches Kafka's own test vectors (UtilsTest)", () => {
  const vectors: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [key, hash] of vectors) assert.equal(murmur2(key), hash, key);
});

test('murmur2 matches kafkajs on 20,000 random keys of every length', () => {
  for (let i = 0; i < 20_000; i++) {
    const key = randomBytes(i % 67);
    assert.equal(murmur2(key), kafkajsMurmur2(key), key.toString('hex'));
  }
});

test('the partitioner picks the same partitions as kafkajs DefaultPartitioner', () => {
  const partitionMetadata = [0, 1, 2, 3, 4, 5].map((partitionId) => ({
    partitionId,
    leader: 1,
    replicas: [1],
    isr: [1],
    offlineReplicas: [],
    partitionErrorCode: 0,
  }));
  const ours = murmur2Partitioner();
  const theirs = Partitioners.DefaultPartitioner();
  for (let i = 0; i < 5_000; i++) {
    const message = { key: `visitor-${i}-${randomBytes(3).toString('hex')}`, value: 'x' };
    assert.equal(
      ours({ topic: 't', partitionMetadata, message }),
      theirs({ topic: 't', partitionMetadata, message }),
    );
  }
  assert.equal(ours({ topic: 't', partitionMetadata, message: { key: 'k', value: 'x', partition: 4 } }), 4);
  const keyless = new Set(
    Array.from({ length: 12 }, () => ours({ topic: 't', partitionMetadata, message: { value: 'x' } })),
  );
  assert.equal(keyless.size, 6, 'records without a key go round-robin over every partition');
});
