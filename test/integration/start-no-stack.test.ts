/**
 * `chatstream start --no-stack` — what the docker-compose chatstream service runs — with that
 * service's environment from docker-compose.yml, pointed at the running shared stack (its own
 * topic prefix, ClickHouse database and free ports): records flow from the Freshchat simulator
 * and the Pure Chat collector into ClickHouse, the compose health check passes, nothing of the
 * local stack is started or stopped, and SIGTERM stops it with exit 0.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../cli/settings.ts';
import { createLogger } from '../../core/log.ts';
import { withAdmin } from '../../kafka/client.ts';
import { Stack } from '../../stack/stack.ts';
import { spawnCli } from '../helpers/cli.ts';
import { readCompose, startListeners } from '../helpers/compose.ts';
import { freePort, uniqueName } from '../helpers/names.ts';
import { clickhouseOf, getStatus, makeEvent, post, purechatEnv } from '../helpers/purechat.ts';

const STOP_DEADLINE_MS = 40_000;

/** The chatstream service's environment as compose resolves it (with placeholder secrets). */
/** The secrets compose requires, as placeholders (this test overrides what it uses). */
const PLACEHOLDERS = {
  CLICKHOUSE_PASSWORD: 'placeholder',
  CLICKHOUSE_READONLY_PASSWORD: 'placeholder',
  GRAFANA_ADMIN_PASSWORD: 'placeholder',
};

function composeEnvironment(): Record<string, string> {
  const compose = readCompose(PLACEHOLDERS);
  const environment = compose.services.chatstream?.environment ?? {};
  return Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, String(v)]));
}

/** Waits until check() is true or the deadline passes; true when it became true. */
async function until(check: () => Promise<boolean>, ms: number, alive: () => void): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    alive();
    await sleep(1000);
  }
  return check();
}

test('start --no-stack with the compose environment: records flow into ClickHouse, the stack is left alone, SIGTERM exits 0', {
  timeout: 240_000,
}, async () => {
  const shared = loadConfig({ env: process.env });
  const stack = new Stack(shared, createLogger('test'));
  const before = await stack.status();
  const prefix = uniqueName('nostack');
  const database = prefix;
  // An empty stack home on free ports: had start touched a stack, it would write here.
  const home = mkdtempSync(join(tmpdir(), 'chatstream-nostack-'));
  const ports = {
    CHATSTREAM_SINK_METRICS_PORT: String(await freePort()),
    CHATSTREAM_PRODUCER_METRICS_PORT: String(await freePort()),
    PURECHAT_PORT: String(await freePort()),
    FRESHCHAT_WEBHOOK_PORT: String(await freePort()),
    FRESHCHAT_SIMULATOR_PORT: String(await freePort()),
  };
  const base = await purechatEnv(prefix, { PATH: process.env.PATH, HOME: process.env.HOME });
  const env: NodeJS.ProcessEnv = {
    ...base,
    ...composeEnvironment(),
    // The compose service names → the shared stack; everything else as compose sets it.
    CHATSTREAM_KAFKA_BROKERS: shared.kafka.brokers.join(','),
    CHATSTREAM_SCHEMA_REGISTRY_URL: shared.schemaRegistry.url,
    CHATSTREAM_CLICKHOUSE_URL: shared.clickhouse.url,
    CHATSTREAM_CLICKHOUSE_USER: shared.clickhouse.user,
    CHATSTREAM_CLICKHOUSE_PASSWORD: shared.clickhouse.password,
    // The local stack's read-only user (compose creates its own with CLICKHOUSE_READONLY_PASSWORD).
    CHATSTREAM_CLICKHOUSE_READONLY_USER: shared.clickhouse.readonlyUser,
    CHATSTREAM_CLICKHOUSE_READONLY_PASSWORD: shared.clickhouse.readonlyPassword,
    CHATSTREAM_CLICKHOUSE_DATABASE: database,
    CHATSTREAM_STACK_HOME: home,
    CHATSTREAM_KAFKA_PORT: String(await freePort()),
    CHATSTREAM_CLICKHOUSE_HTTP_PORT: String(await freePort()),
    CHATSTREAM_REGISTRY_PORT: String(await freePort()),
    CHATSTREAM_KAFKA_PARTITIONS: '2',
    ...ports,
    PURECHAT_PUBLIC_URL: `http://127.0.0.1:${ports.PURECHAT_PORT}`,
  };
  const config = loadConfig({ env });
  const start = spawnCli(['start', '--no-stack'], env);
  const alive = () =>
    assert.equal(start.child.exitCode, null, `start exited: ${start.stderr().slice(-3000)}`);
  const ch = clickhouseOf(env);
  const count = async (topic: string): Promise<number> =>
    Number(
      (await ch.rows<{ c: string }>(`SELECT count() AS c FROM ${ch.table(topic, '_dedup')}`))[0]?.c ?? 0,
    );
  let code: number | null | 'hung' = 'hung';
  try {
    const topics = ['freshchat.users', 'freshchat.conversations', 'freshchat.messages'];
    const flowed = await until(
      async () => (await Promise.all(topics.map(count))).every((c) => c > 0),
      90_000,
      alive,
    );
    assert.ok(flowed, `no Freshchat rows within 90 s\n${start.stderr().slice(-3000)}`);

    const collector = `http://127.0.0.1:${ports.PURECHAT_PORT}`;
    const answer = await post(collector, JSON.stringify({ events: [makeEvent()] }));
    assert.equal(answer.status, 200, answer.text);
    assert.ok(
      await until(async () => (await count('purechat.events')) === 1, 30_000, alive),
      'the Pure Chat event',
    );

    // The compose health check, run as the container runs it, on this run's ports.
    const containerPorts = startListeners(loadConfig({ env: composeEnvironment() }));
    const testPorts = startListeners(config);
    const [command, ...args] = readCompose(PLACEHOLDERS).services.chatstream?.healthcheck?.test.slice(1) ?? [
      'missing',
    ];
    assert.equal(command, 'node');
    const remapped = args.map((arg) =>
      containerPorts.reduce(
        (text, l, i) => text.replaceAll(`127.0.0.1:${l.port}/`, `127.0.0.1:${testPorts[i]?.port}/`),
        arg,
      ),
    );
    const health = spawnSync(process.execPath, remapped, { encoding: 'utf8', timeout: 10_000 });
    assert.equal(health.status, 0, `the compose health check failed: ${health.stderr}`);
    for (const listener of testPorts)
      assert.equal(
        await getStatus(`http://127.0.0.1:${listener.port}${listener.health}`),
        200,
        `${listener.name} ${listener.health}`,
      );
    const metrics = await fetch(`http://127.0.0.1:${ports.CHATSTREAM_SINK_METRICS_PORT}/metrics`);
    assert.match(await metrics.text(), /chatstream_sink_records_out_total\{topic="[^"]+"\} [1-9]/);

    assert.doesNotMatch(start.stdout(), /SERVICE\s+STATE/, 'no stack status table');
    assert.deepEqual(readdirSync(home), [], 'nothing written to the stack home');
  } finally {
    code = await Promise.race([
      start.stop('SIGTERM'),
      sleep(STOP_DEADLINE_MS, undefined, { ref: false }).then(() => 'hung' as const),
    ]);
    if (code === 'hung') await start.stop('SIGKILL');
    await ch.client.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => undefined);
    await ch.client.close();
    await withAdmin(shared, async (admin) => {
      const mine = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
      if (mine.length > 0) await admin.deleteTopics({ topics: mine });
    }).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }
  assert.equal(code, 0, `SIGTERM: exit ${code}\n${start.stderr().slice(-2000)}`);
  assert.match(start.stderr(), /"msg":"pipeline stopped"/);
  const after = await stack.status();
  assert.deepEqual(
    after.map((s) => [s.name, s.state, s.pid]),
    before.map((s) => [s.name, s.state, s.pid]),
    'the shared stack runs on, untouched',
  );
});
