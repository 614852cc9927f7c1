/**
 * The transcoder's comparison harness: the same wire-format values written by the
 * decode-then-encode path (avsc, then `plan.write`) and by the transcoder (lazy records, Avro
 * bytes), so a test can ask for identical bytes and identical rejections.
 */
import assert from 'node:assert/strict';
import avro from 'avsc';
import { boundLists } from '../../consumers/avro-bounds.ts';
import { LazyRecord } from '../../consumers/lazy-record.ts';
import type { AvroRecordSchema, Rejected, SinkRecord } from '../../consumers/sink.ts';
import { encodeRows, planRows } from '../../consumers/sinks/clickhouse/request.ts';
import { RowBinaryWriter } from '../../consumers/sinks/clickhouse/rowbinary.ts';
import { type Capabilities, columnsOf, metadataColumns } from '../../consumers/sinks/clickhouse/schema.ts';
import { detectCapabilities } from '../../consumers/sinks/clickhouse/sink.ts';

/** Avro's zigzag varint of an integer. */
export function varint(n: number): number[] {
  let v = n >= 0 ? 2 * n : -2 * n - 1;
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

export const OLD = detectCapabilities('18.16.1');
export const NEW = detectCapabilities('24.3.1');

export function wire(type: avro.Type, value: unknown, id = 7): Buffer {
  const body = type.toBuffer(value);
  return Buffer.concat([Buffer.from([0, 0, 0, 0, id]), body]);
}

/** The table sink.ts makes for a schema: its columns, then the metadata (with `_deleted`). */
export function tableOf(schema: AvroRecordSchema, caps: Capabilities): Map<string, string> {
  const columns = [
    ...columnsOf(schema, caps),
    ...metadataColumns(caps, { kind: 'latest', tombstones: true }),
  ];
  return new Map(columns.map((c) => [c.name, c.type]));
}

export interface Both {
  slow: Buffer;
  fast: Buffer;
  slowRejected: Rejected[];
  fastRejected: Rejected[];
  /** Records the transcoder gave back to the slow path. */
  givenBack: number;
}

/**
 * Writes the same wire-format values through both paths: decoded records and `plan.write`, and
 * lazy records (Avro bytes) through the transcoder.
 */
export function both(
  schema: AvroRecordSchema,
  messages: Buffer[],
  caps = OLD,
  table = tableOf(schema, caps),
  readerColumns = columnsOf(schema, caps),
): Both {
  // As the decoder builds it (array and map counts bounded by the bytes: avro-bounds.ts).
  const type = boundLists(avro.Type.forSchema(schema as avro.Schema));
  const slowPlan = planRows(table, readerColumns);
  const fastPlan = planRows(table, readerColumns, type);
  assert.ok(slowPlan && fastPlan?.transcode, 'a plan and a transcoder');
  const writer = { id: 7, schema, type };
  const meta = (i: number) =>
    [
      i % 5 === 0 ? 'topic.y' : 'topic.x',
      i % 3,
      BigInt(1000 + i),
      1_763_800_000_000 + i,
      // Keys as Kafka hands them over: bytes (not UTF-8: written as their decoded text).
      i % 4 === 0
        ? null
        : i % 7 === 3
          ? Buffer.from([0x6b, 0xff, i])
          : Buffer.from(i % 2 ? `k-${i}` : `ké-${i}`),
    ] as const;
  const slowRejected: Rejected[] = [];
  const slowRecords: SinkRecord[] = [];
  messages.forEach((bytes, i) => {
    const [topic, partition, offset, timestamp, key] = meta(i);
    let value: Record<string, unknown>;
    try {
      value = type.fromBuffer(bytes.subarray(5)) as Record<string, unknown>;
    } catch (error) {
      slowRejected.push({
        record: { offset } as SinkRecord,
        reason: `Avro decoding with schema id 7 failed: ${(error as Error).message}`,
        kind: 'undecodable',
      });
      return;
    }
    const text = key === null ? null : key.toString('utf8');
    slowRecords.push({
      topic,
      partition,
      offset,
      timestamp,
      key: text,
      value,
      schemaId: 7,
      schema,
      bytes: 1,
    });
  });
  const w1 = new RowBinaryWriter(16);
  const slowBody = encodeRows(w1, slowRecords, () => slowPlan, slowRejected);
  let givenBack = 0;
  const counted = {
    ...fastPlan,
    transcode: (w: RowBinaryWriter, r: SinkRecord, b: Buffer) => {
      const done = fastPlan.transcode?.(w, r, b) ?? false;
      if (!done) givenBack += 1;
      return done;
    },
    write: (w: RowBinaryWriter, r: SinkRecord) => {
      fastPlan.write(w, r);
    },
  };
  Object.defineProperty(counted, 'failedColumn', { get: () => fastPlan.failedColumn });
  const lazy = messages.map((bytes, i) => new LazyRecord(...meta(i), writer, bytes));
  const fastRejected: Rejected[] = [];
  const w2 = new RowBinaryWriter(16);
  const fastBody = encodeRows(w2, lazy, () => counted, fastRejected);
  assert.deepEqual(
    fastBody.starts.slice(0, -1).map((s) => s),
    slowBody.starts.slice(0, -1),
    'rows start at the same bytes',
  );
  return {
    slow: Buffer.from(w1.bytes()),
    fast: Buffer.from(w2.bytes()),
    slowRejected,
    fastRejected,
    givenBack,
  };
}

export const sameRejections = (b: Both) =>
  assert.deepEqual(
    b.fastRejected.map((r) => [r.record.offset, r.reason, r.kind ?? 'bad_data']),
    b.slowRejected
      .map((r) => [r.record.offset, r.reason, r.kind ?? 'bad_data'] as const)
      .sort((x, y) => Number(x[0] - y[0])),
  );
