/**
 * What a batch of the sink runner needs from its runner (BatchHost), what it reports while it
 * waits (Wait), and the sizes it plans with.
 */
import type { Logger } from '../../core/log.ts';
import type { RetryPolicy } from '../../core/retry.ts';
import type { DeadLetter } from '../../kafka/dead-letters.ts';
import type { SinkConfig } from '../config.ts';
import type { Decoded, WriterSchema } from '../decoder.ts';
import type { Sink } from '../sink.ts';
import type { SinkMetrics } from '../sink-metrics.ts';

/** How often a batch heartbeats while it waits (kafkajs sends at most one per heartbeatInterval). */
export const HEARTBEAT_TICK_MS = 1000;

/**
 * Estimated memory of one decoded record in flight (its avsc object and the SinkRecord; the
 * ClickHouse sink writes rows into a reused RowBinary buffer, not objects): measured here (heap
 * retained after GC) at 353 bytes for a 61-byte record and 1,915 for a 527-byte Freshchat
 * message; 256 + 4× the Avro bytes covers both with a margin.
 */
export function decodedSize(avroBytes: number): number {
  return 256 + 4 * avroBytes;
}

/**
 * Estimated memory of one record in flight for a sink that reads Avro bytes itself (LazyRecord)
 * and writes RowBinary: the record object, its offset and array slot (154 bytes measured, heap
 * retained after GC), and its row in the body — up to twice the Avro bytes plus the metadata
 * columns (a Freshchat message's JSON columns are written as text: 1,199 bytes for 524). Its
 * Avro bytes stay in the fetch kafkajs holds, which the fetch's own budget counts. The rare
 * JSONEachRow fallback holds more (the decoded value and the JSON text of each row): the heap
 * cap, not this estimate, bounds that case.
 */
export function lazyRecordSize(avroBytes: number): number {
  return 224 + 2 * avroBytes;
}

/** A partition waiting on a retriable failure, for /health. */
export interface Wait {
  topic: string;
  partition: number;
  what: string;
  since: number;
  attempts: number;
  error: string;
}

/** What a batch needs from its runner. */
export interface BatchHost {
  readonly sink: Sink;
  readonly group: string;
  readonly config: SinkConfig;
  readonly log: Logger;
  readonly m: SinkMetrics;
  readonly policy: RetryPolicy;
  /** Aborted when the runner stops (gracefully or on a fatal error). */
  readonly signal: AbortSignal;
  /** Estimated memory one chunk of decoded records may take. */
  readonly chunkMemory: number;
  /** Offsets the sink holds, per topic:partition (cleared on every assignment). */
  readonly storedOffsets: Map<string, bigint | undefined>;
  decodeKnown(bytes: Buffer | null): Decoded | undefined;
  decode(bytes: Buffer | null): Promise<Decoded>;
  /**
   * For a sink with `lazyValues`: the writer schema of a value without decoding it, when known
   * already (undefined: fetch it with `schemaOf`). Absent when the decoder cannot (then records
   * are decoded as for any sink).
   */
  schemaKnown?(bytes: Buffer | null): WriterSchema | undefined;
  schemaOf?(bytes: Buffer | null): Promise<WriterSchema>;
  /** One send to the dead-letter topic (resolves when the broker acknowledged it). */
  sendDeadLetters(letters: DeadLetter[]): Promise<void>;
  commit(topic: string, partition: number, next: bigint): Promise<void>;
  /** True once the runner stopped on a fatal error: batches end without committing more. */
  failed(): boolean;
  waiting(topic: string, partition: number, wait: Wait | undefined): void;
  setLag(topic: string, partition: number, lag: bigint): void;
  /** Re-reads the partition's end while a batch waits (throttled, best effort). */
  refreshLag(topic: string, partition: number, position: bigint): void;
  /** Counts group joins: a flush started before the latest one commits nothing. */
  generation(): number;
}
