/**
 * The writer of push sources that have no cursors to commit (the Pure Chat collector): an
 * idempotent producer, acks from all in-sync replicas, no transaction. A batch is acknowledged
 * in one produce round trip (a millisecond or two locally, against tens for a transaction),
 * which is what keeps a collector's answer fast. Retries inside the producer never duplicate
 * (idempotence); a batch sent again after a failure may, and the record's own id makes that
 * harmless downstream (the `_dedup` views).
 *
 * Failures: RetriableError (Kafka unavailable; send again), FatalError (Kafka refuses us, or a
 * record is larger than the broker accepts).
 */
import type { Kafka, Producer } from 'kafkajs';
import { FatalError, RetriableError } from '../../core/errors.ts';
import { createProducer } from '../../kafka/client.ts';
import { chunkBySize, kafkaRefusal, type TopicMessages } from './transactions.ts';

export class IdempotentWriter {
  private readonly kafka: Kafka;
  private producer?: Producer;

  constructor(kafka: Kafka) {
    this.kafka = kafka;
  }

  async connect(): Promise<void> {
    await this.reset();
    const producer = createProducer(this.kafka, {
      idempotent: true,
      maxInFlightRequests: 1,
      // Bounded, so an outage fails the batch (retried from the runner, which also answers 503
      // meanwhile) instead of hanging inside kafkajs.
      retry: { initialRetryTime: 50, maxRetryTime: 2000, retries: 5 },
    });
    try {
      await producer.connect();
    } catch (error) {
      throw this.decide(error, 'connecting the producer');
    }
    this.producer = producer;
  }

  private decide(error: unknown, what: string): Error {
    const refused = kafkaRefusal(error, what);
    if (refused) return refused;
    if (error instanceof FatalError) return error;
    return new RetriableError(`${what}: ${(error as Error).message ?? String(error)}`, { cause: error });
  }

  private async reset(): Promise<void> {
    const old = this.producer;
    this.producer = undefined;
    await old?.disconnect().catch(() => undefined);
  }

  /** Sends every message; resolves once all are acknowledged. */
  async commit(batch: TopicMessages[]): Promise<void> {
    if (!this.producer) await this.connect();
    const producer = this.producer as Producer;
    try {
      for (const chunk of chunkBySize(batch)) await producer.sendBatch({ topicMessages: chunk, acks: -1 });
    } catch (error) {
      await this.reset();
      throw this.decide(error, 'sending records');
    }
  }

  async close(): Promise<void> {
    await this.reset();
  }
}
