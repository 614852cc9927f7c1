/**
 * Micro-benchmark (no stack): a chunk of records to RowBinary, decode-then-encode (avsc into
 * objects, then the row plan of request.ts) against the transcoder (Avro bytes straight to
 * RowBinary), on the bench record and on Freshchat messages. Prints µs per record and checks
 * that both paths give the same bytes.
 *   node bench/micro/transcode.ts [records]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import avro from 'avsc';
import type { AvroRecordSchema, SinkRecord } from '../../consumers/sink.ts';
import { planRows, TRANSCODE_METADATA } from '../../consumers/sinks/clickhouse/request.ts';
import { RowBinaryWriter } from '../../consumers/sinks/clickhouse/rowbinary.ts';
import { columnsOf, metadataColumns } from '../../consumers/sinks/clickhouse/schema.ts';
import { detectCapabilities } from '../../consumers/sinks/clickhouse/sink.ts';
import { transcoderFor } from '../../consumers/sinks/clickhouse/transcode.ts';
import { PROJECT_ROOT } from '../../core/settings.ts';
import { kindOf, latestSchema } from '../../schemas/catalog.ts';
import { conform } from '../../schemas/conform.ts';
import { BENCH_SCHEMA, benchRecord } from '../cases/sink-throughput.ts';

const N = Number(process.argv[2] ?? 200_000);
const CHUNK = 16_000;
const caps = detectCapabilities('18.16.1');

function wire(type: avro.Type, value: unknown): Buffer {
  const body = type.toBuffer(value);
  const out = Buffer.alloc(5 + body.length);
  out.writeInt32BE(7, 1);
  body.copy(out, 5);
  return out;
}

function run(label: string, schema: AvroRecordSchema, values: (i: number) => unknown): void {
  const type = avro.Type.forSchema(schema as avro.Schema);
  const columns = columnsOf(schema, caps);
  const table = new Map([...columns, ...metadataColumns(caps)].map((c) => [c.name, c.type]));
  const plan = planRows(table, columns);
  const report: { failedColumn?: string } = {};
  const transcode = transcoderFor(type, columns, table, TRANSCODE_METADATA, report);
  if (!plan || !transcode) throw new Error('no plan');
  const messages = Array.from({ length: CHUNK }, (_, i) => wire(type, values(i)));
  const record = (bytes: Buffer, i: number, value: Record<string, unknown> | null): SinkRecord => ({
    topic: 'bench',
    partition: 0,
    offset: BigInt(i),
    timestamp: 1_763_800_000_000 + i,
    key: `k-${i}`,
    value,
    schemaId: 7,
    schema,
    bytes: bytes.length,
    avro: bytes,
  });
  const w = new RowBinaryWriter();
  const slow = () => {
    w.reset();
    for (let i = 0; i < messages.length; i++) {
      const bytes = messages[i] as Buffer;
      const value = type.fromBuffer(bytes.subarray(5)) as Record<string, unknown>;
      plan.write(w, record(bytes, i, value));
    }
    return Buffer.from(w.bytes());
  };
  const fast = () => {
    w.reset();
    for (let i = 0; i < messages.length; i++) {
      const bytes = messages[i] as Buffer;
      if (!transcode(w, record(bytes, i, null), bytes)) throw new Error('slow path');
    }
    return Buffer.from(w.bytes());
  };
  if (!slow().equals(fast())) throw new Error(`${label}: the two paths differ`);
  for (const [name, fn] of [
    ['decode + encode', slow],
    ['transcode', fast],
    ['decode + encode', slow],
    ['transcode', fast],
  ] as const) {
    const rounds = Math.ceil(N / CHUNK);
    const started = process.hrtime.bigint();
    for (let r = 0; r < rounds; r++) fn();
    const us = Number(process.hrtime.bigint() - started) / 1e3 / (rounds * CHUNK);
    console.log(`${label.padEnd(20)} ${name.padEnd(16)} ${us.toFixed(3)} µs/record`);
  }
}

run('bench record', BENCH_SCHEMA as AvroRecordSchema, benchRecord);
const fcSchema = JSON.parse(latestSchema(kindOf('freshchat.messages')).text) as AvroRecordSchema;
const sample = JSON.parse(
  readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'freshchat', 'message.json'), 'utf8'),
);
const base = conform(fcSchema, sample).value as Record<string, unknown>;
run('Freshchat message', fcSchema, (i) => ({
  ...base,
  id: `m-${i}`,
  conversation_id: `c-${i % 50_000}`,
  created_time: 1_763_800_000_000 + i,
}));
