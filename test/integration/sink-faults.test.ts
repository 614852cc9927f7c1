/**
 * Fault injection on the real `chatstream sink clickhouse` process:
 *  - kill -9 at random moments (each checked to land mid-load) while 200,000 records and 20
 *    poison ones load, restarting it each time: every good record is visible exactly once,
 *    every poison one is in the dead-letter topic, and the offsets end at the topic's end;
 *  - ClickHouse stopped for 60 s mid-load: nothing is lost, the sink's memory stays bounded,
 *    and it catches up.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Config, loadConfig } from '../../cli/settings.ts';
import { createClickHouseClient } from '../../consumers/sinks/clickhouse/connection.ts';
import { quoteIdent, tableName } from '../../consumers/sinks/clickhouse/schema.ts';
import { serverCode } from '../../consumers/sinks/clickhouse/service.ts';
import { withAdmin } from '../../kafka/client.ts';
import { runCli } from '../helpers/cli.ts';
import { isolatedStackEnv, uniqueName } from '../helpers/names.ts';
import { createTopic, produceAvro, produceRaw } from '../helpers/produce.ts';
import { rssOf, spawnSink } from '../helpers/sink-process.ts';
import { topicRecords } from '../helpers/topic-records.ts';

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

/** Every sink started here: killed when the test ends, passed or not (none may outlive it). */
const children: ChildProcess[] = [];
after(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function startSink(topic: string, group: string, env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawnSink('clickhouse', topic, group, {
    ...env,
    CHATSTREAM_SINK_BATCH_MAX_ROWS: '2000',
    CHATSTREAM_SINK_BATCH_MAX_WAIT_MS: '200',
  });
  children.push(child);
  return child;
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
  /** The first row; {} only while the table or database does not exist yet, any other error fails. */
  const one = async (sql: string): Promise<Record<string, string>> => {
    try {
      const [row] = (await (await client.query({ query: sql, format: 'JSONEachRow' })).json()) as Record<
        string,
        string
      >[];
      return row ?? {};
    } catch (error) {
      const code = serverCode(error);
      if (code === 60 || code === 81) return {}; // the table (or the database) is not there yet
      throw error;
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

/** Poison in the load: every POISON_EVERY-th record is not Avro (a dead letter, not a row). */
const POISON_EVERY = 10_000;
const GOOD = 200_000;

test('kill -9 at random moments during 200,000 records and 20 poison ones: each good record visible exactly once, each poison one dead-lettered', async () => {
  const config = loadConfig();
  const topic = uniqueName('faults_kill');
  const group = uniqueName('g');
  const deadLetters = uniqueName('faults_dlq');
  const env = { ...process.env, CHATSTREAM_SINK_DEAD_LETTER_TOPIC: deadLetters };
  const table = `${quoteIdent(config.clickhouse.database)}.${quoteIdent(tableName(topic))}`;
  const view = `${quoteIdent(config.clickhouse.database)}.${quoteIdent(`${tableName(topic)}_dedup`)}`;
  await createTopic(config, topic, 6);
  const poison: string[] = [];
  for (let from = 0; from < GOOD; from += POISON_EVERY) {
    await produceAvro(config, topic, SCHEMA, events(from, POISON_EVERY), (v) => String(v.id), {
      batch: 10_000,
    });
    const key = `poison-${from}`;
    poison.push(key);
    await produceRaw(config, topic, [{ key, value: Buffer.from(`{"not":"avro","at":${from}}`) }]);
  }
  const { client, one } = clickhouse(config);
  const landed = async () => Number((await one(`SELECT count() AS c FROM ${table}`)).c ?? 0);
  // Records stored so far, each once (a row written again after a kill counts once).
  const progress = async () =>
    Number((await one(`SELECT uniqExact(_partition, _offset) AS c FROM ${table}`)).c ?? 0);

  const kills: number[] = [];
  try {
    for (let round = 0; round < 4; round++) {
      const child = startSink(topic, group, env);
      // Wait until this process writes rows (after the dead member's session expired), then
      // kill it a random 0–200 ms into its work. A kill must land mid-load to test anything:
      // the sink stores ~100k records a second, so four rounds of at most 200 ms leave most of
      // the 200,000 for the last sink.
      const before = await landed();
      const deadline = Date.now() + 60_000;
      while ((await landed()) === before) {
        assert.ok(Date.now() < deadline, `round ${round}: the restarted sink wrote nothing within 60 s`);
        await sleep(20);
      }
      await sleep(Math.floor(Math.random() * 200));
      await killHard(child);
      kills.push(await progress());
    }
    assert.ok(
      kills.every((rows) => rows > 0 && rows < GOOD),
      `every kill landed mid-load (records stored then: ${kills.join(', ')})`,
    );
    const last = startSink(topic, group, env);
    const deadline = Date.now() + 180_000;
    while (Number((await one(`SELECT count() AS c FROM ${view}`)).c ?? 0) < GOOD) {
      assert.ok(Date.now() < deadline, 'all good records visible within 180 s');
      await sleep(500);
    }
    const end = await topicEnd(config, topic);
    for (;;) {
      const committed = await committedOffsets(config, group, topic);
      if ([...end].every(([p, high]) => committed.get(p) === high)) break;
      assert.ok(Date.now() < deadline, 'offsets committed to the end within 180 s');
      await sleep(300);
    }
    assert.equal(await stopGracefully(last), 0, 'the last sink stops cleanly on SIGTERM');

    const visible = await one(
      `SELECT count() AS c, uniqExact(_partition, _offset) AS u, uniqExact(id) AS k FROM ${view}`,
    );
    assert.equal(Number(visible.c), GOOD, 'the view counts 200,000');
    assert.equal(Number(visible.u), GOOD, 'each (partition, offset) once');
    assert.equal(Number(visible.k), GOOD, 'each key once');
    // Every poison record is in the dead-letter topic at least once (a kill between the send
    // and the commit may send one twice), and none is a row.
    const letters = await topicRecords(config, deadLetters, { decode: false });
    const lettered = new Set(letters.filter((l) => l.headers['dlq.topic'] === topic).map((l) => l.key));
    assert.deepEqual(
      poison.filter((key) => !lettered.has(key)),
      [],
      'every poison record dead-lettered',
    );
    const poisonRows = await one(`SELECT count() AS c FROM ${table} WHERE id LIKE 'poison%'`);
    assert.equal(Number(poisonRows.c), 0);
    const twice = await one(
      `SELECT count() AS c FROM (SELECT _partition, _offset, count() AS n FROM ${view} GROUP BY _partition, _offset HAVING n > 1)`,
    );
    assert.equal(Number(twice.c), 0);
    const stored = await one(`SELECT count() AS rows FROM ${table}`);
    console.log(
      `kill -9 test: killed with ${kills.join(', ')} records stored; ${stored.rows} physical rows for 200000 records before merges; ${letters.length} dead letters for ${poison.length} poison records`,
    );

    const offsets = (await (
      await client.query({
        query: `SELECT partition, max(offset) AS o FROM ${quoteIdent(config.clickhouse.database)}._chatstream_offsets WHERE \`group\` = '${group}' AND topic = '${topic}' GROUP BY partition ORDER BY partition`,
        format: 'JSONEachRow',
      })
    ).json()) as { partition: number; o: string }[];
    // The sink stores the offset of the last row it wrote: a poison record at a partition's end
    // is a dead letter, not a row, so the stored offset is that of the last good record there.
    const lastRows = (await (
      await client.query({
        query: `SELECT _partition AS partition, max(_offset) AS o FROM ${view} GROUP BY _partition ORDER BY _partition`,
        format: 'JSONEachRow',
      })
    ).json()) as { partition: number; o: string }[];
    assert.deepEqual(
      offsets.map(({ partition, o }) => [Number(partition), Number(o)]),
      lastRows.map(({ partition, o }) => [Number(partition), Number(o)]),
      'offsets table at the last row of each partition',
    );
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
