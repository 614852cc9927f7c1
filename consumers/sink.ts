/**
 * The sink contract, as Benthos and Kafka Connect have it: a sink is a small lifecycle object
 * — connect, writeBatch, close — and the runner owns consuming, batching, retries,
 * dead letters and offset commits. A sink registers by name with a config schema (see
 * sinks/index.ts); core code never switches over sink types.
 */
import type { Section } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import type { SinkConfig } from './config.ts';

/** One decoded Kafka record. */
export interface SinkRecord {
  topic: string;
  partition: number;
  /** Kafka offset (exact, as a bigint). */
  offset: bigint;
  /** Kafka record time, epoch milliseconds. */
  timestamp: number;
  key: string | null;
  /**
   * The decoded Avro value (avsc record objects; timestamp-millis as epoch ms, unions of null
   * and T unwrapped); null for a tombstone (a Kafka record without a value, which deletes its
   * key on a compacted topic). Only sinks that declare `tombstones` get those; then
   * `schemaId` is 0 and `schema` is TOMBSTONE_SCHEMA.
   */
  value: Record<string, unknown> | null;
  /** Registry id of the writer schema, and the schema itself. */
  schemaId: number;
  schema: AvroRecordSchema;
  /** Size of the encoded value, for batch accounting. */
  bytes: number;
  /**
   * The value as it came from Kafka (Confluent wire format), when the runner left decoding to
   * the sink (a sink that declares `lazyValues`): `value` is then decoded on first read, and
   * that read throws a PoisonError for bytes that do not decode.
   */
  avro?: Buffer;
}

/** True for a tombstone (a record without a value), without decoding a lazy value. */
export const isTombstone = (record: SinkRecord): boolean =>
  record.avro === undefined && record.value === null;

export interface AvroRecordSchema {
  type: 'record';
  name: string;
  fields: { name: string; type: unknown; default?: unknown; doc?: string }[];
}

/** The schema a tombstone is handed over with: it has no value, so no fields. */
export const TOMBSTONE_SCHEMA: AvroRecordSchema = Object.freeze({
  type: 'record',
  name: 'Tombstone',
  fields: [],
}) as AvroRecordSchema;

/** A record the sink refused as bad data, with the reason (it goes to the dead-letter topic). */
export interface Rejected {
  record: SinkRecord;
  reason: string;
  /** The dead letter's kind (default `bad_data`; `undecodable` for a lazy value that did not decode). */
  kind?: string;
}

/** Records of one topic-partition, in offset order. */
export interface Batch {
  group: string;
  topic: string;
  partition: number;
  records: SinkRecord[];
  /**
   * Sends rejected records to the dead-letter topic and resolves once the broker has them.
   * A sink that rejects records calls it before it stores the offset that covers them (e.g.
   * before its offsets insert, or inside the transaction before COMMIT), so no crash can leave
   * a stored offset past a dead letter that was never sent. It may be called more than once;
   * a record is sent once. Set by the runner (absent when a test calls writeBatch directly).
   */
  deadLetter?: (rejected: Rejected[]) => Promise<void>;
  /**
   * Aborted once the runner no longer waits for this write (the batch ended: a rebalance, a
   * stop, a fatal error). A sink that queues writes may drop a queued one then, rejecting it.
   */
  signal?: AbortSignal;
}

export interface WriteResult {
  /**
   * Every record the sink refused as bad data, whether or not it went through
   * `batch.deadLetter` already (the runner sends the others before it commits).
   */
  rejected: Rejected[];
}

export interface Sink {
  readonly name: string;
  /**
   * True when the sink writes tombstones (records with a null value, e.g. as deletes in a
   * latest-per-key view). Otherwise the runner sends them to the dead-letter topic.
   */
  readonly tombstones?: boolean;
  /**
   * True when the sink reads records' Avro bytes itself (`SinkRecord.avro`, e.g. straight into
   * its insert format): the runner then only resolves each record's writer schema, and `value`
   * is decoded when first read — a read that throws a PoisonError for bytes that do not
   * decode, which the sink must turn into a rejected record (with the error's kind).
   */
  readonly lazyValues?: boolean;
  connect(): Promise<void>;
  /**
   * The highest offset the sink has stored for a partition of the group, if it keeps offsets
   * itself (exactly-once resume after a crash between its write and the Kafka commit).
   */
  storedOffset(group: string, topic: string, partition: number): Promise<bigint | undefined>;
  /**
   * Persists the records and the batch's last offset; resolves only when both are durable.
   * Throws a RetriableError when trying again later can help; a PoisonError when the records
   * hold bad data (the runner halves the batch until the bad rows are found and dead-letters
   * them); a FatalError (exit 3 for credentials or settings) to stop the runner with its
   * message. Anything else is a bug: the runner stops with exit 1.
   */
  writeBatch(batch: Batch): Promise<WriteResult>;
  close(): Promise<void>;
}

export interface SinkContext {
  config: SinkConfig;
  log: Logger;
}

export interface SinkDefinition {
  name: string;
  description: string;
  /** The sink's settings section in the configuration catalogue (documented, validated). */
  settings?: Section;
  /** Local-stack services the sink needs besides Kafka and the registry. */
  services?: string[];
  create(ctx: SinkContext): Sink;
}
