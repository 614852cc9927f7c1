/**
 * The dead-letter topic: poison records keep their key and value bytes, and carry why and
 * where they came from in headers (dlq.reason, dlq.kind, dlq.topic, dlq.partition,
 * dlq.offset, dlq.sink, dlq.time). A record is acknowledged here before its offset is
 * committed, so a poison record is never lost.
 */
import type { Admin, Kafka, Producer } from 'kafkajs';
import { createProducer } from '../kafka/client.ts';

export interface DeadLetter {
  topic: string;
  partition: number;
  offset: bigint;
  key: Buffer | null;
  value: Buffer | null;
  kind: string;
  reason: string;
}

export class DeadLetterQueue {
  readonly topic: string;
  private readonly sink: string;
  private readonly producer: Producer;

  constructor(kafka: Kafka, topic: string, sink: string) {
    this.topic = topic;
    this.sink = sink;
    this.producer = createProducer(kafka, { idempotent: true, maxInFlightRequests: 1 });
  }

  async connect(admin: Admin, partitions: number, replicationFactor: number): Promise<void> {
    if (!(await admin.listTopics()).includes(this.topic)) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic: this.topic,
            numPartitions: partitions,
            replicationFactor,
            configEntries: [{ name: 'retention.ms', value: String(30 * 24 * 3600 * 1000) }],
          },
        ],
      });
    }
    await this.producer.connect();
  }

  async send(letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: letters.map((l) => ({
        key: l.key,
        value: l.value,
        headers: {
          'dlq.reason': l.reason.slice(0, 4000),
          'dlq.kind': l.kind,
          'dlq.topic': l.topic,
          'dlq.partition': String(l.partition),
          'dlq.offset': String(l.offset),
          'dlq.sink': this.sink,
          'dlq.time': new Date().toISOString(),
        },
      })),
    });
  }

  close(): Promise<void> {
    return this.producer.disconnect();
  }
}
