/**
 * A record whose value is decoded only when something reads it: for a sink that declares
 * `lazyValues` (the ClickHouse sink transcodes Avro bytes straight into RowBinary and never
 * needs the object). Reading `value` decodes once and keeps the result; bytes that do not
 * decode throw the same PoisonError the runner's eager decoding gives, so the sink can turn
 * the record into a dead letter of the same kind.
 */
import { decodeValue, type WriterSchema } from './decoder.ts';
import type { AvroRecordSchema, SinkRecord } from './sink.ts';

export class LazyRecord implements SinkRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly timestamp: number;
  /** The Kafka key's bytes (the ClickHouse transcoder copies them; `key` is made when read). */
  readonly keyBytes: Buffer | null;
  readonly schemaId: number;
  readonly schema: AvroRecordSchema;
  readonly bytes: number;
  readonly avro: Buffer;
  private readonly writer: WriterSchema;
  private decoded: Record<string, unknown> | undefined;
  private keyText: string | null | undefined;

  constructor(
    topic: string,
    partition: number,
    offset: bigint,
    timestamp: number,
    keyBytes: Buffer | null,
    writer: WriterSchema,
    avro: Buffer,
  ) {
    this.topic = topic;
    this.partition = partition;
    this.offset = offset;
    this.timestamp = timestamp;
    this.keyBytes = keyBytes;
    this.writer = writer;
    this.schemaId = writer.id;
    this.schema = writer.schema;
    this.bytes = avro.length;
    this.avro = avro;
  }

  /** The key as UTF-8 text (made on first read). */
  get key(): string | null {
    if (this.keyText === undefined) this.keyText = this.keyBytes ? this.keyBytes.toString('utf8') : null;
    return this.keyText;
  }

  /** The decoded value (decoded on first read; a PoisonError when the bytes do not decode). */
  get value(): Record<string, unknown> {
    this.decoded ??= decodeValue(this.writer, this.avro);
    return this.decoded;
  }
}
