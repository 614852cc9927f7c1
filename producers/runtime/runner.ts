/**
 * The source runner: the part of every producer that is not fetching.
 *
 *   source.poll ──emit(page)──▶ encode (serial) ──▶ commit (serial, one transaction) ──▶ resolve
 *
 * Encoding a page overlaps the transaction of the pages before it; pages that queue up while a
 * transaction is in flight are committed together in the next one (group commit), so a busy
 * source writes few, large transactions. Each transaction holds the pages' records, their dead
 * letters, the offsets they move and a marker naming the transaction — the marker settles a
 * commit whose answer was lost. Retriable failures are retried here with back-off, for as long
 * as it takes (a stop gives them a bounded grace); emit rejects only on a fatal error.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka, Message } from 'kafkajs';
import type { Registry } from 'prom-client';
import { FatalError, RetriableError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import { type RetryPolicy, withRetries } from '../../core/retry.ts';
import { createKafka, withAdmin } from '../../kafka/client.ts';
import { deadLetterMessages, ensureDeadLetterTopic } from '../../kafka/dead-letters.ts';
import { ensureTopics } from '../../kafka/topics.ts';
import type { RecordKind } from '../../schemas/catalog.ts';
import type { ContractMode } from '../../schemas/evolution.ts';
import { createRegistryClient, registryPort } from '../../schemas/registry-client.ts';
import type { ProducerConfig } from '../config.ts';
import type { Source, SourceContext, SourcePage, SourcePartition, SourceRecord } from '../source.ts';
import { type EncodeResult, RecordEncoder, type RejectedRecord } from './encoder.ts';
import { type SourceMetrics, sourceMetrics } from './metrics.ts';
import { ensureOffsetsTopic, loadOffsets, type OffsetMap, offsetMessage } from './offsets.ts';
import { AmbiguousCommitError, type TopicMessages, TransactionalWriter } from './transactions.ts';

export interface SourceRunnerOptions {
  config: ProducerConfig;
  /** The source's name: offsets key prefix and transactional id `chatstream-<name>-<instanceId>`. */
  name: string;
  /** The record kinds the source writes (their topics are created when missing). */
  kinds: RecordKind[];
  contract: ContractMode;
  log: Logger;
  metrics: Registry;
  /** Pending records above which `write` refuses more (push sources answer 503). */
  maxPendingRecords?: number;
  /** How long a stop keeps retrying the pages in hand before giving up on them. */
  stopGraceMs?: number;
}

interface Pending {
  page: SourcePage;
  encoded?: EncodeResult;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** The marker partition: its offset names the last committed transaction. */
const MARKER: SourcePartition = { _transaction: 'last' };

export class SourceRunner {
  readonly name: string;
  private readonly options: SourceRunnerOptions;
  private readonly kafka: Kafka;
  private readonly writer: TransactionalWriter;
  private readonly encoder: RecordEncoder;
  private readonly m: SourceMetrics;
  private readonly policy: RetryPolicy;
  private readonly stopping = new AbortController();
  /** Aborted a grace period after stop: retries of the pages in hand end there. */
  private readonly grace = new AbortController();
  private offsetMap?: OffsetMap;
  /** Pages encoded and waiting for a transaction, in emit order. */
  private readonly ready: Pending[] = [];
  private encodeChain: Promise<void> = Promise.resolve();
  private committing?: Promise<void>;
  private pendingRecords = 0;
  private fatal?: Error;

  constructor(options: SourceRunnerOptions) {
    this.options = options;
    this.name = options.name;
    const { config } = options;
    this.kafka = createKafka(config, { role: `source-${options.name}` });
    this.writer = new TransactionalWriter(this.kafka, {
      transactionalId: `chatstream-${options.name}-${config.producer.instanceId}`,
      transactionTimeoutMs: config.producer.transactionTimeoutMs,
      log: options.log,
    });
    this.encoder = new RecordEncoder({
      topicPrefix: config.kafka.topicPrefix,
      mode: options.contract,
      registry: registryPort(createRegistryClient(config)),
    });
    this.m = sourceMetrics(options.metrics);
    this.policy = { initialMs: config.producer.retryInitialMs, maxMs: config.producer.retryMaxMs };
  }

  get transactionalId(): string {
    return this.writer.transactionalId;
  }

  /** Creates missing topics, fences any earlier instance, and reads the committed offsets back. */
  async start(): Promise<void> {
    const { config, kinds, log } = this.options;
    await withAdmin(config, async (admin) => {
      await ensureTopics(admin, config, kinds);
      const brokers = (await admin.describeCluster()).brokers.length;
      await ensureDeadLetterTopic(admin, config, config.producer.deadLetterTopic);
      await ensureOffsetsTopic(
        admin,
        config.producer.offsetsTopic,
        config.kafka.replicationFactor || Math.min(3, brokers),
      );
    });
    await this.retry('initialising the transactional producer', () => this.writer.connect());
    this.offsetMap = await this.retry('reading source offsets', () =>
      loadOffsets(this.kafka, config.producer.offsetsTopic, this.name, log),
    );
    log.info('source ready', { source: this.name, transactionalId: this.writer.transactionalId });
  }

  private get offsets(): OffsetMap {
    if (!this.offsetMap) throw new Error('SourceRunner.start() was not called');
    return this.offsetMap;
  }

  private retry<T>(what: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return withRetries(fn, this.policy, {
      signal,
      onRetry: (error, attempt, waitMs) => {
        this.m.retries.inc({ source: this.name });
        this.options.log.warn(`${what} failed; retrying`, { attempt, waitMs, error: error.message });
      },
    });
  }

  /** The context a polling source runs with. */
  context(): SourceContext {
    return {
      offset: (partition) => this.offsets.get(partition),
      offsets: (match) => this.offsets.matching(match),
      emit: (page) => this.emit(page),
      signal: this.stopping.signal,
      log: this.options.log,
    };
  }

  /** One pass of a polling source. */
  async runPass(source: Source): Promise<void> {
    await source.poll(this.context());
  }

  /** Push sources (webhooks, collectors): records without offsets, acknowledged once committed. */
  write(records: SourceRecord[]): Promise<void> {
    const limit = this.options.maxPendingRecords ?? 50_000;
    if (this.pendingRecords + records.length > limit && this.pendingRecords > 0)
      return Promise.reject(
        new RetriableError(`busy: ${this.pendingRecords} records are waiting for Kafka`, {}),
      );
    return this.emit({ records });
  }

  /** Queues a page; resolves once its records and offsets are committed. */
  emit(page: SourcePage): Promise<void> {
    if (this.fatal) return Promise.reject(this.fatal);
    return new Promise<void>((resolve, reject) => {
      const pending: Pending = { page, resolve, reject };
      this.pendingRecords += page.records.length;
      this.m.pending.set({ source: this.name }, this.pendingRecords);
      this.encodeChain = this.encodeChain.then(() => this.encodeOne(pending));
    });
  }

  private async encodeOne(pending: Pending): Promise<void> {
    try {
      pending.encoded = await this.retry(
        'encoding records',
        () => this.encoder.encode(pending.page.records),
        this.stopDeadline(),
      );
      if (pending.encoded.added.length > 0) {
        this.m.fieldsAdded.inc({ source: this.name }, pending.encoded.added.length);
        this.options.log.info('schema evolved: new fields registered', {
          source: this.name,
          fields: pending.encoded.added,
        });
      }
    } catch (error) {
      this.settle([pending], error as Error);
      return;
    }
    this.ready.push(pending);
    this.committing ??= this.commitLoop().finally(() => {
      this.committing = undefined;
    });
  }

  private async commitLoop(): Promise<void> {
    const max = this.options.config.producer.batchMaxRecords;
    while (this.ready.length > 0) {
      const batch: Pending[] = [];
      let records = 0;
      while (
        this.ready.length > 0 &&
        (batch.length === 0 || records + this.ready[0]!.page.records.length <= max)
      ) {
        const next = this.ready.shift() as Pending;
        records += next.page.records.length;
        batch.push(next);
      }
      try {
        await this.commitBatch(batch);
        this.settle(batch);
      } catch (error) {
        this.settle(batch, error as Error);
      }
    }
  }

  private settle(batch: Pending[], error?: Error): void {
    for (const p of batch) {
      this.pendingRecords -= p.page.records.length;
      if (error) p.reject(error);
      else p.resolve();
    }
    this.m.pending.set({ source: this.name }, this.pendingRecords);
    if (error instanceof FatalError) this.fatal = error;
  }

  /** The whole batch in one transaction, retried until it is committed (exactly once). */
  private async commitBatch(batch: Pending[]): Promise<void> {
    const id = randomUUID();
    const messages = this.messagesOf(batch, id);
    const started = process.hrtime.bigint();
    await this.retry(
      'committing a transaction',
      async () => {
        try {
          await this.writer.commit(messages);
        } catch (error) {
          if (!(error instanceof AmbiguousCommitError) || !(await this.committed(id))) throw error;
          this.options.log.info('the commit had gone through; not sending it again', { transaction: id });
        }
      },
      this.stopDeadline(),
    );
    this.applyOffsets(batch);
    this.recordMetrics(batch, started);
  }

  /** Whether the transaction with this marker is what Kafka holds as committed. */
  private async committed(id: string): Promise<boolean> {
    const { config, log } = this.options;
    const read = await loadOffsets(this.kafka, config.producer.offsetsTopic, this.name, log);
    return read.get(MARKER)?.transaction === id;
  }

  private messagesOf(batch: Pending[], transaction: string): TopicMessages[] {
    const byTopic = new Map<string, Message[]>();
    const add = (topic: string, message: Message) => {
      const list = byTopic.get(topic);
      if (list) list.push(message);
      else byTopic.set(topic, [message]);
    };
    const { config } = this.options;
    const offsets = new Map<string, { partition: SourcePartition; offset: Record<string, unknown> | null }>();
    for (const { page, encoded } of batch) {
      for (const r of encoded?.encoded ?? [])
        add(r.topic, { key: r.key, value: r.value, timestamp: String(r.timestamp) });
      for (const m of this.deadLetters(encoded?.rejected ?? [])) add(config.producer.deadLetterTopic, m);
      for (const o of page.offsets ?? []) offsets.set(JSON.stringify(o.partition), o);
    }
    for (const o of offsets.values())
      add(config.producer.offsetsTopic, offsetMessage(this.name, o.partition, o.offset));
    add(
      config.producer.offsetsTopic,
      offsetMessage(this.name, MARKER, { transaction, time: new Date().toISOString() }),
    );
    return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
  }

  private deadLetters(rejected: RejectedRecord[]): Message[] {
    return deadLetterMessages(
      rejected.map((r) => ({
        key: r.key,
        value: JSON.stringify(r.value),
        kind: 'rejected',
        reason: r.reason,
        headers: { 'dlq.topic': r.topic },
      })),
      { 'dlq.source': this.name },
    );
  }

  private applyOffsets(batch: Pending[]): void {
    for (const { page } of batch) for (const o of page.offsets ?? []) this.offsets.set(o.partition, o.offset);
  }

  private recordMetrics(batch: Pending[], started: bigint): void {
    const source = this.name;
    const counts = new Map<string, [number, number]>();
    for (const { encoded } of batch) {
      for (const r of encoded?.encoded ?? []) {
        const c = counts.get(r.topic) ?? [0, 0];
        c[0]++;
        counts.set(r.topic, c);
      }
      for (const r of encoded?.rejected ?? []) {
        const c = counts.get(r.topic) ?? [0, 0];
        c[1]++;
        counts.set(r.topic, c);
      }
    }
    for (const [topic, [ok, bad]] of counts) {
      if (ok) this.m.records.inc({ source, topic }, ok);
      if (bad) this.m.deadLetters.inc({ source, topic }, bad);
    }
    this.m.transactions.inc({ source });
    this.m.transactionSeconds.observe({ source }, Number(process.hrtime.bigint() - started) / 1e9);
    this.m.lastCommit.set({ source }, Date.now() / 1000);
  }

  /** Until stop: retry forever. After stop: retry for the grace period, then give up on the page. */
  private stopDeadline(): AbortSignal {
    return this.grace.signal;
  }

  /** Stops: sources see the abort; pages in hand are committed within the grace period. */
  async stop(): Promise<void> {
    this.stopping.abort();
    const timer = setTimeout(() => this.grace.abort(), this.options.stopGraceMs ?? 10_000);
    try {
      await this.encodeChain;
      await this.committing;
    } finally {
      clearTimeout(timer);
      await this.writer.close();
    }
  }
}
