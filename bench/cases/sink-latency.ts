import { setTimeout as sleep } from 'node:timers/promises';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Config } from '../../cli/settings.ts';
import { createClickHouseClient } from '../../consumers/sinks/clickhouse/connection.ts';
import { createKafka, createProducer } from '../../kafka/client.ts';
import { createRegistryClient } from '../../schemas/registry-client.ts';
import { createTopic } from '../../test/helpers/produce.ts';
import { spawnSink } from '../../test/helpers/sink-process.ts';
import type { BenchCase, BenchRow } from '../types.ts';
import { BENCH_SCHEMA, benchRecord } from './sink-throughput.ts';

const SECONDS = 15;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function measure(config: Config, rate: number): Promise<BenchRow> {
  const topic = `bench_latency_${rate}_${Date.now().toString(36)}`;
  await createTopic(config, topic, 1);
  const registry = createRegistryClient(config);
  const { id } = await registry.register(
    { type: SchemaType.AVRO, schema: JSON.stringify(BENCH_SCHEMA) },
    { subject: `${topic}-value` },
  );
  const ch = createClickHouseClient(config);
  const table = `${config.clickhouse.database}.${topic}`;
  const child = spawnSink('clickhouse', topic, `${topic}_g`);
  // Warm up: one record, so the table exists and the group is joined before the clock starts.
  const producer = createProducer(createKafka(config, { role: 'bench' }));
  await producer.connect();
  await producer.send({
    topic,
    messages: [{ key: 'warm', value: await registry.encode(id, { ...benchRecord(0), seq: -1 }) }],
  });
  const maxSeq = async () => {
    try {
      const [r] = (await (
        await ch.query({ query: `SELECT max(seq) AS m, count() AS c FROM ${table}`, format: 'JSONEachRow' })
      ).json()) as { m: string; c: string }[];
      return Number(r?.c ?? 0) > 0 ? Number(r?.m) : Number.NEGATIVE_INFINITY;
    } catch {
      return Number.NEGATIVE_INFINITY;
    }
  };
  while ((await maxSeq()) < -1) await sleep(100);

  const total = rate * SECONDS;
  const sentAt = new Array<number>(total);
  const seenAt = new Array<number>(total);
  let seen = -1;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const m = await maxSeq();
      const now = performance.now();
      for (; seen < m && seen + 1 < total; seen++) seenAt[seen + 1] = now;
      await sleep(25);
    }
  })();
  const tick = 50; // ms: send rate/20 records every 50 ms
  const perTick = Math.max(1, Math.round((rate * tick) / 1000));
  const start = performance.now();
  for (let i = 0; i < total; i += perTick) {
    const due = start + (i / rate) * 1000;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const slice = Array.from({ length: Math.min(perTick, total - i) }, (_, j) => benchRecord(i + j));
    const messages = await Promise.all(
      slice.map(async (r) => ({ key: r.id, value: await registry.encode(id, r) })),
    );
    const now = performance.now();
    for (let j = 0; j < slice.length; j++) sentAt[i + j] = now;
    await producer.send({ topic, messages, acks: 1 });
  }
  const deadline = performance.now() + 30_000;
  while (seen < total - 1 && performance.now() < deadline) await sleep(50);
  polling = false;
  await poller;
  await producer.disconnect();
  child.kill('SIGTERM');
  await ch.command({ query: `DROP TABLE IF EXISTS ${table}_dedup` });
  await ch.command({ query: `DROP TABLE IF EXISTS ${table}` });
  await ch.close();
  const latencies = sentAt
    .map((sent, i) => (seenAt[i] ?? Number.NaN) - sent)
    .filter((l) => Number.isFinite(l))
    .sort((a, b) => a - b);
  return {
    benchmark: `latency produce → visible, ${rate.toLocaleString('en-US')} records/s`,
    records: latencies.length,
    seconds: SECONDS,
    note: `p50 ${Math.round(percentile(latencies, 50))} ms, p99 ${Math.round(percentile(latencies, 99))} ms (default batch wait ${config.sink.batchMaxWaitMs} ms)`,
  };
}

export const sinkLatency: BenchCase = {
  name: 'sink-latency',
  async run(config) {
    return [await measure(config, 1000), await measure(config, 10_000)];
  },
};
