/**
 * The registry's storage: a compacted, one-partition `_schemas` topic. On start the whole
 * topic is replayed into the state; a write is produced (acks=all), and returns only once this
 * instance's own reader has applied it — so a reply never runs ahead of what Kafka holds, and
 * any other instance reading the topic reaches the same state.
 */

import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import { ServiceError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { createProducer } from '../kafka/client.ts';
import { registryErrors as E } from './errors.ts';
import { START_TIMEOUT_MS, schemasEnd, startStep } from './kafka-start.ts';
import { decodeRecord, encodeRecord, type RegistryRecord } from './records.ts';
import type { RecordLog } from './registry.ts';
import type { RegistryState } from './state.ts';

const WRITE_TIMEOUT_MS = 30_000;

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

  /** How long each start step retries Kafka's "not ready yet" answers. */
  private readonly startTimeoutMs: number;

  constructor(
    kafka: Kafka,
    topic: string,
    state: RegistryState,
    log: Logger,
    startTimeoutMs = START_TIMEOUT_MS,
  ) {
    this.kafka = kafka;
    this.topic = topic;
    this.state = state;
    this.log = log;
    this.startTimeoutMs = startTimeoutMs;
  }

  /** Replays the topic; resolves once the state holds everything written before the start. */
  async start(): Promise<void> {
    try {
      await this.replay();
    } catch (error) {
      // What did connect must not keep a failed start's process alive.
      await this.stop().catch(() => {});
      throw error;
    }
  }

  private async replay(): Promise<void> {
    const { log, startTimeoutMs: timeout } = this;
    const end = await schemasEnd(this.kafka, this.topic, log, timeout);
    // Fail a write within seconds (the client gets 50001 and may retry) rather than hang.
    const producer = createProducer(this.kafka, {
      idempotent: true,
      maxInFlightRequests: 1,
      retry: { retries: 2, maxRetryTime: 2000 },
    });
    this.producer = producer;
    await startStep('connecting the schemas producer', () => producer.connect(), log, timeout);
    // A group of its own per instance: every instance reads the whole topic; nothing is committed.
    // Short fetch waits: a stop does not hang on a long poll.
    const consumer = this.kafka.consumer({
      groupId: `chatstream-registry-${randomUUID()}`,
      maxWaitTimeInMs: 500,
    });
    this.consumer = consumer;
    await startStep(
      'joining the schemas topic',
      async () => {
        await consumer.connect();
        await consumer.subscribe({ topic: this.topic, fromBeginning: true });
      },
      log,
      timeout,
    );
    // A reader that kafkajs gives up on (it does not restart it) ends the replay with an error
    // instead of leaving the registry waiting forever.
    const stopped = new Promise<never>((_, reject) =>
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        if (!payload.restart)
          reject(
            new ServiceError('kafka', `the schemas topic reader stopped: ${payload.error.message}`, {
              code: 'UNREACHABLE',
              cause: payload.error,
            }),
          );
      }),
    );
    stopped.catch(() => {}); // a crash after the replay is not the start's to report
    const caughtUp = this.waitFor(end - 1);
    await consumer.run({
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
    await Promise.race([caughtUp, stopped]);
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
