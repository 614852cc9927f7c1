/** Raw kafkajs throughput on the local broker: the ceiling every Kafka-side stage works under. */
import { createKafka, createProducer } from '../../kafka/client.ts';
import { type BenchCase, timed } from '../types.ts';

const RECORDS = 200_000;
const BATCH = 2_000;
const VALUE = 'x'.repeat(200);

export const kafkaBaseline: BenchCase = {
  name: 'kafka-baseline',
  async run(config) {
    const kafka = createKafka(config, { role: 'bench' });
    const admin = kafka.admin();
    const topic = `bench_raw_${Date.now().toString(36)}`;
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
    try {
      const producer = createProducer(kafka);
      await producer.connect();
      const produce = await timed(async () => {
        for (let i = 0; i < RECORDS; i += BATCH) {
          const messages = Array.from({ length: BATCH }, (_, j) => ({ key: `k${i + j}`, value: VALUE }));
          await producer.send({ topic, messages, acks: -1 });
        }
      });
      await producer.disconnect();

      const consumer = kafka.consumer({ groupId: `${topic}_group`, maxBytes: 16 * 1024 * 1024 });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const consume = await timed(
        () =>
          new Promise<void>((resolve) => {
            let seen = 0;
            consumer.run({
              eachBatch: async ({ batch }) => {
                seen += batch.messages.length;
                if (seen >= RECORDS) resolve();
              },
            });
          }),
      );
      await consumer.disconnect();
      return [
        {
          benchmark: 'kafkajs produce (raw bytes)',
          records: RECORDS,
          seconds: produce.seconds,
          note: `200 B values, batches of ${BATCH}, acks=all`,
        },
        {
          benchmark: 'kafkajs consume, count only',
          records: RECORDS,
          seconds: consume.seconds,
          note: 'eachBatch, 6 partitions',
        },
      ];
    } finally {
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect();
    }
  },
};
