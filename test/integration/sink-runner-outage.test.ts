/**
 * `chatstream sink clickhouse` through Kafka outages and a credential change, on a throw-away
 * stack (Kafka, the registry, ClickHouse on free ports; the shared stack is never touched):
 *  - started while Kafka is down (a broker restart): it waits for Kafka, then loads everything —
 *    no "internal error (a bug)" on KafkaJSNonRetriableError ECONNREFUSED;
 *  - running through a ~30 s Kafka restart: it stays up and every record lands exactly once;
 *  - the ClickHouse password changed under it: it exits 3 naming the setting, instead of
 *    retrying (or sitting in a crashed consumer) forever.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { type Config, loadConfig } from '../../cli/settings.ts';
import { createClickHouseClient } from '../../consumers/sinks/clickhouse/connection.ts';
import { quoteIdent, tableName } from '../../consumers/sinks/clickhouse/schema.ts';
import { serverCode } from '../../consumers/sinks/clickhouse/service.ts';
import { usersConfig } from '../../stack/clickhouse.ts';
import { type CliProcess, runCli, spawnCli } from '../helpers/cli.ts';
import { isolatedStackEnv, uniqueName } from '../helpers/names.ts';
import { createTopic, produceAvro } from '../helpers/produce.ts';

const SCHEMA = {
  type: 'record',
  name: 'Item',
  namespace: 'outage',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'n', type: 'long' },
  ],
};
const items = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({ id: `i-${from + i}`, n: from + i }));

let home: string;
let env: NodeJS.ProcessEnv;
let config: Config;
let clickhouse: ClickHouseClient;
const sinks: CliProcess[] = [];

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'chatstream-sink-outage-'));
  env = {
    ...(await isolatedStackEnv(home, loadConfig().stack.cacheDir)),
    CHATSTREAM_LOG_LEVEL: 'warn',
    // A password to change later (with none, ClickHouse answers 194 PASSWORD_REQUIRED instead).
    CHATSTREAM_CLICKHOUSE_PASSWORD: 'first-password',
    CHATSTREAM_SINK_BATCH_MAX_WAIT_MS: '200',
    CHATSTREAM_SINK_RETRY_MAX_MS: '2000',
  };
  const up = await runCli(['stack', 'up', 'kafka', 'registry', 'clickhouse'], env);
  assert.equal(up.code, 0, up.stderr);
  config = loadConfig({ env });
  clickhouse = createClickHouseClient(config);
});

after(async () => {
  for (const sink of sinks) await sink.stop('SIGKILL');
  await clickhouse?.close();
  await runCli(['stack', 'down'], env);
  rmSync(home, { recursive: true, force: true });
});

function sink(topic: string): CliProcess {
  const process = spawnCli(
    ['sink', 'clickhouse', '--topics', topic, '--group', uniqueName('g'), '--metrics-port', '0'],
    {
      ...env,
      CHATSTREAM_SINK_DEAD_LETTER_TOPIC: uniqueName('dlq'),
    },
  );
  sinks.push(process);
  return process;
}

async function rows(topic: string): Promise<{ visible: number; distinct: number }> {
  const db = quoteIdent(config.clickhouse.database);
  try {
    const query = async (sql: string) =>
      Number(
        ((await (await clickhouse.query({ query: sql, format: 'JSONEachRow' })).json()) as { c: string }[])[0]
          ?.c,
      );
    return {
      visible: await query(`SELECT count() AS c FROM ${db}.${quoteIdent(`${tableName(topic)}_dedup`)}`),
      distinct: await query(
        `SELECT uniqExact(_partition, _offset) AS c FROM ${db}.${quoteIdent(tableName(topic))}`,
      ),
    };
  } catch {
    return { visible: 0, distinct: 0 }; // no table yet
  }
}

async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  sink?: CliProcess,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(250);
  }
  assert.fail(`timed out waiting for ${what}${sink ? `\n${sink.stderr().slice(-3000)}` : ''}`);
}

/** True once ClickHouse refuses the test's client (the sink's password): 193 in 18.16, 516 later. */
async function oldPasswordRefused(): Promise<boolean> {
  try {
    await clickhouse.command({ query: 'SELECT 1' });
    return false;
  } catch (error) {
    return [192, 193, 194, 516].includes(serverCode(error) ?? 0);
  }
}

const alive = (p: CliProcess) => p.child.exitCode === null && p.child.signalCode === null;

test('a sink started while Kafka is down (restarting) waits for it, then loads everything', {
  timeout: 120_000,
}, async () => {
  const topic = uniqueName('out_start');
  await createTopic(config, topic, 2);
  await produceAvro(config, topic, SCHEMA, items(0, 2000), (v) => String(v.id), { batch: 1000 });
  const down = await runCli(['stack', 'down', 'kafka'], env);
  assert.equal(down.code, 0, down.stderr);
  const p = sink(topic);
  try {
    await sleep(20_000); // longer than kafkajs's own connection retries (~10 s)
    assert.ok(alive(p), `the sink exited while Kafka was down:\n${p.stderr().slice(-3000)}`);
    assert.doesNotMatch(p.stderr(), /internal error/);
  } finally {
    const up = await runCli(['stack', 'up', 'kafka'], env);
    assert.equal(up.code, 0, up.stderr);
  }
  await until('2000 visible records', async () => (await rows(topic)).visible === 2000, 60_000, p);
  assert.ok(alive(p));
  assert.equal(await p.stop(), 0, p.stderr().slice(-3000));
  assert.doesNotMatch(p.stderr(), /internal error/);
});

test('a running sink survives a ~30 s Kafka restart: it stays up and every record lands exactly once', {
  timeout: 120_000,
}, async () => {
  const topic = uniqueName('out_restart');
  await createTopic(config, topic, 2);
  await produceAvro(config, topic, SCHEMA, items(0, 20_000), (v) => String(v.id), { batch: 2000 });
  const p = sink(topic);
  await until('the load under way', async () => (await rows(topic)).visible > 0, 30_000, p);
  const down = await runCli(['stack', 'down', 'kafka'], env);
  assert.equal(down.code, 0, down.stderr);
  await sleep(30_000);
  assert.ok(alive(p), `the sink exited while Kafka was down:\n${p.stderr().slice(-3000)}`);
  const up = await runCli(['stack', 'up', 'kafka'], env);
  assert.equal(up.code, 0, up.stderr);
  await produceAvro(config, topic, SCHEMA, items(20_000, 5000), (v) => String(v.id), { batch: 2000 });
  await until('25000 visible records', async () => (await rows(topic)).visible === 25_000, 60_000, p);
  assert.equal((await rows(topic)).distinct, 25_000);
  assert.ok(alive(p));
  assert.doesNotMatch(p.stderr(), /internal error/);
  assert.equal(await p.stop(), 0, p.stderr().slice(-3000));
});

test('the ClickHouse password changed under a running sink: it exits 3 naming the setting', {
  timeout: 150_000,
}, async () => {
  const topic = uniqueName('out_auth');
  await createTopic(config, topic, 1);
  await produceAvro(config, topic, SCHEMA, items(0, 100), (v) => String(v.id));
  const p = sink(topic);
  await until('100 visible records', async () => (await rows(topic)).visible === 100, 60_000, p);
  const users = join(home, 'clickhouse', 'users.xml');
  const original = readFileSync(users, 'utf8');
  try {
    writeFileSync(users, usersConfig('rotated-elsewhere'));
    // ClickHouse reloads users.xml by itself, every few seconds: until it has, the sink's next
    // insert still goes through (and an idle sink sends nothing that could fail), so the new
    // records are written only once the old password is refused.
    await until('ClickHouse refusing the old password', () => oldPasswordRefused(), 30_000);
    await produceAvro(config, topic, SCHEMA, items(100, 100), (v) => String(v.id));
    const code = await Promise.race([p.exited, sleep(90_000).then(() => 'still running')]);
    assert.equal(code, 3, p.stderr().slice(-3000));
    assert.match(p.stderr(), /CHATSTREAM_CLICKHOUSE_PASSWORD/);
    assert.doesNotMatch(p.stderr(), /internal error/);
  } finally {
    writeFileSync(users, original);
    await p.stop('SIGKILL'); // never left running into the next test
  }
});
