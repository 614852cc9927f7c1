/**
 * One fetched batch of one topic-partition, start to end: skip what the sink already stored,
 * decode (poison → dead letter), write in chunks, and commit — with the rules that make it safe:
 *  - a dead letter is acknowledged by the broker before any write that stores an offset
 *    covering it, and before any commit covering it (so a crash at any point re-sends it at
 *    worst, and never skips it);
 *  - every wait (a retry's back-off, a long write, a dead-letter send, a commit) heartbeats at
 *    least once a second, so the group keeps the partition however long the write takes; a
 *    heartbeat that reports a rebalance ends the batch at once, without committing;
 *  - nothing is paused: a waiting batch holds its own fetch (kafkajs fetches from a broker again
 *    only when every batch of its previous fetch is done), which bounds memory, and there is
 *    nothing to resume when the wait ends however it ends;
 *  - a PoisonError from a write isolates the bad rows by halving; each bad row is a dead letter.
 * Work is linear in the batch: rejected rows find their original bytes through one map.
 *
 * Chunks are pipelined: while one chunk is written, stored and committed (a flush), the next is
 * decoded. Flushes run one after another in offset order, so each commit covers only rows the
 * sink stored and dead letters the broker holds; the batch returns only once its last flush is
 * stored and committed, so kafkajs never fetches past what is not stored (and it waits for the
 * batches in flight before it rejoins the group).
 */
import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import { EXIT, FatalError, PoisonError } from '../../core/errors.ts';
import type { WriterSchema } from '../decoder.ts';
import { LazyRecord } from '../lazy-record.ts';
import { type Batch, type SinkRecord, TOMBSTONE_SCHEMA, type WriteResult } from '../sink.ts';
import { EndBatch } from './decisions.ts';
import { type BatchHost, decodedSize, lazyRecordSize } from './host.ts';
import { BatchKeepalive } from './keepalive.ts';
import { PartitionLetters } from './partition-letters.ts';

/** A batch ends without writing because an earlier flush of its partition failed. */
export class EarlierFlushFailed extends EndBatch {}

export class BatchWork {
  private readonly host: BatchHost;
  private readonly payload: EachBatchPayload;
  private readonly topic: string;
  private readonly partition: number;
  private readonly tp: string;
  private readonly highWatermark: bigint;
  /** Aborted when a heartbeat reports a rebalance (or the runner stops). */
  private readonly abort = new AbortController();
  private readonly signal: AbortSignal;
  /** Heartbeats, retries and the rebalance that ends the batch (keepalive.ts). */
  private readonly keep: BatchKeepalive;
  private floor: bigint | undefined;
  private chunk: SinkRecord[] = [];
  private chunkBytes = 0;
  private chunkMemory = 0;
  /** Dead letters not sent yet, and how they are made and sent (partition-letters.ts). */
  private readonly letters: PartitionLetters;
  /** Records read since the last flush (added to the metric once per chunk). */
  private read = 0;
  /** The last offset fully handled (written, dead-lettered or already in the sink). */
  private handled: bigint | undefined;
  private committed: bigint | undefined;
  /**
   * This batch's flush in flight (the chunk before the one being decoded): resolves to
   * undefined when it succeeded, to its error when it failed (it never rejects).
   */
  private inflight: Promise<unknown> | undefined;
  /** Why the batch ends early (a flush or the decoding failed): every checkpoint throws it. */
  private ended: unknown;
  /** The group generation this batch belongs to: after a new join it commits nothing. */
  private readonly generation: number;
  /** Set when the sink reads Avro bytes itself: records carry them, decoded only if read. */
  private readonly lazy: Required<Pick<BatchHost, 'schemaKnown' | 'schemaOf'>> | undefined;

  constructor(host: BatchHost, payload: EachBatchPayload) {
    this.host = host;
    this.payload = payload;
    this.topic = payload.batch.topic;
    this.partition = payload.batch.partition;
    this.tp = `${this.topic}:${this.partition}`;
    this.highWatermark = BigInt(payload.batch.highWatermark);
    this.signal = AbortSignal.any([host.signal, this.abort.signal]);
    this.letters = new PartitionLetters(host, payload.batch, (what, fn) => this.keep.op(what, fn));
    this.keep = new BatchKeepalive({
      host,
      payload,
      abort: this.abort,
      signal: this.signal,
      checkpoint: () => this.checkpoint(),
      position: () => {
        const first = this.payload.batch.messages[0];
        if (this.committed !== undefined) return this.committed + 1n;
        return first ? BigInt(first.offset) : undefined;
      },
    });
    this.generation = host.generation();
    const { schemaKnown, schemaOf } = host;
    this.lazy = host.sink.lazyValues && schemaKnown && schemaOf ? { schemaKnown, schemaOf } : undefined;
  }

  /** Runs the batch: resolves once every record is stored (or dead-lettered) and committed. */
  async run(): Promise<void> {
    try {
      await this.consume();
      // The last flush: its failure is the batch's (nothing after it may write or commit).
      const error = await this.inflight;
      this.inflight = undefined;
      if (error !== undefined) throw error;
    } catch (error) {
      this.end(error);
      // Nothing of this batch may write or commit after it ended.
      await this.inflight;
      throw error;
    }
    const last = this.payload.batch.messages.at(-1);
    // Every record is stored: kafkajs may fetch past them now (our commits, not autoCommit, tell
    // the group what is stored).
    if (last && !this.host.signal.aborted) this.payload.resolveOffset(last.offset);
  }

  /** Ends the batch: the flush in flight and the decoding stop at their next checkpoint. */
  private end(error: unknown): void {
    this.ended ??= error;
    this.abort.abort();
  }

  private async consume(): Promise<void> {
    const { messages } = this.payload.batch;
    const first = messages[0];
    if (!first) return;
    this.host.setLag(this.topic, this.partition, this.highWatermark - BigInt(first.offset));
    this.checkpoint();
    this.floor = await this.storedOffset();
    if (this.floor !== undefined && this.floor >= this.highWatermark) throw this.staleOffset(this.floor);
    const { batchMaxRows, batchMaxBytes } = this.host.config.sink;
    for (const message of messages) {
      // Stopping: write and commit what is decoded, leave the rest for the next owner.
      if (this.host.signal.aborted) break;
      const offset = BigInt(message.offset);
      if (this.floor !== undefined && offset <= this.floor) {
        this.handled = offset;
        continue;
      }
      const bytes = message.value?.length ?? 0;
      if (
        this.chunk.length > 0 &&
        (this.chunk.length >= batchMaxRows ||
          this.chunkBytes + bytes > batchMaxBytes ||
          this.chunkMemory >= this.host.chunkMemory)
      )
        await this.startFlush();
      this.read += 1;
      // Most records take the synchronous path (no promise per record); the rest are awaited.
      if (!this.pushLazy(message, offset, bytes)) await this.decode(message, offset, bytes);
      this.handled = offset;
    }
    await this.startFlush();
  }

  /**
   * Hands the decoded chunk (and everything handled up to its end) to a flush that runs while
   * the next chunk is decoded, once the previous flush of the partition is done: flushes never
   * overlap, so rows, stored offsets, dead letters and commits keep their order.
   */
  private async startFlush(): Promise<void> {
    const previous = await this.inflight;
    if (previous !== undefined)
      this.end(new EarlierFlushFailed('an earlier write of this partition failed; it is read again'));
    this.checkpoint();
    if (this.read > 0) this.host.m.recordsIn.inc({ topic: this.topic }, this.read);
    this.read = 0;
    const part = this.chunk;
    const upTo = this.handled;
    this.chunk = [];
    this.chunkBytes = 0;
    this.chunkMemory = 0;
    this.inflight = this.flush(part, upTo).then(
      () => undefined,
      (error: unknown) => {
        this.end(error);
        return error ?? new Error('a flush failed');
      },
    );
  }

  /** Throws when the batch must end now: the runner failed, the group is rebalancing, or a flush failed. */
  private checkpoint(): void {
    if (this.host.failed()) throw new EndBatch('the runner stopped on a fatal error');
    if (this.keep.rejoin !== undefined) throw this.keep.rejoin;
    if (this.ended !== undefined) throw this.ended;
  }

  private checkStale(): void {
    // The partition moved to another member: commit nothing (its stored offsets make the
    // new owner skip what was written).
    if (this.payload.isStale()) throw new EndBatch('the partition moved to another member');
  }

  private async storedOffset(): Promise<bigint | undefined> {
    const { storedOffsets, sink, group } = this.host;
    if (!storedOffsets.has(this.tp))
      storedOffsets.set(
        this.tp,
        await this.keep.op('reading stored offsets', () =>
          sink.storedOffset(group, this.topic, this.partition),
        ),
      );
    return storedOffsets.get(this.tp);
  }

  /**
   * The sink holds an offset the partition never reached: the topic was deleted and created
   * again (or truncated) since the sink wrote it. Trusting it would skip the new records
   * silently, so the runner stops and says so.
   */
  private staleOffset(stored: bigint): FatalError {
    return new FatalError(
      `the ${this.host.sink.name} sink has stored offset ${stored} for ${this.tp} (group ${this.host.group}), but the partition ends at offset ${this.highWatermark}: the topic was deleted and created again, or truncated, since the sink wrote it; reading on would skip its records`,
      {
        code: 'STORED_OFFSET_BEYOND_END',
        exitCode: EXIT.config,
        hint: 'to write the topic from its start, run the sink as a new consumer group (CHATSTREAM_SINK_GROUP); rows already written stay where they are',
      },
    );
  }

  /**
   * A lazy sink's record whose writer schema is known already: kept as its Avro bytes, without
   * a promise. False when it needs `decode` (no lazy sink, a tombstone, an unknown schema, or
   * bytes that are not a record of a known schema: `decode` dead-letters those).
   */
  private pushLazy(message: KafkaMessage, offset: bigint, bytes: number): boolean {
    const value = message.value;
    if (!this.lazy || value === null) return false;
    let writer: WriterSchema | undefined;
    try {
      writer = this.lazy.schemaKnown(value);
    } catch (error) {
      if (error instanceof PoisonError) return false; // decode() dead-letters it
      throw error;
    }
    if (!writer) return false;
    this.addLazy(message, offset, bytes, writer, value);
    return true;
  }

  private addLazy(
    message: KafkaMessage,
    offset: bigint,
    bytes: number,
    writer: WriterSchema,
    value: Buffer,
  ): void {
    const { topic, partition } = this;
    this.chunk.push(
      new LazyRecord(topic, partition, offset, Number(message.timestamp), message.key, writer, value),
    );
    this.chunkBytes += bytes;
    this.chunkMemory += lazyRecordSize(bytes);
  }

  private async decode(message: KafkaMessage, offset: bigint, bytes: number): Promise<void> {
    if (message.value === null) {
      this.tombstone(message, offset);
      return;
    }
    try {
      if (this.lazy) {
        const { schemaKnown, schemaOf } = this.lazy;
        const value = message.value;
        const writer = schemaKnown(value) ?? (await this.keep.op('fetching a schema', () => schemaOf(value)));
        this.addLazy(message, offset, bytes, writer, value);
        return;
      }
      const decoded =
        this.host.decodeKnown(message.value) ??
        (await this.keep.op('fetching a schema', () => this.host.decode(message.value)));
      this.push(message, offset, bytes, decoded.value, decoded.schema.id, decoded.schema.schema);
    } catch (error) {
      if (!(error instanceof PoisonError)) throw error;
      this.letters.add(offset, error.kind, error.message, message);
    }
  }

  /**
   * A record without a value: a delete on a compacted topic. A sink that declares `tombstones`
   * gets it (with a null value); for any other it is a dead letter, never a crash or a skip.
   */
  private tombstone(message: KafkaMessage, offset: bigint): void {
    if (!this.host.sink.tombstones) {
      const reason = `a tombstone (null value); the ${this.host.sink.name} sink does not write deletes`;
      this.letters.add(offset, 'tombstone', reason, message);
      return;
    }
    this.push(message, offset, 0, null, 0, TOMBSTONE_SCHEMA);
  }

  private push(
    message: KafkaMessage,
    offset: bigint,
    bytes: number,
    value: SinkRecord['value'],
    schemaId: number,
    schema: SinkRecord['schema'],
  ): void {
    this.chunk.push({
      topic: this.topic,
      partition: this.partition,
      offset,
      timestamp: Number(message.timestamp),
      key: message.key ? message.key.toString('utf8') : null,
      value,
      schemaId,
      schema,
      bytes,
    });
    this.chunkBytes += bytes;
    this.chunkMemory += decodedSize(bytes);
  }

  /**
   * Writes a chunk, sends the dead letters, commits everything handled up to `upTo` (the last
   * offset read into the chunk; dead letters decoded meanwhile are later offsets, and going out
   * early does them no harm).
   */
  private async flush(part: SinkRecord[], upTo: bigint | undefined): Promise<void> {
    this.checkStale();
    if (part.length > 0) await this.write(part);
    await this.letters.sendPending();
    await this.commit(upTo);
    await this.keep.beat();
  }

  /** Writes records (their dead letters first); a PoisonError halves them until the bad rows are found. */
  private async write(records: SinkRecord[]): Promise<void> {
    await this.letters.sendPending();
    this.checkpoint();
    const { sink, group, m } = this.host;
    const acknowledged = new Set<bigint>();
    const batch: Batch = {
      group,
      topic: this.topic,
      partition: this.partition,
      records,
      deadLetter: async (rejected) => {
        const fresh = rejected.filter((r) => !acknowledged.has(r.record.offset));
        await this.letters.send(
          fresh.map((r) => this.letters.letter(r.record.offset, r.kind ?? 'bad_data', r.reason)),
        );
        // Only once the broker has them: a send that failed leaves them to send again.
        for (const r of fresh) acknowledged.add(r.record.offset);
      },
      signal: this.signal,
    };
    const started = process.hrtime.bigint();
    let result: WriteResult;
    try {
      result = await this.keep.op(`writing to ${sink.name}`, () => sink.writeBatch(batch));
    } catch (error) {
      if (!(error instanceof PoisonError)) throw error;
      if (records.length === 1) {
        const [record] = records as [SinkRecord];
        this.letters.add(record.offset, error.kind, error.message);
        await this.letters.sendPending();
        return;
      }
      const half = Math.ceil(records.length / 2);
      this.host.log.debug('a write was refused as bad data; halving it to find the bad rows', {
        topic: this.topic,
        partition: this.partition,
        records: records.length,
        error: error.message,
      });
      await this.write(records.slice(0, half));
      await this.write(records.slice(half));
      return;
    }
    m.flushSeconds.observe({ topic: this.topic }, Number(process.hrtime.bigint() - started) / 1e9);
    m.batches.inc({ topic: this.topic });
    m.recordsOut.inc({ topic: this.topic }, records.length - result.rejected.length);
    for (const { record, reason, kind } of result.rejected)
      if (!acknowledged.has(record.offset)) this.letters.add(record.offset, kind ?? 'bad_data', reason);
    this.host.storedOffsets.set(this.tp, (records.at(-1) as SinkRecord).offset);
    // Rejected rows the sink did not hand over before storing its offset: send them before the commit.
    await this.letters.sendPending();
  }

  private async commit(upTo: bigint | undefined): Promise<void> {
    if (upTo === undefined || upTo === this.committed) return;
    this.checkStale();
    const sameGeneration = () => {
      if (this.host.generation() !== this.generation)
        throw new EndBatch('the group was joined again since this batch: its new owner commits');
    };
    sameGeneration();
    this.payload.resolveOffset(upTo.toString());
    // Checked again on every try: a retry after a back-off may come after a new join.
    await this.keep.op('committing offsets', () => {
      sameGeneration();
      return this.host.commit(this.topic, this.partition, upTo + 1n);
    });
    this.committed = upTo;
    this.host.setLag(this.topic, this.partition, this.highWatermark - upTo - 1n);
  }
}
