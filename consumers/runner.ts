/**
 * The sink runner: one kafkajs consumer group feeding one sink.
 *
 * For each fetched batch of a topic-partition it skips what the sink already stored, decodes
 * (poison → dead letter), writes in chunks of at most `batchMaxRows` records / `batchMaxBytes`
 * bytes, sends the dead letters, and only then commits the offset. Retriable failures back off
 * and retry for as long as it takes, heartbeating so the group keeps its partitions, with all
 * partitions paused meanwhile. Batching in time and bytes is the fetch itself (minBytes,
 * maxWaitTimeInMs, maxBytesPerPartition); memory is bounded by the fetch size `memoryBytes`.
 */
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import { PoisonError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { createMetricsRegistry } from '../core/metrics.ts';
import { type RetryPolicy, withRetries } from '../core/retry.ts';
import { createKafka } from '../kafka/client.ts';
import { type DeadLetter, DeadLetterQueue, ensureDeadLetterTopic } from '../kafka/dead-letters.ts';
import type { SinkConfig } from './config.ts';
import { Decoder } from './decoder.ts';
import type { Sink, SinkRecord } from './sink.ts';
import { type SinkMetrics, sinkMetrics } from './sink-metrics.ts';

export interface RunnerOptions {
  config: SinkConfig;
  sink: Sink;
  log: Logger;
  topics: string[];
  group: string;
  /** Where the runner registers its metrics; a registry of its own (with process metrics) by default. */
  metrics?: Registry;
}

/** Where a sink's dead letter came from, as headers. */
function origin(topic: string, partition: number, offset: bigint): Record<string, string> {
  return { 'dlq.topic': topic, 'dlq.partition': String(partition), 'dlq.offset': String(offset) };
}

/** Records per kind, for counting dead letters once per kind. */
function countByKind(letters: DeadLetter[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { kind } of letters) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

/**
 * Estimated memory of one decoded record in flight (its object, the SinkRecord, the row the
 * sink builds): measured here at about 16× the Avro bytes plus a fixed 512 bytes.
 */
export function decodedSize(avroBytes: number): number {
  return 512 + 16 * avroBytes;
}

export class SinkRunner {
  readonly metrics: Registry;
  private readonly m: SinkMetrics;
  private readonly options: RunnerOptions;
  private readonly kafka: Kafka;
  private readonly decoder: Decoder;
  private readonly dlq: DeadLetterQueue;
  private readonly policy: RetryPolicy;
  private consumer?: Consumer;
  /** Offsets the sink holds, per topic:partition, loaded after each (re)assignment. */
  private readonly stored = new Map<string, bigint | undefined>();
  private readonly stopping = new AbortController();
  private paused = false;
  /** Estimated memory one chunk of decoded records may take. */
  private readonly chunkMemory: number;

  constructor(options: RunnerOptions) {
    this.options = options;
    this.metrics = options.metrics ?? createMetricsRegistry();
    this.m = sinkMetrics(this.metrics);
    this.kafka = createKafka(options.config, { role: `sink-${options.sink.name}` });
    this.decoder = new Decoder(options.config);
    this.dlq = new DeadLetterQueue(this.kafka, options.config.sink.deadLetterTopic, {
      'dlq.sink': options.sink.name,
    });
    this.policy = { initialMs: options.config.sink.retryInitialMs, maxMs: options.config.sink.retryMaxMs };
    this.chunkMemory = Math.floor(options.config.sink.memoryBytes / (2 * options.config.sink.concurrency));
  }

  private retry<T>(what: string, fn: () => Promise<T>, heartbeat?: () => Promise<void>): Promise<T> {
    return withRetries(fn, this.policy, {
      signal: this.stopping.signal,
      onWait: heartbeat,
      onRetry: (error, attempt, waitMs) => {
        this.m.retries.inc({ sink: this.options.sink.name });
        this.options.log.warn(`${what} failed; retrying`, { attempt, waitMs, error: error.message });
        this.pauseAll();
      },
    });
  }

  private pauseAll(): void {
    if (this.paused || !this.consumer) return;
    this.paused = true;
    this.consumer.pause(this.options.topics.map((topic) => ({ topic })));
  }

  private resumeAll(): void {
    if (!this.paused || !this.consumer) return;
    this.paused = false;
    this.consumer.resume(this.options.topics.map((topic) => ({ topic })));
  }

  async start(): Promise<void> {
    const { config, sink, log, topics, group } = this.options;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await ensureDeadLetterTopic(admin, config, this.dlq.topic);
      await this.dlq.connect();
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t));
      if (missing.length > 0)
        log.warn('topics do not exist yet; they are consumed once created', { missing });
    } finally {
      await admin.disconnect();
    }
    await this.retry(`connecting ${sink.name}`, () => sink.connect());

    const { batchMaxBytes, batchMaxWaitMs, memoryBytes, concurrency } = config.sink;
    // The memory budget: half for decoded chunks in flight; the fetch gets 1/16 of it in bytes,
    // because kafkajs holds each fetched message as objects of ~300 bytes plus its data (for
    // small records ~6x their size, and a second fetch may be in flight).
    const fetchBytes = Math.max(64 * 1024, Math.floor(memoryBytes / 16));
    this.consumer = this.kafka.consumer({
      groupId: group,
      sessionTimeout: config.sink.sessionTimeoutMs,
      heartbeatInterval: 3_000,
      minBytes: Math.min(1024 * 1024, batchMaxBytes, fetchBytes),
      maxWaitTimeInMs: batchMaxWaitMs,
      maxBytesPerPartition: Math.min(batchMaxBytes, fetchBytes),
      maxBytes: fetchBytes,
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      this.stored.clear();
      log.info('partitions assigned', { group, assignment: event.payload.memberAssignment });
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics, fromBeginning: config.sink.fromBeginning });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: concurrency,
      eachBatch: (payload) => this.handle(payload),
    });
    log.info('sink running', { sink: sink.name, group, topics: topics.length });
  }

  private async handle({ batch, resolveOffset, heartbeat, isStale }: EachBatchPayload): Promise<void> {
    const { sink, group, config } = this.options;
    const { topic, partition } = batch;
    const tp = `${topic}:${partition}`;
    if (!this.stored.has(tp)) {
      this.stored.set(
        tp,
        await this.retry(
          'reading stored offsets',
          () => sink.storedOffset(group, topic, partition),
          heartbeat,
        ),
      );
    }
    const floor = this.stored.get(tp);
    // Decoded records are held one chunk at a time: memory follows the chunk, not the fetch.
    let chunk: SinkRecord[] = [];
    let chunkBytes = 0;
    let chunkMemory = 0;
    let letters: DeadLetter[] = [];
    /** Records read since the last flush (counted here, added to the metric once per chunk). */
    let read = 0;
    /** The last offset fully handled (written, dead-lettered or already in the sink). */
    let handled: bigint | undefined;
    let committed: bigint | undefined;

    /**
     * Writes the chunk, sends the dead letters, commits everything handled so far and
     * heartbeats — so a rebalance (the heartbeat throws) ends the batch with nothing lost.
     */
    const flush = async (): Promise<boolean> => {
      if (read > 0) this.m.recordsIn.inc({ topic }, read);
      read = 0;
      if (isStale()) return false; // the partition moved to another member: commit nothing
      if (chunk.length > 0) {
        const part = chunk;
        chunk = [];
        chunkBytes = 0;
        chunkMemory = 0;
        const started = process.hrtime.bigint();
        const result = await this.retry(
          `writing to ${sink.name}`,
          () => sink.writeBatch({ group, topic, partition, records: part }),
          heartbeat,
        );
        this.resumeAll();
        this.m.flushSeconds.observe({ topic }, Number(process.hrtime.bigint() - started) / 1e9);
        this.m.batches.inc({ topic });
        this.m.recordsOut.inc({ topic }, part.length - result.rejected.length);
        for (const { record, reason } of result.rejected) {
          letters.push({
            kind: 'bad_data',
            reason,
            headers: origin(topic, partition, record.offset),
            ...original(batch.messages, record.offset),
          });
        }
        this.stored.set(tp, (part.at(-1) as SinkRecord).offset);
      }
      if (letters.length > 0) {
        const sending = letters;
        letters = [];
        await this.retry('sending dead letters', () => this.dlq.send(sending), heartbeat);
        for (const [kind, count] of countByKind(sending)) this.m.deadLetters.inc({ topic, kind }, count);
        this.options.log.warn('records sent to the dead-letter topic', {
          topic,
          partition,
          count: sending.length,
          first: sending[0]?.reason,
        });
      }
      if (handled !== undefined && handled !== committed && !isStale()) {
        const upTo = handled;
        resolveOffset(upTo.toString());
        await this.retry(
          'committing offsets',
          () =>
            (this.consumer as Consumer).commitOffsets([{ topic, partition, offset: (upTo + 1n).toString() }]),
          heartbeat,
        );
        committed = upTo;
        this.m.lag.set({ topic, partition }, Math.max(0, Number(batch.highWatermark) - Number(upTo) - 1));
      }
      await heartbeat();
      return true;
    };

    for (const message of batch.messages) {
      const offset = BigInt(message.offset);
      if (floor !== undefined && offset <= floor) {
        handled = offset;
        continue;
      }
      read += 1;
      const bytes = message.value?.length ?? 0;
      if (
        chunk.length > 0 &&
        (chunk.length >= config.sink.batchMaxRows ||
          chunkBytes + bytes > config.sink.batchMaxBytes ||
          chunkMemory >= this.chunkMemory)
      ) {
        if (!(await flush())) return;
      }
      try {
        const decoded =
          this.decoder.decodeKnown(message.value) ??
          (await this.retry('fetching a schema', () => this.decoder.decode(message.value), heartbeat));
        chunk.push({
          topic,
          partition,
          offset,
          timestamp: Number(message.timestamp),
          key: message.key ? message.key.toString('utf8') : null,
          value: decoded.value,
          schemaId: decoded.schema.id,
          schema: decoded.schema.schema,
          bytes,
        });
        chunkBytes += bytes;
        chunkMemory += decodedSize(bytes);
      } catch (error) {
        if (!(error instanceof PoisonError)) throw error;
        letters.push({
          key: message.key,
          value: message.value,
          kind: error.kind,
          reason: error.message,
          headers: origin(topic, partition, offset),
        });
      }
      handled = offset;
    }
    await flush();
  }

  /** Stops consuming after the batch in flight is written and committed, then closes the sink. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.consumer?.disconnect();
    await this.dlq.close();
    await this.options.sink.close();
  }
}

/** The original key and value bytes of a record, for its dead letter. */
function original(
  messages: EachBatchPayload['batch']['messages'],
  offset: bigint,
): { key: Buffer | null; value: Buffer | null } {
  const message = messages.find((m) => BigInt(m.offset) === offset);
  return { key: message?.key ?? null, value: message?.value ?? null };
}
