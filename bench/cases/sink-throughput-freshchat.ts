/**
 * The ClickHouse sink on 1,000,000 Freshchat messages (the curated schema, 561 Avro bytes each,
 * nested message parts in a JSON column), next to the same ceilings as sink-throughput:
 *   (a) a kafkajs consumer that only counts,
 *   (c) ClickHouse's own Kafka engine consuming the same rows as JSON (the columns the sink
 *       writes, message parts as JSON text).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClickHouseClient } from '../../consumers/sinks/clickhouse/connection.ts';
import { columnsOf, quoteIdent } from '../../consumers/sinks/clickhouse/schema.ts';
import { detectCapabilities } from '../../consumers/sinks/clickhouse/sink.ts';
import { PROJECT_ROOT } from '../../core/settings.ts';
import { createKafka, createProducer } from '../../kafka/client.ts';
import { kindOf, latestSchema } from '../../schemas/catalog.ts';
import { conform } from '../../schemas/conform.ts';
import { createTopic, produceAvro } from '../../test/helpers/produce.ts';
import { addRatios, sinkRows } from '../sink-rows.ts';
import { type BenchCase, type BenchRow, timed } from '../types.ts';

const RECORDS = 1_000_000;

export const sinkThroughputFreshchat: BenchCase = {
  name: 'sink-throughput-freshchat',
  async run(config) {
    const rows: BenchRow[] = [];
    const stamp = Date.now().toString(36);
    const topic = `bench_fcsink_${stamp}`;
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
    const schema = JSON.parse(latestSchema(kindOf('freshchat.messages')).text);
    const sample = JSON.parse(
      readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'freshchat', 'message.json'), 'utf8'),
    );
    const base = conform(schema, sample).value as Record<string, unknown>;
    const values = Array.from({ length: RECORDS }, (_, i) => ({
      ...base,
      id: `m-${i}`,
      conversation_id: `c-${i % 50_000}`,
      created_time: 1_763_800_000_000 + i,
    }));

    await createTopic(config, topic, 6);
    const produced = await timed(() =>
      produceAvro(config, topic, schema, values, (v) => String(v.id), { batch: 1_000 }),
    );
    rows.push({
      benchmark: 'produce Freshchat messages (Avro)',
      records: RECORDS,
      seconds: produced.seconds,
      note: '6 partitions, batches of 1000 (the broker takes 1 MB a request)',
    });

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
      benchmark: '(a) kafkajs consumer, count only (messages)',
      records: RECORDS,
      seconds: counted.seconds,
      note: 'the Kafka-side ceiling',
      role: 'a',
    });

    rows.push(
      ...(await sinkRows(
        config,
        ch,
        topic,
        RECORDS,
        count,
        'chatstream sink clickhouse, Freshchat messages',
      )),
    );

    // (c) ClickHouse's Kafka engine on the rows the sink writes, as JSON.
    const [version] = (await (
      await ch.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' })
    ).json()) as {
      v: string;
    }[];
    const columns = columnsOf(schema, detectCapabilities(version?.v ?? '0'));
    const ddl = columns.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(', ');
    const jsonTopic = `${topic}_json`;
    await createTopic(config, jsonTopic, 6);
    const producer = createProducer(kafka);
    await producer.connect();
    for (let i = 0; i < RECORDS; i += 500) {
      await producer.send({
        topic: jsonTopic,
        messages: values.slice(i, i + 500).map((v) => ({
          key: v.id,
          value: JSON.stringify(
            Object.fromEntries(
              columns.map((c) => [c.name, c.convert((v as Record<string, unknown>)[c.name])]),
            ),
          ),
        })),
      });
    }
    await producer.disconnect();
    const engine = `bench_fckafka_${stamp}`;
    try {
      await ch.command({ query: `CREATE TABLE ${db}.${engine}_dst (${ddl}) ENGINE = MergeTree ORDER BY id` });
      await ch.command({
        query: `CREATE TABLE ${db}.${engine}_src (${ddl}) ENGINE = Kafka('${config.kafka.brokers.join(',')}', '${jsonTopic}', '${engine}', 'JSONEachRow')`,
      });
      const started = Date.now();
      await ch.command({
        query: `CREATE MATERIALIZED VIEW ${db}.${engine}_mv TO ${db}.${engine}_dst AS SELECT * FROM ${db}.${engine}_src`,
      });
      let landed = await count(`${engine}_dst`);
      while (landed < RECORDS && Date.now() - started < 300_000) {
        await sleep(250);
        landed = await count(`${engine}_dst`);
      }
      const seconds = (Date.now() - started) / 1000;
      rows.push({
        benchmark: '(c) ClickHouse Kafka engine, messages as JSON',
        records: landed,
        role: 'c',
        seconds,
        note:
          landed < RECORDS ? `stopped after 300 s with ${landed} rows` : 'Kafka table + materialized view',
      });
    } catch (error) {
      rows.push({
        benchmark: '(c) ClickHouse Kafka engine, messages as JSON',
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
    await ch.command({ query: `DROP TABLE IF EXISTS ${db}.${topic}_dedup` });
    await ch.command({ query: `DROP TABLE IF EXISTS ${db}.${topic}` });
    await ch.close();
    addRatios(rows);
    return rows;
  },
};
