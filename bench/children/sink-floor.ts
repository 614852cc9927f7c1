/**
 * The least a kafkajs → ClickHouse sink does, as a process of its own (spawned and timed like
 * the sink) for the sink benches' floor row: consume the topic from the beginning with the
 * count-only consumer's settings and stream each record's key and Avro bytes, as batches come,
 * into one RowBinary INSERT of a (key String, value String) table. No decoding, transcoding,
 * offsets, commits, dead letters or metrics. argv[2]: JSON {topic, group, table, partitions};
 * reads only those partitions (pausing any other it is given), ends the insert once each is read
 * to its end, and exits 0. Several of it, each with its own partitions and group, split a topic.
 */
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import { loadConfig } from '../../cli/settings.ts';
import { createClickHouseClient } from '../../consumers/sinks/clickhouse/connection.ts';
import { createKafka } from '../../kafka/client.ts';

const { topic, group, table, partitions } = JSON.parse(process.argv[2] ?? '{}') as {
  topic: string;
  group: string;
  table: string;
  partitions: number[];
};
const config = loadConfig();

/** A RowBinary String: LEB128 length, then the bytes. */
function pushString(parts: Buffer[], bytes: Buffer | null): void {
  const value = bytes ?? Buffer.alloc(0);
  const length: number[] = [];
  let n = value.length;
  do {
    length.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  parts.push(Buffer.from(length), value);
}

const ch = createClickHouseClient(config, { request_timeout: 600_000 });
const body = new PassThrough();
const inserted = ch
  .exec({ query: `INSERT INTO ${table} FORMAT RowBinary`, values: body })
  .then(async ({ stream }) => {
    stream.resume();
    await finished(stream);
  });
const consumer = createKafka(config, { role: 'bench' }).consumer({
  groupId: group,
  maxBytes: 32 * 1024 * 1024,
  maxBytesPerPartition: 8 * 1024 * 1024,
});
/** Each partition of this process: whether it is read to its end. */
const remaining = new Map(partitions.map((p) => [p, false]));
let finish: () => void = () => {};
const finished_ = new Promise<void>((resolve) => {
  finish = resolve;
});
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
void consumer.run({
  autoCommit: false,
  eachBatch: async ({ batch }) => {
    if (!remaining.has(batch.partition)) {
      consumer.pause([{ topic, partitions: [batch.partition] }]);
      return;
    }
    const parts: Buffer[] = [];
    for (const message of batch.messages) {
      pushString(parts, message.key);
      pushString(parts, message.value);
    }
    if (!body.write(Buffer.concat(parts))) await once(body, 'drain');
    if (BigInt(batch.lastOffset()) + 1n >= BigInt(batch.highWatermark)) remaining.set(batch.partition, true);
    if ([...remaining.values()].every(Boolean)) finish();
  },
});
await finished_;
body.end();
await inserted;
await consumer.disconnect();
await ch.close();
