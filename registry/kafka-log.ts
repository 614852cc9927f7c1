/**
 * The registry's storage: a compacted, one-partition `_schemas` topic. On start the whole
 * topic is replayed into the state; a write is produced (acks=all), and returns only once this
 * instance's own reader has applied it — so a reply never runs ahead of what Kafka holds, and
 * any other instance reading the topic reaches the same state.
 */

import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import { isRetriable, ServiceError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { withRetriesFor } from '../core/retry.ts';
import { createProducer } from '../kafka/client.ts';
import { registryErrors as E } from './errors.ts';
import { decodeRecord, encodeRecord, type RegistryRecord } from './records.ts';
import type { RecordLog } from './registry.ts';
import type { RegistryState } from './state.ts';

const WRITE_TIMEOUT_MS = 30_000;
/**
 * How long the start retries Kafka's "not ready yet" answers (a broker that just restarted is
 * "not the leader" of `_schemas` until it has loaded the partition).
 */
const START_TIMEOUT_MS = 60_000;

interface Waiter {
  offset: number;
  resolve: () => void;
}

export class KafkaRecordLog implements RecordLog {
  private readonly kafka: Kafka;
  private readonly topic: string;
  private readonly state: RegistryState;
  private readonly log: Logger;
  private producer?: Producer;
  private consumer?: Consumer;
  /** The next offset this instance will apply. */
  private position = 0;
  private waiters: Waiter[] = [];

  constructor(kafka: Kafka, topic: string, state: RegistryState, log: Logger) {
    this.kafka = kafka;
    this.topic = topic;
    this.state = state;
    this.log = log;
  }

  private async ensureTopic(admin: Admin): Promise<void> {
    const existing = await admin.listTopics();
    if (existing.includes(this.topic)) return;
    const brokers = (await admin.describeCluster()).brokers.length;
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: this.topic,
          numPartitions: 1,
          replicationFactor: Math.min(3, brokers),
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
    });
    this.log.info('created the schemas topic', { topic: this.topic });
  }

  /** Where `_schemas` ends now (creating it when missing), retrying while Kafka is not ready. */
  private async endOffset(): Promise<number> {
    const admin = this.kafka.admin();
    try {
      return await withRetriesFor(
        async () => {
          await admin.connect();
          await this.ensureTopic(admin);
          return Number((await admin.fetchTopicOffsets(this.topic))[0]?.high ?? 0);
        },
        { initialMs: 200, maxMs: 5_000 },
        START_TIMEOUT_MS,
        (error, attempt, waitMs) =>
          this.log.warn('Kafka is not ready for the schemas topic yet; retrying', {
            topic: this.topic,
            attempt,
            waitMs,
            error: error.message,
          }),
      );
    } catch (error) {
      if (!isRetriable(error)) throw error;
      throw new ServiceError(
        'kafka',
        `cannot read the schemas topic ${this.topic}: ${(error as Error).message}`,
        {
          code: 'UNREACHABLE',
          hint: 'is Kafka running (chatstream stack status)? check CHATSTREAM_KAFKA_BROKERS',
          cause: error,
        },
      );
    } finally {
      await admin.disconnect();
    }
  }

  /** Replays the topic; resolves once the state holds everything written before the start. */
  async start(): Promise<void> {
    const end = await this.endOffset();
    // Fail a write within seconds (the client gets 50001 and may retry) rather than hang.
    this.producer = createProducer(this.kafka, {
      idempotent: true,
      maxInFlightRequests: 1,
      retry: { retries: 2, maxRetryTime: 2000 },
    });
    await this.producer.connect();
    // A group of its own per instance: every instance reads the whole topic; nothing is committed.
    // Short fetch waits: a stop does not hang on a long poll.
    this.consumer = this.kafka.consumer({
      groupId: `chatstream-registry-${randomUUID()}`,
      maxWaitTimeInMs: 500,
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    const caughtUp = this.waitFor(end - 1);
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        const key = message.key?.toString('utf8') ?? '';
        try {
          const record = decodeRecord({
            key,
            value: message.value === null ? null : message.value.toString('utf8'),
          });
          if (record) this.state.apply(record);
        } catch (error) {
          // One bad record must not stop the replay: every later schema would be missing, and
          // a throwing handler makes kafkajs re-deliver it forever. Skip it, and say which.
          this.log.warn('skipped a malformed record in the schemas topic', {
            topic: this.topic,
            offset: message.offset,
            key: key.slice(0, 200),
            reason: (error as Error).message,
          });
        }
        this.advance(Number(message.offset) + 1);
      },
    });
    await caughtUp;
    this.log.info('schemas replayed', { topic: this.topic, records: end, maxId: this.state.maxId });
  }

  private advance(position: number): void {
    this.position = position;
    const ready = this.waiters.filter((w) => w.offset < position);
    this.waiters = this.waiters.filter((w) => w.offset >= position);
    for (const waiter of ready) waiter.resolve();
  }

  /** Resolves once the record at `offset` has been applied. */
  private waitFor(offset: number): Promise<void> {
    if (offset < this.position) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ offset, resolve }));
  }

  async append(records: RegistryRecord[]): Promise<void> {
    if (!this.producer) throw E.store('the registry is not started');
    let last: number;
    try {
      const [meta] = await this.producer.send({
        topic: this.topic,
        acks: -1,
        messages: records.map(encodeRecord),
      });
      last = Number(meta?.baseOffset ?? 0) + records.length - 1;
    } catch (error) {
      throw E.store((error as Error).message);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(E.timeout(`record ${last} of ${this.topic} was not read back`)),
        WRITE_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([this.waitFor(last), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
  }
}
