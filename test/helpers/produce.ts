/** Produces Avro records (Confluent wire format, schema registered under <topic>-value) to a new topic. */
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Config } from '../../cli/settings.ts';
import { createKafka, createProducer, withAdmin } from '../../kafka/client.ts';
import { createRegistryClient } from '../../schemas/registry-client.ts';

export async function createTopic(config: Config, topic: string, partitions = 3): Promise<void> {
  await withAdmin(config, (admin) =>
    admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true }),
  );
}

/** Registers `schema` for the topic and produces the values, keyed by keyOf; returns the schema id. */
export async function produceAvro(
  config: Config,
  topic: string,
  schema: object,
  values: Record<string, unknown>[],
  keyOf: (v: Record<string, unknown>) => string,
  options: { batch?: number; timestamp?: (v: Record<string, unknown>) => number } = {},
): Promise<number> {
  const registry = createRegistryClient(config);
  const { id } = await registry.register(
    { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
    { subject: `${topic}-value` },
  );
  const producer = createProducer(createKafka(config, { role: 'test' }), { idempotent: true });
  await producer.connect();
  const size = options.batch ?? 5000;
  for (let i = 0; i < values.length; i += size) {
    const slice = values.slice(i, i + size);
    const messages = await Promise.all(
      slice.map(async (v) => ({
        key: keyOf(v),
        value: await registry.encode(id, v),
        ...(options.timestamp ? { timestamp: String(options.timestamp(v)) } : {}),
      })),
    );
    await producer.send({ topic, messages, acks: -1 });
  }
  await producer.disconnect();
  return id;
}

/** Produces raw bytes (for poison records); a null value is a tombstone. */
export async function produceRaw(
  config: Config,
  topic: string,
  messages: { key: string; value: Buffer | null }[],
): Promise<void> {
  const producer = createProducer(createKafka(config, { role: 'test' }));
  await producer.connect();
  await producer.send({ topic, messages, acks: -1 });
  await producer.disconnect();
}
