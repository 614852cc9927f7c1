/**
 * The source runner: the part of every producer that is not fetching.
 *
 *   source.poll ──emit(page)──▶ encode (serial) ──▶ commit (serial, one transaction) ──▶ resolve
 *
 * Encoding a page overlaps the transaction of the pages before it; pages that queue up while a
 * transaction is in flight are committed together in the next one (group commit), so a busy
 * source writes few, large transactions. Each transaction holds the pages' records, their dead
 * letters, the offsets they move and a marker naming the transaction — the marker settles a
 * commit whose answer was lost (commit.ts). Retriable failures are retried here with back-off,
 * for as long as it takes (a stop gives them a bounded grace); emit rejects only on a fatal
 * error, which also stops the runner for good.
 *
 * Push sources without cursors (a collector) may choose `idempotent` delivery instead: the same
 * pipeline, but each batch is one acknowledged produce instead of a transaction.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import { FatalError, RetriableError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import { type RetryPolicy, withRetries } from '../../core/retry.ts';
import { createKafka } from '../../kafka/client.ts';
import type { RecordKind } from '../../schemas/catalog.ts';
import type { ContractMode } from '../../schemas/evolution.ts';
import { createRegistryClient, registryPort } from '../../schemas/registry-client.ts';
import { deadLetterTopicOf, offsetsTopicOf, type ProducerConfig, transactionalIdOf } from '../config.ts';
import type { EmitOptions, Source, SourceContext, SourcePage, SourceRecord } from '../source.ts';
import { countRecords, transactionMessages } from './batch.ts';
import { commitExactlyOnce, markerCommitted } from './commit.ts';
import { type EncodeResult, RecordEncoder } from './encoder.ts';
import { IdempotentWriter } from './idempotent.ts';
import { recordCommit, type SourceMetrics, sourceMetrics } from './metrics.ts';
import { loadOffsets, OffsetMap } from './offsets.ts';
import { type ReadyPage, ReadyQueue } from './ready.ts';
import { prepareTopics } from './topics.ts';
import { TransactionalWriter } from './transactions.ts';

export interface SourceRunnerOptions {
  config: ProducerConfig;
  /** The source's name: offsets key prefix and transactional id `chatstream-<prefix><name>-<instanceId>`. */
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
  /**
   * `transactional` (default): records and offsets in one Kafka transaction, exactly once.
   * `idempotent`: for push sources without offsets (a collector) — one produce round trip per
   * batch, no transaction; a batch retried after a failure may repeat records, which their
   * own ids make harmless downstream. No transactional id, so instances never fence each other.
   */
  delivery?: 'transactional' | 'idempotent';
  /**
   * Pages waiting this long without any being acknowledged mean Kafka is not taking writes:
   * health turns unhealthy and `write` refuses at once (default 10 s).
   */
  stallMs?: number;
  /** Caps the back-off between retries below CHATSTREAM_PRODUCER_RETRY_MAX_MS (a push source wants to notice a recovery soon). */
  retryMaxMs?: number;
}

interface Pending extends ReadyPage {
  encoded?: EncodeResult;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class SourceRunner {
  readonly name: string;
  private readonly options: SourceRunnerOptions;
  private readonly kafka: Kafka;
  private readonly writer: TransactionalWriter | IdempotentWriter;
  private readonly transactional: boolean;
  private readonly encoder: RecordEncoder;
  private readonly m: SourceMetrics;
  private readonly policy: RetryPolicy;
  private readonly stopping = new AbortController();
  /** Aborted a grace period after stop: retries of the pages in hand end there. */
  private readonly grace = new AbortController();
  private offsetMap?: OffsetMap;
  /** Pages encoded and waiting for a transaction, in emit order, and their linger (ready.ts). */
  private readonly ready = new ReadyQueue<Pending>();
  private encodeChain: Promise<void> = Promise.resolve();
  /** Pages emitted so far (each page's place in emit order). */
  private emitted = 0;
  private committing?: Promise<void>;
  private pendingRecords = 0;
  private pendingPages = 0;
  /** Since when the pages in hand have waited without one being settled. */
  private waitingSince = 0;
  private fatal?: Error;
  /**
   * Set when a page failed during a stop (its retries ended with the grace period): every later
   * page is refused too, so no later cursor commits past the records that were not written.
   */
  private failedInStop?: Error;
  /** Set once stop() has drained: a page handed over later is refused, not written by a closing producer. */
  private closed = false;
  /** Set while Kafka or the registry keeps failing (the reason); cleared by the next commit. */
  private failing?: string;
  private readonly fatalListeners: ((error: Error) => void)[] = [];

  constructor(options: SourceRunnerOptions) {
    this.options = options;
    this.name = options.name;
    const { config } = options;
    this.kafka = createKafka(config, { role: `source-${options.name}` });
    this.transactional = options.delivery !== 'idempotent';
    this.writer = this.transactional
      ? new TransactionalWriter(this.kafka, {
          transactionalId: transactionalIdOf(config, options.name),
          transactionTimeoutMs: config.producer.transactionTimeoutMs,
          log: options.log,
        })
      : new IdempotentWriter(this.kafka);
    this.encoder = new RecordEncoder({
      topicPrefix: config.kafka.topicPrefix,
      mode: options.contract,
      registry: registryPort(createRegistryClient(config)),
    });
    this.m = sourceMetrics(options.metrics);
    this.policy = {
      initialMs: config.producer.retryInitialMs,
      maxMs: Math.min(config.producer.retryMaxMs, options.retryMaxMs ?? Number.POSITIVE_INFINITY),
    };
  }

  /** The name this instance's offsets are keyed by: `<source>@<instanceId>` (instances never share cursors). */
  get offsetSource(): string {
    return `${this.name}@${this.options.config.producer.instanceId}`;
  }

  /** Undefined for `idempotent` delivery. */
  get transactionalId(): string | undefined {
    return this.writer instanceof TransactionalWriter ? this.writer.transactionalId : undefined;
  }

  /** Creates missing topics, fences any earlier instance, and reads the committed offsets back. */
  async start(): Promise<void> {
    const { config, kinds, log } = this.options;
    await prepareTopics(config, kinds);
    const stop = this.stopping.signal;
    await this.retry('initialising the transactional producer', () => this.writer.connect(), stop);
    this.offsetMap = this.transactional
      ? await this.retry(
          'reading source offsets',
          () => loadOffsets(this.kafka, offsetsTopicOf(config), this.offsetSource, log),
          stop,
        )
      : new OffsetMap(this.offsetSource);
    this.failing = undefined; // whatever was retried on the way has worked
    log.info('source ready', {
      source: this.name,
      delivery: this.transactional ? 'transactional' : 'idempotent',
      transactionalId: this.transactionalId,
    });
  }

  private get offsets(): OffsetMap {
    if (!this.offsetMap) throw new Error('SourceRunner.start() was not called');
    return this.offsetMap;
  }

  private retry<T>(what: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return withRetries(fn, this.policy, {
      signal,
      onRetry: (error, attempt, waitMs) => {
        this.failing = error.message;
        this.m.retries.inc({ source: this.name });
        this.options.log.warn(`${what} failed; retrying`, { attempt, waitMs, error: error.message });
      },
    });
  }

  /** ok unless Kafka or the registry keeps failing, or a fatal error stopped the runner. */
  health(): { ok: boolean; kafka: string; pendingRecords: number } {
    const stalled = this.stalled();
    const kafka = this.fatal ? `stopped: ${this.fatal.message}` : (this.failing ?? stalled ?? 'ok');
    return { ok: !this.fatal && !this.failing && !stalled, kafka, pendingRecords: this.pendingRecords };
  }

  /** Why writes look stuck (pages waiting past stallMs with none acknowledged), if they do. */
  private stalled(): string | undefined {
    if (this.pendingPages === 0) return undefined;
    const waited = Date.now() - this.waitingSince;
    if (waited < (this.options.stallMs ?? 10_000)) return undefined;
    return `Kafka has not acknowledged a write for ${Math.round(waited / 1000)} s`;
  }

  /** Called once when a fatal error stops the runner (a push source should then stop too). */
  onFatal(listener: (error: Error) => void): void {
    if (this.fatal) listener(this.fatal);
    else this.fatalListeners.push(listener);
  }

  /** The context a polling source runs with. */
  context(): SourceContext {
    return {
      offset: (partition) => this.offsets.get(partition),
      offsets: (match) => this.offsets.matching(match),
      emit: (page, options) => this.emit(page, options),
      flush: () => this.flush(),
      signal: this.stopping.signal,
      log: this.options.log,
    };
  }

  /** One pass of a polling source. */
  async runPass(source: Source): Promise<void> {
    await source.poll(this.context());
  }

  /**
   * Push sources (webhooks, collectors): records without offsets, acknowledged once committed.
   * While Kafka is failing it refuses at once (the caller answers 503 and the sender retries)
   * instead of queueing; a write that waits longer than `writeTimeoutMs` gets a retriable error
   * too — its records may still be committed later, so the sender's retry can duplicate them
   * (the `_dedup` views count each id once).
   */
  write(records: SourceRecord[], writeTimeoutMs = 15_000): Promise<void> {
    return this.writePage({ records }, writeTimeoutMs);
  }

  /** `write` for a whole page (records and refused input, e.g. a collector's bad rows). */
  writePage(page: SourcePage, writeTimeoutMs = 15_000): Promise<void> {
    const limit = this.options.maxPendingRecords ?? 50_000;
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.failing) return Promise.reject(new RetriableError(`Kafka is unavailable: ${this.failing}`));
    const stalled = this.stalled();
    if (stalled) return Promise.reject(new RetriableError(stalled));
    if (this.pendingRecords + page.records.length > limit && this.pendingRecords > 0)
      return Promise.reject(new RetriableError(`busy: ${this.pendingRecords} records are waiting for Kafka`));
    const written = this.enqueue(page, false);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new RetriableError(`Kafka did not acknowledge within ${writeTimeoutMs / 1000} s`)),
        writeTimeoutMs,
      );
    });
    written.catch(() => undefined); // answered by the timeout: the runner logs what happens next
    return Promise.race([written, late]).finally(() => clearTimeout(timer));
  }

  /**
   * Queues a page; resolves once its records and offsets are committed. With `linger` its
   * transaction may wait up to CHATSTREAM_PRODUCER_LINGER_MS for more pages to share it.
   */
  emit(page: SourcePage, options: EmitOptions = {}): Promise<void> {
    return this.enqueue(page, options.linger === true);
  }

  /** Ends the linger of every page emitted so far (their caller is about to wait for them). */
  flush(): void {
    this.ready.flush(this.emitted);
  }

  private enqueue(page: SourcePage, lingers: boolean): Promise<void> {
    if (this.fatal) return Promise.reject(this.fatal);
    // Its records and cursor are not written: the next run fetches them again from the cursors.
    if (this.closed)
      return Promise.reject(new RetriableError(`${this.name}: stopped; the page was not written`));
    if (!this.transactional && page.offsets?.length)
      return Promise.reject(new Error('a source with idempotent delivery cannot commit offsets'));
    return new Promise<void>((resolve, reject) => {
      const pending: Pending = { page, lingers, seq: ++this.emitted, resolve, reject };
      this.pendingRecords += page.records.length;
      if (this.pendingPages++ === 0) this.waitingSince = Date.now();
      this.m.pending.set({ source: this.name }, this.pendingRecords);
      this.encodeChain = this.encodeChain.then(() => this.encodeOne(pending));
    });
  }

  private async encodeOne(pending: Pending): Promise<void> {
    const refusal = this.fatal ?? this.failedInStop;
    if (refusal) {
      this.settle([pending], refusal);
      return;
    }
    try {
      pending.encoded = await this.retry(
        'encoding records',
        () => this.encoder.encode(pending.page.records),
        this.grace.signal,
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
    this.kick();
  }

  /**
   * Starts the commit loop unless it runs. A page pushed while the loop is finishing (it saw an
   * empty queue, its `finally` has not run yet) would otherwise wait forever: the loop starts
   * again from its `finally` when the queue is not empty.
   */
  private kick(): void {
    if (this.committing) return;
    this.committing = this.commitLoop().finally(() => {
      this.committing = undefined;
      if (this.ready.length > 0) this.kick();
    });
  }

  private async commitLoop(): Promise<void> {
    const max = this.options.config.producer.batchMaxRecords;
    while (this.ready.length > 0) {
      await this.ready.linger(max, this.options.config.producer.lingerMs, () =>
        Boolean(this.fatal || this.stopping.signal.aborted),
      );
      const batch = this.ready.take(max);
      // After a fatal error nothing more is committed: a fenced writer must not come back. After
      // a page failed in a stop, nothing later is: its cursor would pass the page's records.
      const refusal = this.fatal ?? this.failedInStop;
      if (refusal) {
        this.settle(batch, refusal);
        continue;
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
      this.pendingPages--;
      if (error) p.reject(error);
      else p.resolve();
    }
    this.waitingSince = Date.now(); // the pages still in hand wait from now
    this.m.pending.set({ source: this.name }, this.pendingRecords);
    if (error && !(error instanceof FatalError) && this.stopping.signal.aborted)
      this.failedInStop ??= new RetriableError(
        `${this.name}: stopped after an earlier page was not written; this one is refused so that no cursor passes it`,
      );
    if (error instanceof FatalError && !this.fatal) {
      this.fatal = error;
      this.options.log.error('source stopped by a fatal error', { source: this.name, error: error.message });
      for (const listener of this.fatalListeners.splice(0)) listener(error);
      this.ready.wake(); // a lingering page is refused now, not at the end of its linger
    }
  }

  /** The whole batch in one transaction, retried until it is committed (exactly once). */
  private async commitBatch(batch: Pending[]): Promise<void> {
    const id = randomUUID();
    const { config, log } = this.options;
    const offsetsTopic = offsetsTopicOf(config);
    const started = process.hrtime.bigint();
    await commitExactlyOnce({
      writer: this.writer,
      messages: transactionMessages(
        this.offsetSource,
        batch,
        { offsets: offsetsTopic, deadLetters: deadLetterTopicOf(config) },
        this.transactional ? id : undefined,
      ),
      id,
      records: countRecords(batch),
      retry: (what, fn) => this.retry(what, fn, this.grace.signal),
      committed: () => markerCommitted(this.writer, this.kafka, offsetsTopic, this.offsetSource, id, log),
      log,
    });
    this.failing = undefined;
    for (const { page } of batch) for (const o of page.offsets ?? []) this.offsets.set(o.partition, o.offset);
    recordCommit(this.m, this.name, batch, started);
  }

  /** Stops: sources see the abort; pages in hand are committed within the grace period. */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.ready.wake(); // a lingering commit begins now
    const timer = setTimeout(() => this.grace.abort(), this.options.stopGraceMs ?? 10_000);
    try {
      // A source may still hand over the page it had in hand after the abort: wait until
      // neither stage has anything left, not just for what was queued when stop was called.
      for (;;) {
        const chain = this.encodeChain;
        await chain;
        await this.committing;
        if (chain === this.encodeChain && this.committing === undefined && this.ready.length === 0) break;
      }
    } finally {
      clearTimeout(timer);
      this.closed = true;
      // Disconnecting waits on the brokers; with Kafka gone that must not hold the stop.
      let closeTimer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.writer.close(),
        new Promise((resolve) => {
          closeTimer = setTimeout(resolve, 5_000);
        }),
      ]).finally(() => clearTimeout(closeTimer));
    }
  }
}
