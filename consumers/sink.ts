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
  /** The decoded Avro value (avsc record objects; timestamp-millis as epoch ms, unions of null and T unwrapped). */
  value: Record<string, unknown>;
  /** Registry id of the writer schema, and the schema itself. */
  schemaId: number;
  schema: AvroRecordSchema;
  /** Size of the encoded value, for batch accounting. */
  bytes: number;
}

export interface AvroRecordSchema {
  type: 'record';
  name: string;
  fields: { name: string; type: unknown; default?: unknown; doc?: string }[];
}

/** Records of one topic-partition, in offset order. */
export interface Batch {
  group: string;
  topic: string;
  partition: number;
  records: SinkRecord[];
}

export interface WriteResult {
  /** Records the sink refused as bad data: they go to the dead letter with the reason. */
  rejected: { record: SinkRecord; reason: string }[];
}

export interface Sink {
  readonly name: string;
  connect(): Promise<void>;
  /**
   * The highest offset the sink has stored for a partition of the group, if it keeps offsets
   * itself (exactly-once resume after a crash between its write and the Kafka commit).
   */
  storedOffset(group: string, topic: string, partition: number): Promise<bigint | undefined>;
  /**
   * Persists the records and the batch's last offset; resolves only when both are durable.
   * Throws a RetriableError when trying again later can help; any other error stops the runner.
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
