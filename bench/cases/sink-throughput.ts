/**
 * The ClickHouse sink on a pre-filled 1,000,000-record topic, next to its ceilings:
 *   (a) a kafkajs consumer that only counts (the Kafka side),
 *   (b) clickhouse-client inserting the same rows (the ClickHouse side),
 *   (c) ClickHouse's own Kafka engine consuming the same records as JSON,
 * and the two insert formats from Node (JSONEachRow through @clickhouse/client, RowBinary over
 * undici), encoding included — the measurement behind the sink's choice of format.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { createClickHouseClient } from '../../consumers/sinks/clickhouse/connection.ts';
import { createKafka, createProducer } from '../../kafka/client.ts';
import { createTopic, produceAvro } from '../../test/helpers/produce.ts';
import { addRatios, sinkRows } from '../sink-rows.ts';
import { type BenchCase, type BenchRow, timed } from '../types.ts';

const RECORDS = 1_000_000;
export const BENCH_SCHEMA = {
  type: 'record',
  name: 'BenchEvent',
  namespace: 'bench',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'seq', type: 'long' },
    { name: 'conversation_id', type: 'string' },
    { name: 'body', type: 'string' },
    { name: 'created_time', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
};
export const benchRecord = (i: number) => ({
  id: `m-${i}`,
  seq: i,
  conversation_id: `c-${i % 5000}`,
  body: `message ${i}: thanks, that solved it`,
  created_time: 1_763_800_000_000 + i,
});

/** RowBinary for (String, Int64, String, String, DateTime): varint-prefixed strings, little-endian numbers. */
function rowBinary(rows: ReturnType<typeof benchRecord>[]): Buffer {
  const chunks: Buffer[] = [];
  const str = (s: string) => {
    const bytes = Buffer.from(s);
    const len: number[] = [];
    let n = bytes.length;
    do {
      len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
      n >>>= 7;
    } while (n > 0);
    chunks.push(Buffer.from(len), bytes);
  };
  for (const r of rows) {
    str(r.id);
    const seq = Buffer.alloc(8);
    seq.writeBigInt64LE(BigInt(r.seq));
    chunks.push(seq);
    str(r.conversation_id);
    str(r.body);
    const ts = Buffer.alloc(4);
    ts.writeUInt32LE(Math.floor(r.created_time / 1000));
    chunks.push(ts);
  }
  return Buffer.concat(chunks);
}

export const sinkThroughput: BenchCase = {
  name: 'sink-throughput',
  async run(config) {
    const rows: BenchRow[] = [];
    const stamp = Date.now().toString(36);
    const topic = `bench_sink_${stamp}`;
    const ch = createClickHouseClient(config);
    const db = config.clickhouse.database;
    const count = async (table: string) => {
      try {
        const [r] = (await (
          await ch.query({ query: `SELECT count() AS c FROM ${db}.${table}`, format: 'JSONEachRow' })
        ).json()) as { c: string }[];
        return Number(r?.c ?? 0);
      } catch {
        return 0;
      }
    };
    await ch.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });

    await createTopic(config, topic, 6);
    const produced = await timed(() =>
      produceAvro(
        config,
        topic,
        BENCH_SCHEMA,
        Array.from({ length: RECORDS }, (_, i) => benchRecord(i)),
        (v) => String(v.id),
        { batch: 20_000 },
      ),
    );
    rows.push({
      benchmark: 'produce Avro (registry client encode + kafkajs)',
      records: RECORDS,
      seconds: produced.seconds,
      note: '6 partitions, batches of 20000',
    });

    // (a) the Kafka ceiling: a consumer that only counts.
    const kafka = createKafka(config, { role: 'bench' });
    const counter = kafka.consumer({
      groupId: `${topic}_count`,
      maxBytes: 32 * 1024 * 1024,
      maxBytesPerPartition: 8 * 1024 * 1024,
    });
    await counter.connect();
    await counter.subscribe({ topic, fromBeginning: true });
    const counted = await timed(
      () =>
        new Promise<void>((resolve) => {
          let seen = 0;
          counter.run({
            eachBatch: async ({ batch }) => {
              seen += batch.messages.length;
              if (seen >= RECORDS) resolve();
            },
          });
        }),
    );
    await counter.disconnect();
    rows.push({
      benchmark: '(a) kafkajs consumer, count only',
      records: RECORDS,
      seconds: counted.seconds,
      note: 'the Kafka-side ceiling',
      role: 'a',
    });

    // The sink, as users run it: its own process, default settings.
    const table = topic;
    rows.push(
      ...(await sinkRows(
        config,
        ch,
        topic,
        RECORDS,
        count,
        'chatstream sink clickhouse (Kafka → ClickHouse)',
        true,
      )),
    );

    // (b) the ClickHouse ceiling: clickhouse-client inserting the same rows.
    const file = join(tmpdir(), `${topic}.jsonl`);
    const dump = spawnSync('sh', [
      '-c',
      `clickhouse-client --port ${config.clickhouse.tcpPort} --query "SELECT * FROM ${db}.${table} FORMAT JSONEachRow" > ${file}`,
    ]);
    if (dump.status === 0) {
      await ch.command({ query: `CREATE TABLE ${db}.${table}_copy AS ${db}.${table}` });
      const loaded = await timed(async () =>
        spawnSync('sh', [
          '-c',
          `clickhouse-client --port ${config.clickhouse.tcpPort} --query "INSERT INTO ${db}.${table}_copy FORMAT JSONEachRow" < ${file}`,
        ]),
      );
      rows.push({
        benchmark: '(b) clickhouse-client INSERT, same rows',
        records: await count(`${table}_copy`),
        seconds: loaded.seconds,
        note: 'JSONEachRow from a file: the ClickHouse-side ceiling',
      });
      await ch.command({ query: `DROP TABLE IF EXISTS ${db}.${table}_copy` });
    } else {
      rows.push({
        benchmark: '(b) clickhouse-client INSERT, same rows',
        records: 0,
        seconds: 0,
        note: `not run: ${String(dump.stderr).slice(0, 80)}`,
      });
    }
    rmSync(file, { force: true });

    // The insert formats from Node, encoding included.
    const plain = Array.from({ length: RECORDS }, (_, i) => benchRecord(i));
    const fmt = `bench_fmt_${stamp}`;
    const ddl = (name: string) =>
      `CREATE TABLE ${db}.${name} (id String, seq Int64, conversation_id String, body String, created_time DateTime) ENGINE = MergeTree ORDER BY id`;
    await ch.command({ query: ddl(`${fmt}_json`) });
    await ch.command({ query: ddl(`${fmt}_rb`) });
    const iso = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
    const json = await timed(async () => {
      for (let i = 0; i < RECORDS; i += 50_000) {
        await ch.insert({
          table: `${db}.${fmt}_json`,
          values: plain.slice(i, i + 50_000).map((r) => ({ ...r, created_time: iso(r.created_time) })),
          format: 'JSONEachRow',
        });
      }
    });
    rows.push({
      benchmark: 'JSONEachRow via @clickhouse/client',
      records: await count(`${fmt}_json`),
      seconds: json.seconds,
      note: 'encode + insert, batches of 50000',
    });
    const headers = {
      'X-ClickHouse-User': config.clickhouse.user,
      'X-ClickHouse-Key': config.clickhouse.password,
    };
    const rb = await timed(async () => {
      for (let i = 0; i < RECORDS; i += 50_000) {
        const response = await request(
          `${config.clickhouse.url}/?query=${encodeURIComponent(`INSERT INTO ${db}.${fmt}_rb FORMAT RowBinary`)}`,
          {
            method: 'POST',
            headers,
            body: rowBinary(plain.slice(i, i + 50_000)),
          },
        );
        await response.body.text();
      }
    });
    rows.push({
      benchmark: 'RowBinary via undici',
      records: await count(`${fmt}_rb`),
      seconds: rb.seconds,
      note: 'encode + insert, batches of 50000',
    });
    await ch.command({ query: `DROP TABLE IF EXISTS ${db}.${fmt}_json` });
    await ch.command({ query: `DROP TABLE IF EXISTS ${db}.${fmt}_rb` });

    // (c) ClickHouse's own Kafka engine on the same records as JSON.
    const jsonTopic = `${topic}_json`;
    await createTopic(config, jsonTopic, 6);
    const producer = createProducer(kafka);
    await producer.connect();
    for (let i = 0; i < RECORDS; i += 20_000) {
      await producer.send({
        topic: jsonTopic,
        messages: plain
          .slice(i, i + 20_000)
          .map((r) => ({ key: r.id, value: JSON.stringify({ ...r, created_time: iso(r.created_time) }) })),
      });
    }
    await producer.disconnect();
    const engine = `bench_kafka_${stamp}`;
    try {
      await ch.command({ query: ddl(`${engine}_dst`) });
      await ch.command({
        query: `CREATE TABLE ${db}.${engine}_src (id String, seq Int64, conversation_id String, body String, created_time DateTime) ENGINE = Kafka('${config.kafka.brokers.join(',')}', '${jsonTopic}', '${engine}', 'JSONEachRow')`,
      });
      const started = Date.now();
      await ch.command({
        query: `CREATE MATERIALIZED VIEW ${db}.${engine}_mv TO ${db}.${engine}_dst AS SELECT * FROM ${db}.${engine}_src`,
      });
      let landed = await count(`${engine}_dst`);
      while (landed < RECORDS && Date.now() - started < 180_000) {
        await sleep(250);
        landed = await count(`${engine}_dst`);
      }
      const seconds = (Date.now() - started) / 1000;
      rows.push({
        benchmark: '(c) ClickHouse Kafka engine, same records as JSON',
        records: landed,
        role: 'c',
        seconds,
        note:
          landed < RECORDS ? `stopped after 180 s with ${landed} rows` : 'Kafka table + materialized view',
      });
    } catch (error) {
      rows.push({
        benchmark: '(c) ClickHouse Kafka engine, same records as JSON',
        records: 0,
        seconds: 0,
        note: `failed: ${(error as Error).message.slice(0, 100)}`,
      });
    } finally {
      for (const name of [`${engine}_mv`, `${engine}_src`, `${engine}_dst`])
        await ch.command({ query: `DROP TABLE IF EXISTS ${db}.${name}` }).catch(() => {});
    }

    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic, jsonTopic] }).catch(() => {});
    await admin.disconnect();
    await ch.command({ query: `DROP TABLE IF EXISTS ${db}.${table}_dedup` });
    await ch.command({ query: `DROP TABLE IF EXISTS ${db}.${table}` });
    await ch.close();
    addRatios(rows);
    return rows;
  },
};
