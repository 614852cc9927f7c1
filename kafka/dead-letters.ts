/**
 * The dead-letter topic, shared by sinks and producers: a record that can never be processed
 * keeps its key and value, and carries why and where it came from in headers — `dlq.reason`,
 * `dlq.kind`, `dlq.time`, the caller's origin headers (a sink's `dlq.topic`, `dlq.partition`,
 * `dlq.offset`; a producer's `dlq.source`, `dlq.resource`) and the component's (`dlq.sink`, …).
 * A dead letter is acknowledged before the offset or cursor that covers it moves, so a poison
 * record is never lost.
 */
import type { Admin, Kafka, Message, Producer } from 'kafkajs';
import type { CoreConfig } from '../core/settings.ts';
import { createProducer } from './client.ts';
import { createTopics } from './topics.ts';

export interface DeadLetter {
  key: Buffer | string | null;
  value: Buffer | string | null;
  /** Short machine-readable kind: undecodable, unknown_schema, bad_data, … */
  kind: string;
  reason: string;
  /** Where the record came from, e.g. { 'dlq.topic': …, 'dlq.partition': …, 'dlq.offset': … }. */
  headers: Record<string, string>;
}

/** Longest `dlq.reason` kept (characters). */
export const REASON_MAX_LENGTH = 4000;

const RETENTION_MS = 30 * 24 * 3600 * 1000;

/**
 * The Kafka messages for dead letters (pure): each letter's origin headers, the component's
 * headers (e.g. { 'dlq.sink': 'clickhouse' }), then the reason (truncated), the kind and the
 * time, which neither can overwrite.
 */
export function deadLetterMessages(
  letters: DeadLetter[],
  component: Record<string, string>,
  time: Date = new Date(),
): Message[] {
  const at = time.toISOString();
  return letters.map((letter) => ({
    key: letter.key,
    value: letter.value,
    headers: {
      ...letter.headers,
      ...component,
      'dlq.reason': letter.reason.slice(0, REASON_MAX_LENGTH),
      'dlq.kind': letter.kind,
      'dlq.time': at,
    },
  }));
}

/** Creates the dead-letter topic when it is missing (30 days' retention); true when it created it. */
export async function ensureDeadLetterTopic(
  admin: Admin,
  config: Pick<CoreConfig, 'kafka'>,
  topic: string,
): Promise<boolean> {
  if ((await admin.listTopics()).includes(topic)) return false;
  const brokers = (await admin.describeCluster()).brokers.length;
  const created = await createTopics(admin, [
    {
      topic,
      numPartitions: config.kafka.partitions,
      replicationFactor: config.kafka.replicationFactor || Math.min(3, brokers),
      configEntries: [{ name: 'retention.ms', value: String(RETENTION_MS) }],
    },
  ]);
  return created.length > 0;
}

/** A producer of dead letters for one component (the sink runner's; producers send theirs in their transactions). */
export class DeadLetterQueue {
  readonly topic: string;
  private readonly component: Record<string, string>;
  private readonly producer: Producer;

  constructor(kafka: Kafka, topic: string, component: Record<string, string>) {
    this.topic = topic;
    this.component = component;
    this.producer = createProducer(kafka, { idempotent: true, maxInFlightRequests: 1 });
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  /** Resolves when every broker in sync acknowledged the letters (acks=all). */
  async send(letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: deadLetterMessages(letters, this.component),
    });
  }

  close(): Promise<void> {
    return this.producer.disconnect();
  }
}
