/**
 * Fault injection on the real `chatstream sink clickhouse` process:
 *  - kill -9 at random moments while 200,000 records load, restarting it each time: every
 *    (topic, partition, offset) is visible exactly once and the offsets end at the topic's end;
 *  - ClickHouse stopped for 60 s mid-load: nothing is lost, the sink's memory stays bounded,
 *    and it catches up.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Config, loadConfig } from '../../cli/settings.ts';
import { createClickHouseClient } from '../../consumers/sinks/clickhouse/connection.ts';
import { quoteIdent, tableName } from '../../consumers/sinks/clickhouse/schema.ts';
import { withAdmin } from '../../kafka/client.ts';
import { runCli } from '../helpers/cli.ts';
import { isolatedStackEnv, uniqueName } from '../helpers/names.ts';
import { createTopic, produceAvro } from '../helpers/produce.ts';
import { rssOf, spawnSink } from '../helpers/sink-process.ts';

const SCHEMA = {
  type: 'record',
  name: 'Event',
  namespace: 'faults',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'seq', type: 'long' },
    { name: 'body', type: 'string' },
    { name: 'created_time', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
};
const events = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({
    id: `e-${from + i}`,
    seq: from + i,
    body: `event body ${from + i}`,
    created_time: 1_763_800_000_000 + from + i,
  }));

function startSink(topic: string, group: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawnSink('clickhouse', topic, group, {
    ...env,
    CHATSTREAM_SINK_BATCH_MAX_ROWS: '2000',
    CHATSTREAM_SINK_BATCH_MAX_WAIT_MS: '200',
  });
}

async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

async function stopGracefully(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

function clickhouse(config: Config) {
  const client = createClickHouseClient(config);
  const one = async (sql: string): Promise<Record<string, string>> => {
    try {
      const [row] = (await (await client.query({ query: sql, format: 'JSONEachRow' })).json()) as Record<
        string,
        string
      >[];
      return row ?? {};
    } catch {
      return {};
    }
  };
  return { client, one };
}

async function topicEnd(config: Config, topic: string): Promise<Map<number, number>> {
  return withAdmin(
    config,
    async (admin) =>
      new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)])),
  );
}

async function committedOffsets(config: Config, group: string, topic: string): Promise<Map<number, number>> {
  return withAdmin(config, async (admin) => {
    const [entry] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return new Map((entry?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  });
}

test('kill -9 at random moments during 200,000 records: each (topic, partition, offset) visible exactly once', async () => {
  const config = loadConfig();
  const topic = uniqueName('faults_kill');
  const group = uniqueName('g');
  const table = `${quoteIdent(config.clickhouse.database)}.${quoteIdent(tableName(topic))}`;
  const view = `${quoteIdent(config.clickhouse.database)}.${quoteIdent(`${tableName(topic)}_dedup`)}`;
  await createTopic(config, topic, 6);
  await produceAvro(config, topic, SCHEMA, events(0, 200_000), (v) => String(v.id), { batch: 10_000 });
  const { client, one } = clickhouse(config);
  const landed = async () => Number((await one(`SELECT count() AS c FROM ${table}`)).c ?? 0);

  const kills: number[] = [];
  try {
    for (let round = 0; round < 4; round++) {
      const child = startSink(topic, group, process.env);
      // Wait until this process writes rows (after the dead member's session expired), then
      // kill it a random 0–600 ms into its work.
      const before = await landed();
      const deadline = Date.now() + 30_000;
      while ((await landed()) === before && Date.now() < deadline) await sleep(20);
      await sleep(Math.floor(Math.random() * 600));
      await killHard(child);
      kills.push(await landed());
    }
    const last = startSink(topic, group, process.env);
    const deadline = Date.now() + 180_000;
    while (Number((await one(`SELECT count() AS c FROM ${view}`)).c ?? 0) < 200_000 && Date.now() < deadline)
      await sleep(500);
    const end = await topicEnd(config, topic);
    while (Date.now() < deadline) {
      const committed = await committedOffsets(config, group, topic);
      if ([...end].every(([p, high]) => committed.get(p) === high)) break;
      await sleep(300);
    }
    assert.equal(await stopGracefully(last), 0, 'the last sink stops cleanly on SIGTERM');

    const visible = await one(
      `SELECT count() AS c, uniqExact(_partition, _offset) AS u, uniqExact(id) AS k FROM ${view}`,
    );
    assert.equal(Number(visible.c), 200_000, 'the view counts 200,000');
    assert.equal(Number(visible.u), 200_000, 'each (partition, offset) once');
    assert.equal(Number(visible.k), 200_000, 'each key once');
    const twice = await one(
      `SELECT count() AS c FROM (SELECT _partition, _offset, count() AS n FROM ${view} GROUP BY _partition, _offset HAVING n > 1)`,
    );
    assert.equal(Number(twice.c), 0);
    const stored = await one(`SELECT count() AS rows FROM ${table}`);
    console.log(
      `kill -9 test: killed at ${kills.join(', ')} rows; ${stored.rows} physical rows for 200000 records before merges`,
    );

    const offsets = (await (
      await client.query({
        query: `SELECT partition, max(offset) AS o FROM ${quoteIdent(config.clickhouse.database)}._chatstream_offsets WHERE \`group\` = '${group}' AND topic = '${topic}' GROUP BY partition ORDER BY partition`,
        format: 'JSONEachRow',
      })
    ).json()) as { partition: number; o: string }[];
    for (const { partition, o } of offsets)
      assert.equal(Number(o) + 1, end.get(partition), `offsets table at the end of partition ${partition}`);
    assert.equal(offsets.length, 6);
    const committed = await committedOffsets(config, group, topic);
    for (const [partition, high] of end)
      assert.equal(committed.get(partition), high, `group offset at the end of partition ${partition}`);
  } finally {
    await client.close();
  }
});

test('ClickHouse stopped for 60 s mid-load: nothing lost, memory bounded, the sink catches up', async () => {
  const base = loadConfig();
  const home = mkdtempSync(join(tmpdir(), 'chatstream-chdown-'));
  const env = {
    ...(await isolatedStackEnv(home, base.stack.cacheDir)),
    CHATSTREAM_KAFKA_BROKERS: base.kafka.brokers.join(','),
    CHATSTREAM_SCHEMA_REGISTRY_URL: base.schemaRegistry.url,
    CHATSTREAM_SINK_MEMORY_BYTES: String(16 * 1024 * 1024),
  };
  const config = loadConfig({ env });
  const boundBytes = 192 * 1024 * 1024 + 3 * config.sink.memoryBytes; // the documented bound
  const topic = uniqueName('faults_down');
  const group = uniqueName('g');
  const view = `${quoteIdent(config.clickhouse.database)}.${quoteIdent(`${tableName(topic)}_dedup`)}`;
  assert.equal((await runCli(['stack', 'up', 'clickhouse'], env)).code, 0);
  const { client, one } = clickhouse(config);
  const visible = async () => Number((await one(`SELECT count() AS c FROM ${view}`)).c ?? 0);
  let sink: ChildProcess | undefined;
  try {
    await createTopic(config, topic, 3);
    await produceAvro(config, topic, SCHEMA, events(0, 50_000), (v) => String(v.id));
    sink = startSink(topic, group, env);
    const pid = sink.pid as number;
    let peak = 0;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rssOf(pid));
      } catch {}
    }, 200);
    try {
      while ((await visible()) < 50_000) await sleep(200);
      assert.equal((await runCli(['stack', 'down', 'clickhouse'], env)).code, 0);
      const downAt = Date.now();
      // The load goes on while ClickHouse is away.
      await produceAvro(config, topic, SCHEMA, events(50_000, 150_000), (v) => String(v.id), {
        batch: 10_000,
      });
      await sleep(Math.max(0, 60_000 - (Date.now() - downAt)));
      assert.equal(sink.exitCode, null, 'the sink is still running after 60 s without ClickHouse');
      assert.equal((await runCli(['stack', 'up', 'clickhouse'], env)).code, 0);
      const deadline = Date.now() + 120_000;
      while ((await visible()) < 200_000 && Date.now() < deadline) await sleep(500);
      assert.equal(await visible(), 200_000, 'every record arrived once ClickHouse was back');
    } finally {
      clearInterval(sampler);
    }
    console.log(
      `ClickHouse-down test: sink peak RSS ${(peak / 1048576).toFixed(0)} MiB (bound ${(boundBytes / 1048576).toFixed(0)} MiB)`,
    );
    assert.ok(peak > 0 && peak < boundBytes, `peak RSS ${peak} under ${boundBytes}`);
  } finally {
    if (sink) await killHard(sink);
    await client.close();
    await runCli(['stack', 'down'], env);
    rmSync(home, { recursive: true, force: true });
  }
});
