import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../cli/settings.ts';
import { createKafka, createProducer } from '../../kafka/client.ts';
import { uniqueName } from '../helpers/names.ts';

const config = loadConfig();
const kafka = createKafka(config, { role: 'test' });
const admin = kafka.admin();
const topic = uniqueName('test_roundtrip');

before(async () => {
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
});

after(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.disconnect();
});

test('kafkajs produces to and consumes from a 6-partition topic on the local Kafka', async () => {
  const producer = createProducer(kafka, { idempotent: true });
  await producer.connect();
  const sent = Array.from({ length: 120 }, (_, i) => ({ key: `user-${i % 17}`, value: `message ${i}` }));
  await producer.send({ topic, messages: sent });
  await producer.disconnect();

  const offsets = await admin.fetchTopicOffsets(topic);
  assert.equal(offsets.length, 6);
  assert.equal(
    offsets.reduce((sum, p) => sum + Number(p.high), 0),
    120,
  );

  const consumer = kafka.consumer({ groupId: uniqueName('test_group') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const received: { key: string; value: string; partition: number }[] = [];
  const done = new Promise<void>((resolve) => {
    consumer.run({
      eachMessage: async ({ message, partition }) => {
        received.push({ key: String(message.key), value: String(message.value), partition });
        if (received.length === sent.length) resolve();
      },
    });
  });
  await done;
  await consumer.disconnect();

  assert.deepEqual(received.map((r) => r.value).sort(), sent.map((s) => s.value).sort());
  // One key always lands in one partition, so its updates stay ordered.
  const partitionsOfKey = new Map<string, Set<number>>();
  for (const r of received)
    partitionsOfKey.set(r.key, (partitionsOfKey.get(r.key) ?? new Set()).add(r.partition));
  for (const [key, partitions] of partitionsOfKey)
    assert.equal(partitions.size, 1, `key ${key} spread over partitions`);
  assert.ok(new Set(received.map((r) => r.partition)).size > 1, 'keys spread over several partitions');
});
