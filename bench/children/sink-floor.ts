/**
 * The least a kafkajs → ClickHouse sink does, as a process of its own (spawned and timed like
 * the sink) for the sink benches' floor row: consume the topic from the beginning with the
 * count-only consumer's settings and stream each record's key and Avro bytes, as batches come,
 * into one RowBinary INSERT of a (key String, value String) table. No decoding, transcoding,
 * offsets, commits, dead letters or metrics. argv[2]: JSON {topic, group, table, records}; ends
 * the insert after `records` records and exits 0.
 */
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import { loadConfig } from '../../cli/settings.ts';
import { createClickHouseClient } from '../../consumers/sinks/clickhouse/connection.ts';
import { createKafka } from '../../kafka/client.ts';

const { topic, group, table, records } = JSON.parse(process.argv[2] ?? '{}') as {
  topic: string;
  group: string;
  table: string;
  records: number;
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
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
let seen = 0;
await new Promise<void>((resolve) => {
  void consumer.run({
    eachBatch: async ({ batch }) => {
      if (seen >= records) return;
      const parts: Buffer[] = [];
      for (const message of batch.messages) {
        pushString(parts, message.key);
        pushString(parts, message.value);
      }
      seen += batch.messages.length;
      if (!body.write(Buffer.concat(parts))) await once(body, 'drain');
      if (seen >= records) resolve();
    },
  });
});
body.end();
await inserted;
await consumer.disconnect();
await ch.close();
