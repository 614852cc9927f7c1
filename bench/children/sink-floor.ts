/**
 * The least a kafkajs → ClickHouse sink does, as a process of its own (spawned and timed like
 * the sink) for the sink benches' floor rows: consume partitions from the beginning with the
 * count-only consumer's settings and stream each record's key and Avro bytes, as batches come,
 * into one RowBinary INSERT of a (key String, value String) table, cut into blocks of
 * `blockRows` so ClickHouse writes parts while the data streams. No decoding, transcoding,
 * offsets, commits, dead letters or metrics.
 *
 * With `transcode`, each record is instead transcoded from its Avro bytes into a row of
 * `table` — a copy of the sink's own table (columns, sort key, engine) — by the sink's own
 * transcoder, as the record arrives, with one reused record object: what a sink costs that
 * encodes on consume and streams one insert, before offsets, commits and dead letters.
 *
 * argv[2]: JSON {topic, group, table, processes, index, blockRows, transcode?}. The process reads the
 * partitions p with p % processes === index (its own assigner gives it only those, so nothing
 * else is fetched), ends the insert once each is read to the end it had at start, and prints
 * one JSON line: its rows, its CPU (the process and its main thread) and its milestones in ms
 * since the process started. Any failure exits 1 with the error on stderr.
 */
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';
import { loadConfig } from '../../cli/settings.ts';
import { boundLists } from '../../consumers/avro-bounds.ts';
import { Decoder } from '../../consumers/decoder.ts';
import type { SinkRecord } from '../../consumers/sink.ts';
import { detectCapabilities } from '../../consumers/sinks/clickhouse/capabilities.ts';
import { createClickHouseClient } from '../../consumers/sinks/clickhouse/connection.ts';
import { type Plan, planRows } from '../../consumers/sinks/clickhouse/request.ts';
import { RowBinaryWriter } from '../../consumers/sinks/clickhouse/rowbinary.ts';
import { columnsOf } from '../../consumers/sinks/clickhouse/schema.ts';
import { createKafka } from '../../kafka/client.ts';

const { topic, group, table, processes, index, blockRows, transcode } = JSON.parse(
  process.argv[2] ?? '{}',
) as {
  topic: string;
  group: string;
  table: string;
  processes: number;
  index: number;
  blockRows: number;
  transcode?: boolean;
};
const since = () => Math.round(performance.now());
const milestones: Record<string, number> = {};

const fail = (error: unknown) => {
  process.stderr.write(`sink floor: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
};
process.on('unhandledRejection', fail);

/** Bytes as a RowBinary String: LEB128 length, then the bytes. */
function writeBytes(w: RowBinaryWriter, bytes: Buffer | null): void {
  const length = bytes?.length ?? 0;
  w.varint(length);
  w.reserve(length);
  bytes?.copy(w.buf, w.pos);
  w.pos += length;
}

const config = loadConfig();
const kafka = createKafka(config, { role: 'bench' });

// Which partitions are this process's, and where each ends now (an empty one is done already).
const admin = kafka.admin();
await admin.connect();
const ends = (await admin.fetchTopicOffsets(topic)).filter((p) => p.partition % processes === index);
await admin.disconnect();
const mine = ends.map((p) => p.partition);
/** Each partition of this process still to read: the offset it ends at. */
const remaining = new Map(
  ends.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]),
);

/** Gives every member this process's partitions: it is alone in its group. */
const onlyMine: PartitionAssigner = () => ({
  name: 'SinkFloorAssigner',
  version: 1,
  async assign({ members }) {
    return members.map((member) => ({
      memberId: member.memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: 1,
        assignment: { [topic]: mine },
        userData: Buffer.alloc(0),
      }),
    }));
  },
  protocol({ topics }) {
    return {
      name: 'SinkFloorAssigner',
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
    };
  },
});

const ch = createClickHouseClient(config, { request_timeout: 600_000 });

/** With `transcode`: the sink's transcoder per writer schema, for the copy of its table. */
const transcoder = transcode ? await transcoding() : undefined;

async function transcoding() {
  const [database, name] = table.split('.') as [string, string];
  const query = async <T>(sql: string) =>
    (await (await ch.query({ query: sql, format: 'JSONEachRow' })).json()) as T[];
  const [{ v } = { v: '0' }] = await query<{ v: string }>('SELECT version() AS v');
  const caps = detectCapabilities(v);
  const described = new Map(
    (
      await query<{ name: string; type: string }>(
        `SELECT name, type FROM system.columns WHERE database = '${database}' AND table = '${name}'`,
      )
    ).map((c) => [c.name, c.type]),
  );
  const decoder = new Decoder(config);
  const plans = new Map<number, Plan>();
  // One record object for every row (the transcoder reads its metadata: no object per record).
  const record = { topic, partition: 0, offset: 0, timestamp: 0, keyBytes: null as Buffer | null };
  return {
    columns: () => [...described.keys()],
    /** Writes the message's row; false (nothing written) while its writer schema is not known yet. */
    write(
      w: RowBinaryWriter,
      partition: number,
      message: { offset: string; timestamp: string; key: Buffer | null; value: Buffer | null },
    ): boolean {
      const value = message.value as Buffer;
      const writer = decoder.schemaKnown(value);
      if (!writer) return false;
      let plan = plans.get(writer.id);
      if (!plan) {
        plan = planRows(described, columnsOf(writer.schema, caps), boundLists(writer.type));
        if (!plan) throw new Error(`no RowBinary plan for schema ${writer.id} into ${table}`);
        plans.set(writer.id, plan);
      }
      record.partition = partition;
      record.offset = Number(message.offset);
      record.timestamp = Number(message.timestamp);
      record.keyBytes = message.key;
      if (!plan.transcode?.(w, record as unknown as SinkRecord, value))
        throw new Error(`the transcoder gave offset ${message.offset} back`);
      return true;
    },
    /** Fetches the writer schema of a value from the registry. */
    async learn(value: Buffer | null): Promise<void> {
      await decoder.schemaOf(value);
    },
  };
}
// Room for a whole fetch, so kafkajs fetches on while ClickHouse takes the previous one.
const body = new PassThrough({ highWaterMark: 64 * 1024 * 1024 });
const inserted = ch
  .exec({
    query: `INSERT INTO ${table}${
      transcoder
        ? ` (${transcoder
            .columns()
            .map((c) => `\`${c}\``)
            .join(', ')})`
        : ''
    } FORMAT RowBinary`,
    values: body,
    // Blocks of blockRows rows, not squashed into bigger ones: parts are written as data streams.
    clickhouse_settings: {
      max_insert_block_size: String(blockRows),
      min_insert_block_size_rows: String(blockRows),
      min_insert_block_size_bytes: '0',
    },
  })
  .then(async ({ stream }) => {
    stream.resume();
    await finished(stream);
  });
inserted.catch(fail);

const consumer = kafka.consumer({
  groupId: group,
  maxBytes: 32 * 1024 * 1024,
  maxBytesPerPartition: 8 * 1024 * 1024,
  partitionAssigners: [onlyMine],
});
let rows = 0;
let finish: () => void = () => {};
const allRead = new Promise<void>((resolve) => {
  finish = resolve;
});
if (remaining.size === 0) finish();
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
milestones.subscribed = since();
consumer.on(consumer.events.GROUP_JOIN, () => {
  milestones.joined ??= since();
});
void consumer.run({
  autoCommit: false,
  eachBatch: async ({ batch }) => {
    milestones.firstBatch ??= since();
    // A buffer of its own per batch: the stream holds it until the request has sent it.
    let size = 0;
    for (const message of batch.messages)
      size += 20 + (message.key?.length ?? 0) + (message.value?.length ?? 0);
    const w = new RowBinaryWriter(Math.max(transcoder ? 3 * size : size, 1));
    if (transcoder) {
      for (const message of batch.messages)
        if (!transcoder.write(w, batch.partition, message)) {
          await transcoder.learn(message.value);
          transcoder.write(w, batch.partition, message);
        }
    } else {
      for (const message of batch.messages) {
        writeBytes(w, message.key);
        writeBytes(w, message.value);
      }
    }
    rows += batch.messages.length;
    if (!body.write(w.bytes())) await once(body, 'drain');
    const end = remaining.get(batch.partition);
    if (end !== undefined && BigInt(batch.lastOffset()) + 1n >= end) remaining.delete(batch.partition);
    if (remaining.size === 0) finish();
  },
});
await allRead;
milestones.allRead = since();
body.end();
await inserted;
milestones.inserted = since();
const cpu = process.cpuUsage();
const thread = process.threadCpuUsage();
process.stdout.write(
  `${JSON.stringify({
    rows,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    mainThreadCpuSeconds: (thread.user + thread.system) / 1e6,
    milestones,
  })}\n`,
);
await consumer.disconnect();
await ch.close();
