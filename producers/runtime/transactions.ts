/**
 * One Kafka transaction at a time, on a transactional producer with a stable transactional id
 * (idempotence on). `commit` writes every message of a batch — records, dead letters, offsets —
 * and commits; read-committed consumers see all of it or none of it.
 *
 * After any failure the producer is thrown away and a new one is made: initialising it bumps
 * the producer epoch, which aborts whatever the old one left open. A failure is reported as
 *  - RetriableError: the transaction was aborted (nothing visible); send the batch again;
 *  - AmbiguousCommitError: the commit request failed and may have committed; the caller checks
 *    what Kafka holds before sending again;
 *  - FatalError: another process took over this transactional id (fenced), Kafka refuses us
 *    (ACLs), or a record is larger than the broker accepts.
 * Messages go out in sends of at most SEND_CHUNK_BYTES, so a large page never exceeds a
 * partition's batch limit.
 */
import type { Kafka, Message, Producer } from 'kafkajs';
import { EXIT, FatalError, RetriableError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import { createProducer } from '../../kafka/client.ts';
import { kafkaAccessError } from '../../kafka/security.ts';
import { WrittenOffsets, waitVisible } from './visibility.ts';

export interface TopicMessages {
  topic: string;
  messages: Message[];
}

/** Our own transaction outlived the transaction timeout: the broker aborted it. */
export class TransactionTimeoutError extends RetriableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransactionTimeoutError';
  }
}

export class AmbiguousCommitError extends RetriableError {
  /** What the transaction wrote: visible only if the commit went through after all. */
  readonly written: WrittenOffsets;

  constructor(message: string, written: WrittenOffsets, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AmbiguousCommitError';
    this.written = written;
  }
}

const FENCED = new Set(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH']);
export const REFUSED = new Set([
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
]);
export const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD']);

/** Bytes of messages per send within a transaction: well under a partition's 1 MB batch limit. */
export const SEND_CHUNK_BYTES = 256 * 1024;

/** Splits messages into sends of at most SEND_CHUNK_BYTES (a larger single message goes alone). Pure. */
export function chunkBySize(batch: TopicMessages[], limit = SEND_CHUNK_BYTES): TopicMessages[][] {
  const chunks: TopicMessages[][] = [];
  let current: TopicMessages[] = [];
  let size = 0;
  for (const { topic, messages } of batch) {
    for (const message of messages) {
      const bytes = byteLength(message.key) + byteLength(message.value) + 64;
      if (size > 0 && size + bytes > limit) {
        chunks.push(current);
        current = [];
        size = 0;
      }
      const last = current.at(-1);
      if (last && last.topic === topic) last.messages.push(message);
      else current.push({ topic, messages: [message] });
      size += bytes;
    }
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

function byteLength(value: Message['key'] | Message['value']): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'string' ? Buffer.byteLength(value) : value.length;
}

/** The kafkajs error type (e.g. PRODUCER_FENCED) of an error or of its causes. */
export function kafkaErrorType(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string') return type;
    e = (e as { cause?: unknown }).cause ?? (e as { originalError?: unknown }).originalError;
  }
  return undefined;
}

/**
 * Kafka refusing us for good: credentials or ACLs (exit 3), or a record larger than the broker
 * accepts (exit 5). Undefined for anything else. Shared by the transactional and the idempotent writer.
 */
export function kafkaRefusal(error: unknown, what: string, client = 'this client'): FatalError | undefined {
  const access = kafkaAccessError(error);
  if (access) return access;
  const type = kafkaErrorType(error);
  if (type && REFUSED.has(type))
    return new FatalError(`Kafka refused ${what}: ${type}`, {
      code: 'KAFKA_REFUSED',
      exitCode: EXIT.config,
      hint: `check the Kafka credentials and the ACLs of ${client}`,
      cause: error,
    });
  if (type && TOO_LARGE.has(type))
    return new FatalError(`Kafka refused ${what}: ${type}`, {
      code: 'KAFKA_MESSAGE_TOO_LARGE',
      exitCode: EXIT.service,
      hint: "a record is larger than the broker's message.max.bytes / the topic's max.message.bytes",
      cause: error,
    });
  return undefined;
}

export class TransactionalWriter {
  readonly transactionalId: string;
  private readonly kafka: Kafka;
  /** What committed transactions wrote: close() waits until readers can see it. */
  private readonly written = new WrittenOffsets();
  private readonly timeoutMs: number;
  private readonly log: Logger;
  private producer?: Producer;

  constructor(kafka: Kafka, options: { transactionalId: string; transactionTimeoutMs: number; log: Logger }) {
    this.kafka = kafka;
    this.transactionalId = options.transactionalId;
    this.timeoutMs = options.transactionTimeoutMs;
    this.log = options.log;
  }

  /**
   * Makes a producer and initialises its transactional state. This fences any earlier producer
   * with the same id and aborts its open transaction, so offsets read after it are final.
   */
  async connect(): Promise<void> {
    if (this.fenced) throw this.fenced;
    if (this.closed) throw new RetriableError('the transactional producer is closed');
    await this.reset();
    const producer = createProducer(this.kafka, {
      transactionalId: this.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: this.timeoutMs,
      // Right after a commit the coordinator is still writing its markers and answers
      // CONCURRENT_TRANSACTIONS for a few ms: retry that fast (kafkajs waits 300 ms by default).
      // Bounded, so an outage fails the transaction (aborted, retried from the runner) instead
      // of hanging inside kafkajs.
      retry: { initialRetryTime: 10, maxRetryTime: 2000, retries: 10 },
    });
    await producer.connect();
    try {
      const init = await producer.transaction(); // InitProducerId happens here
      await init.abort(); // nothing was added: no request is sent
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw this.decide(error, 'initialising the transactional producer');
    }
    this.producer = producer;
  }

  /** Set once another writer fenced us: from then on this writer refuses to start a new producer. */
  private fenced?: FatalError;
  /** Set by close(): no transaction starts after it. */
  private closed = false;
  /** When the transaction in progress began: a fence after our own timeout is not a second writer. */
  private transactionStarted = 0;

  private decide(error: unknown, what: string): Error {
    const type = kafkaErrorType(error);
    const refused = kafkaRefusal(error, what, `transactional id ${this.transactionalId}`);
    if (refused) return refused;
    if (type && FENCED.has(type)) {
      // Our own transaction outlived the transaction timeout and the broker aborted it: start over.
      if (this.transactionStarted > 0 && Date.now() - this.transactionStarted >= this.timeoutMs)
        return new TransactionTimeoutError(
          `${what}: the transaction timed out (${type}); starting a new producer`,
          {
            cause: error,
          },
        );
      this.fenced = new FatalError(
        `another process is writing as transactional id ${this.transactionalId} (${type})`,
        {
          code: 'PRODUCER_FENCED',
          exitCode: EXIT.service,
          hint: 'run one process per source instance, or give each its own CHATSTREAM_PRODUCER_INSTANCE_ID',
          cause: error,
        },
      );
      return this.fenced;
    }
    if (error instanceof FatalError) return error;
    return new RetriableError(`${what}: ${(error as Error).message ?? String(error)}`, { cause: error });
  }

  /** Drops the producer; the next commit (or connect) makes a new one. */
  private async reset(): Promise<void> {
    const old = this.producer;
    this.producer = undefined;
    await old?.disconnect().catch(() => undefined);
  }

  /** Sends every message in one transaction and commits it. */
  async commit(batch: TopicMessages[]): Promise<void> {
    if (this.fenced) throw this.fenced;
    if (this.closed) throw new RetriableError('the transactional producer is closed');
    if (!this.producer) await this.connect();
    const producer = this.producer as Producer;
    let transaction: Awaited<ReturnType<Producer['transaction']>>;
    try {
      this.transactionStarted = Date.now();
      transaction = await producer.transaction();
    } catch (error) {
      await this.reset();
      throw this.decide(error, 'beginning a transaction');
    }
    const written = new WrittenOffsets();
    try {
      for (const chunk of chunkBySize(batch))
        written.note(await transaction.sendBatch({ topicMessages: chunk, acks: -1 }));
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      await this.reset();
      throw this.decide(error, 'sending a transaction');
    }
    try {
      await transaction.commit();
      this.written.add(written);
    } catch (error) {
      await this.reset();
      const decided = this.decide(error, 'committing a transaction');
      if (decided instanceof FatalError) throw decided;
      throw new AmbiguousCommitError(
        `the commit may or may not have happened: ${(error as Error).message}`,
        written,
        { cause: error },
      );
    }
  }

  /** A commit whose answer was lost turned out to have gone through: close() waits for it too. */
  confirmed(written: WrittenOffsets): void {
    this.written.add(written);
  }

  /** Closes the producer once what it committed is visible to read-committed readers (at most 4 s). */
  async close(): Promise<void> {
    this.closed = true; // a commit after this must not open a producer that nothing closes
    await waitVisible(this.kafka, this.written, VISIBLE_WAIT_MS, this.log);
    await this.reset();
  }
}

/** How long close() waits for the last transaction's markers (the runner bounds close to 5 s). */
const VISIBLE_WAIT_MS = 4_000;
