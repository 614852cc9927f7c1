/**
 * The source contract, as Kafka Connect's SourceTask has it: a source only fetches. It reads
 * its committed cursors (source offsets), fetches what changed since, and hands pages to the
 * runtime; the runtime owns schemas and encoding, keys, record timestamps, transactions,
 * retries, dead letters and metrics.
 *
 * A page's records and the offsets it moves are committed in one Kafka transaction, so after
 * a crash at any moment a source resumes from exactly what read-committed consumers have seen.
 */
import type { Logger } from '../core/log.ts';

/** Which stream of the source an offset belongs to, e.g. { resource: 'users' }. */
export type SourcePartition = Record<string, string>;
/** A cursor: any JSON object the source understands, e.g. { created_from: '2025-…', page: 3 }. */
export type SourceOffset = Record<string, unknown>;

/** One record as the source sent it: the record kind (topic without prefix) and its JSON. */
export interface SourceRecord {
  kind: string;
  value: Record<string, unknown>;
}

/**
 * Input a push source refused (a bad row: invalid JSON, an event breaking the protocol), kept
 * as a dead letter on `topic` with the reason, in the same transaction as the page.
 */
export interface RefusedInput {
  topic: string;
  key: string | null;
  /** The raw bytes as received. */
  value: Buffer | string;
  /** Short machine-readable kind, e.g. the error code. */
  kind: string;
  reason: string;
  headers?: Record<string, string>;
}

export interface SourcePage {
  records: SourceRecord[];
  refused?: RefusedInput[];
  /** Offsets this page moves (null deletes one); committed atomically with the records. */
  offsets?: { partition: SourcePartition; offset: SourceOffset | null }[];
}

export interface EmitOptions {
  /**
   * The caller goes on fetching without waiting for this page's commit (it hands over more
   * pages meanwhile): the runtime may hold the page up to CHATSTREAM_PRODUCER_LINGER_MS so
   * that the next pages share its transaction. Leave it off when the caller awaits the commit
   * before fetching on: holding that page would only add the linger to every step.
   */
  linger?: boolean;
}

export interface SourceContext {
  /** The committed offset of a partition (after a restart: as read back from Kafka). */
  offset(partition: SourcePartition): SourceOffset | undefined;
  /** Every committed offset whose partition has these fields, e.g. { resource: 'messages' }. */
  offsets(match: SourcePartition): { partition: SourcePartition; offset: SourceOffset }[];
  /**
   * Hands a page to the runtime; resolves once its records and offsets are committed. Retriable
   * failures are retried inside; it rejects only on a fatal error (the pass should end).
   */
  emit(page: SourcePage, options?: EmitOptions): Promise<void>;
  /**
   * Ends the linger of every page emitted so far: the caller is about to wait for their commit
   * (a full window of emits, or the end of a step), so holding them would only add the linger.
   */
  flush?(): void;
  /** Aborted when the process stops: finish the page in hand and return. */
  signal: AbortSignal;
  log: Logger;
}

export interface Source {
  readonly name: string;
  /** One pass: fetch what changed since the committed offsets and emit it; resolves when done. */
  poll(ctx: SourceContext): Promise<void>;
  close?(): Promise<void>;
}
