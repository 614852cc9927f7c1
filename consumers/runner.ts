/**
 * The sink runner: one kafkajs consumer group feeding one sink.
 *
 * For each fetched batch of a topic-partition it skips what the sink already stored, decodes
 * (poison → dead letter), writes in chunks of at most `batchMaxRows` records / `batchMaxBytes`
 * bytes, and commits only what the sink stored — dead letters acknowledged before any offset
 * covers them (runner/batch.ts). Every failure is decided once (runner/decisions.ts): retry
 * (back off, heartbeat, go on when the cause is gone), dead letter, rejoin (a rebalance), or
 * stop: the runner stops and the process exits non-zero with the message (3 for credentials and
 * settings, 5 for a service that cannot be reached at start, 1 for a bug). kafkajs giving up
 * (its CRASH event without a restart) is a stop too. Batching in time and bytes is the fetch
 * itself (minBytes, maxWaitTimeInMs, maxBytesPerPartition); memory is bounded by the fetch size
 * `memoryBytes`. `health()` says what it does: running, waiting on what and since when, failed.
 */
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import { type ChatstreamError, describeError, ServiceError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { createMetricsRegistry, type Health } from '../core/metrics.ts';
import { type RetryPolicy, sleep } from '../core/retry.ts';
import { displayUrl } from '../core/url.ts';
import { checkKafkaAccess } from '../kafka/access.ts';
import { createKafka } from '../kafka/client.ts';
import { type DeadLetter, DeadLetterQueue, ensureDeadLetterTopic } from '../kafka/dead-letters.ts';
import type { SinkConfig } from './config.ts';
import { type Decoded, Decoder } from './decoder.ts';
import { BatchWork } from './runner/batch.ts';
import { decide, EndBatch, fatalOf, kafkaType } from './runner/decisions.ts';
import type { BatchHost } from './runner/host.ts';
import { interrupted, startStep } from './runner/start-step.ts';
import { RunnerStatus } from './runner/status.ts';
import type { Sink } from './sink.ts';
import { type SinkMetrics, sinkMetrics } from './sink-metrics.ts';

export { decodedSize } from './runner/host.ts';

export interface RunnerOptions {
  config: SinkConfig;
  sink: Sink;
  log: Logger;
  topics: string[];
  group: string;
  /** Where the runner registers its metrics; a registry of its own (with process metrics) by default. */
  metrics?: Registry;
  /**
   * Called once the runner has stopped on a fatal error (after closing what it could). By
   * default, in a process that handles SIGINT/SIGTERM (a command supervising it, as
   * `chatstream sink` and `chatstream start` do), the process exits with the error's exit code
   * and the message on stderr; elsewhere (tests, an embedding program) nothing happens beyond
   * `failed` rejecting.
   */
  onFatal?: (error: ChatstreamError) => void;
  /**
   * Creates the topics before subscribing (e.g. the catalogue's, with their settings), as a
   * start step: retried while Kafka is unreachable, exit 5 after the start timeout, exit 3 when
   * Kafka refuses it.
   */
  createTopics?: (admin: Admin) => Promise<unknown>;
  /** How long each start step waits for its service before exit 5 (default: CHATSTREAM_SINK_START_TIMEOUT_MS). */
  startTimeoutMs?: number;
  /** A partition waiting longer than this makes /health unhealthy (default max(60 s, 2 × retryMaxMs)). */
  stallMs?: number;
}

/** How long stopping waits for the batch in flight (then for each client) before going on. */
const CLOSE_CONSUMER_MS = 15_000;
const CLOSE_CLIENT_MS = 5_000;

/** Resolves when the promise settles or after ms, whichever comes first (never rejects). */
async function bounded(promise: Promise<unknown> | undefined, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.resolve(promise).catch(() => undefined),
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

/** The default onFatal: a supervised process exits with the error's code and message. */
function exitOnFatal(error: ChatstreamError): void {
  if (process.listenerCount('SIGINT') + process.listenerCount('SIGTERM') === 0) return;
  const text =
    error.code === 'INTERNAL'
      ? `internal error (a bug; please report it)\n${(error.cause as Error)?.stack ?? describeError(error)}`
      : describeError(error);
  process.stderr.write(`chatstream: ${text}\n`);
  process.exit(error.exitCode);
}

export class SinkRunner {
  readonly metrics: Registry;
  /** Rejects with the fatal error once the runner stopped on one (after closing); never resolves. */
  readonly failed: Promise<never>;
  private readonly m: SinkMetrics;
  private readonly options: RunnerOptions;
  private readonly kafka: Kafka;
  private decoder: Pick<Decoder, 'decodeKnown' | 'decode'> &
    Partial<Pick<Decoder, 'probe' | 'schemaKnown' | 'schemaOf'>>;
  private dlq: Pick<DeadLetterQueue, 'topic' | 'connect' | 'send' | 'close'>;
  private readonly policy: RetryPolicy;
  private consumer?: Consumer;
  private admin?: Admin;
  /** Offsets the sink holds, per topic:partition, loaded after each (re)assignment. */
  private readonly stored = new Map<string, bigint | undefined>();
  private readonly stopping = new AbortController();
  /** Estimated memory one chunk of decoded records may take. */
  private readonly chunkMemory: number;
  private readonly status: RunnerStatus;
  /** True while start() runs: a fatal error then rejects start() instead of calling onFatal. */
  private starting = false;
  private failure?: ChatstreamError;
  private rejectFailed: (error: ChatstreamError) => void = () => {};
  private closing?: Promise<void>;
  private readonly host: BatchHost;
  private generation = 0;

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
    // Half the budget for decoded records: per partition worker, a chunk being decoded and one
    // being written.
    this.chunkMemory = Math.floor(options.config.sink.memoryBytes / (4 * options.config.sink.concurrency));
    this.status = new RunnerStatus(
      this.m,
      options.stallMs ?? Math.max(60_000, 2 * options.config.sink.retryMaxMs),
      options.log,
    );
    this.failed = new Promise<never>((_, reject) => {
      this.rejectFailed = reject;
    });
    this.failed.catch(() => {}); // observed through onFatal; `failed` is for whoever wants it
    this.host = this.batchHost();
  }

  /** The runner as its batches see it (fields read at call time, so tests may swap them). */
  private batchHost(): BatchHost {
    const { sink, group, config, log } = this.options;
    const decoder = () => this.decoder;
    return {
      sink,
      group,
      config,
      log,
      m: this.m,
      policy: this.policy,
      signal: this.stopping.signal,
      chunkMemory: this.chunkMemory,
      storedOffsets: this.stored,
      decodeKnown: (bytes): Decoded | undefined => this.decoder.decodeKnown(bytes),
      decode: (bytes) => this.decoder.decode(bytes),
      // Read at call time like the others (tests swap the decoder for one without these).
      get schemaKnown() {
        return decoder().schemaKnown?.bind(decoder());
      },
      get schemaOf() {
        return decoder().schemaOf?.bind(decoder());
      },
      sendDeadLetters: (letters: DeadLetter[]) => this.dlq.send(letters),
      commit: async (topic, partition, next) => {
        await (this.consumer as Consumer).commitOffsets([{ topic, partition, offset: next.toString() }]);
      },
      failed: () => this.failure !== undefined,
      waiting: (topic, partition, wait) => this.status.waiting(topic, partition, wait),
      setLag: (topic, partition, lag) => this.status.setLag(topic, partition, lag),
      refreshLag: (topic, partition, position) =>
        this.status.refreshLag(this.admin, topic, partition, position),
      generation: () => this.generation,
    };
  }

  /**
   * What the runner is doing, for GET /health (see RunnerStatus): ok unless it failed or
   * stopped, a partition waits longer than the stall limit, or it is out of the group that long.
   */
  health(): Health {
    return this.status.health({
      sink: this.options.sink.name,
      group: this.options.group,
      paused: this.consumer?.paused() ?? [],
      failure: this.failure,
    });
  }

  /** One start step against a service (runner/start-step.ts). */
  private startStep<T>(service: string, what: string, hint: string, fn: () => Promise<T>): Promise<T> {
    return startStep(
      {
        signal: this.stopping.signal,
        timeoutMs: this.options.startTimeoutMs ?? this.options.config.sink.startTimeoutMs,
        policy: this.policy,
        log: this.options.log,
        failure: () => this.failure,
      },
      service,
      what,
      hint,
      fn,
    );
  }

  /** A stop asked for while starting: the start ends at once (start() then rejects with INTERRUPTED). */
  interruptStart(): void {
    if (this.starting) this.stopping.abort();
  }

  async start(): Promise<void> {
    this.starting = true;
    try {
      await this.connect();
    } catch (error) {
      // Close what did start, so a failed start ends the process instead of holding it.
      this.stopping.abort();
      await this.close();
      throw error;
    } finally {
      this.starting = false;
    }
  }

  private async connect(): Promise<void> {
    const { config, sink, log, topics, group } = this.options;
    const kafkaHint = `is Kafka running (chatstream stack status)? check CHATSTREAM_KAFKA_BROKERS (${config.kafka.brokers.join(',')}) and, for a managed cluster, CHATSTREAM_KAFKA_SECURITY_PROTOCOL (${config.kafka.securityProtocol})`;
    await checkKafkaAccess(config); // wrong credentials or CA: exit 3 now, not after the retries
    this.admin = await this.startStep('kafka', 'connecting', kafkaHint, async () => {
      const admin = this.kafka.admin();
      this.admin = admin; // a stop during the connect disconnects it (close())
      try {
        await admin.connect();
      } catch (error) {
        await admin.disconnect().catch(() => {});
        throw error;
      }
      return admin;
    });
    const admin = this.admin;
    await this.startStep('kafka', 'creating the dead-letter topic', kafkaHint, () =>
      ensureDeadLetterTopic(admin, config, this.dlq.topic),
    );
    const { createTopics } = this.options;
    if (createTopics)
      await this.startStep('kafka', 'creating the topics', kafkaHint, () => createTopics(admin));
    await this.startStep('kafka', 'connecting the dead-letter producer', kafkaHint, () => this.dlq.connect());
    const { decoder } = this;
    if (decoder.probe)
      await this.startStep(
        'schema registry',
        'reaching the schema registry',
        `is the registry running (chatstream stack status)? check CHATSTREAM_SCHEMA_REGISTRY_URL (${displayUrl(config.schemaRegistry.url)})`,
        () => decoder.probe?.() ?? Promise.resolve(),
      );
    await this.startStep(
      sink.name,
      `connecting to ${sink.name}`,
      `is ${sink.name} running and reachable (chatstream stack status)? check its settings (CHATSTREAM_${sink.name.toUpperCase()}_*)`,
      () => sink.connect(),
    );
    // Last: the destination's settings are checked even while the topics do not exist yet.
    await this.waitForTopics(admin, kafkaHint);

    const { batchMaxBytes, batchMaxWaitMs, memoryBytes, concurrency, sessionTimeoutMs } = config.sink;
    // The memory budget: half for decoded chunks in flight; the fetch gets 1/16 of it in bytes,
    // because kafkajs holds each fetched message as objects of ~300 bytes plus its data (for
    // small records ~6x their size, and a second fetch may be in flight).
    const fetchBytes = Math.max(64 * 1024, Math.floor(memoryBytes / 16));
    const consumer = this.kafka.consumer({
      groupId: group,
      sessionTimeout: sessionTimeoutMs,
      heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeoutMs / 3)),
      minBytes: Math.min(1024 * 1024, batchMaxBytes, fetchBytes),
      maxWaitTimeInMs: batchMaxWaitMs,
      // A fetch holds data for at least `concurrency` partitions, so every worker has a batch.
      maxBytesPerPartition: Math.min(
        batchMaxBytes,
        Math.max(64 * 1024, Math.floor(fetchBytes / concurrency)),
      ),
      maxBytes: fetchBytes,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      this.generation += 1;
      this.stored.clear();
      this.status.assigned(event.payload.memberAssignment);
      log.info('partitions assigned', { group, assignment: event.payload.memberAssignment });
    });
    consumer.on(consumer.events.REBALANCING, () => this.status.set('rebalancing'));
    consumer.on(consumer.events.CRASH, (event) => {
      const { error, restart } = event.payload;
      if (this.stopping.signal.aborted) return;
      if (restart) {
        this.status.set('restarting');
        log.warn('the Kafka consumer crashed; kafkajs restarts it', {
          error: error.message,
          type: kafkaType(error),
        });
        return;
      }
      this.fail(fatalOf(error, 'the Kafka consumer stopped'));
    });
    await this.startStep('kafka', 'joining the consumer group', kafkaHint, async () => {
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: config.sink.fromBeginning });
    });
    if (this.stopping.signal.aborted)
      throw this.failure ?? interrupted('kafka', 'joining the consumer group');
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: concurrency,
      eachBatch: (payload) => this.handle(payload),
    });
    // kafkajs reports a failed first join through CRASH (handled above), not by rejecting.
    if (this.failure) throw this.failure;
    log.info('sink running', { sink: sink.name, group, topics: topics.length });
  }

  /** Subscribing needs the topics: wait for missing ones to be created ("consumed once created"). */
  private async waitForTopics(admin: Admin, hint: string): Promise<void> {
    const { topics, log } = this.options;
    let warned = 0;
    for (;;) {
      const existing = new Set(
        await this.startStep('kafka', 'listing topics', hint, () => admin.listTopics()),
      );
      const missing = topics.filter((t) => !existing.has(t));
      if (missing.length === 0) return;
      if (Date.now() - warned > 30_000) {
        log.warn('topics do not exist yet; waiting for them to be created', { missing });
        warned = Date.now();
      }
      await sleep(2000, this.stopping.signal);
      if (this.stopping.signal.aborted)
        throw new ServiceError('kafka', `stopped while waiting for topics ${missing.join(', ')}`, {
          code: 'INTERRUPTED',
        });
    }
  }

  private async handle(payload: EachBatchPayload): Promise<void> {
    if (this.failure) return;
    const { topic, partition } = payload.batch;
    try {
      await new BatchWork(this.host, payload).run();
    } catch (error) {
      if (error instanceof EndBatch) return;
      const decision = decide(error);
      // kafkajs rejoins the group when it sees its own rebalance error (by its type).
      if (decision.action === 'rejoin') throw rejoinError(error);
      if (decision.action === 'stop') return this.fail(decision.error);
      if (this.stopping.signal.aborted) return; // a retry cut short by stop(): commit nothing more
      this.fail(fatalOf(error, 'unexpected in the sink runner'));
    } finally {
      this.status.waiting(topic, partition, undefined);
    }
  }

  /** Stops on a fatal error: nothing more is written or committed; then onFatal. */
  private fail(error: ChatstreamError): void {
    if (this.failure) return;
    this.failure = error;
    this.status.set('failed');
    this.options.log.error(`the sink stops: ${error.message}`, {
      code: error.code,
      exitCode: error.exitCode,
      hint: error.hint,
      cause: error.cause instanceof Error ? describeError(error.cause) : undefined,
    });
    this.stopping.abort();
    if (this.starting) return; // start() rejects with it
    void this.close().then(() => {
      this.rejectFailed(error);
      (this.options.onFatal ?? exitOnFatal)(error);
    });
  }

  /** Closes the consumer (after the batch in flight), the dead-letter producer, the admin and the sink; once. */
  private close(): Promise<void> {
    this.closing ??= (async () => {
      await bounded(this.consumer?.disconnect(), CLOSE_CONSUMER_MS);
      await bounded(this.dlq.close(), CLOSE_CLIENT_MS);
      await bounded(this.admin?.disconnect(), CLOSE_CLIENT_MS);
      await bounded(this.options.sink.close(), CLOSE_CLIENT_MS);
    })();
    return this.closing;
  }

  /** Stops consuming after the batch in flight is written and committed, then closes the sink. */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.status.set('stopping');
    await this.close();
    this.status.set('stopped');
  }
}

/** The error in the chain that carries kafkajs's type, as kafkajs's runner tests it. */
function rejoinError(error: unknown): unknown {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    if (typeof (current as { type?: unknown }).type === 'string') return current;
    current = (current as { cause?: unknown }).cause;
  }
  return error;
}
