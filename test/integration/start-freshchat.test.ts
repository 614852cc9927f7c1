/**
 * `chatstream start` as a new user runs it (no FRESHCHAT_API_KEY): the simulator, the poller,
 * the webhook receiver, the Pure Chat collector and the ClickHouse sink come up, Freshchat rows
 * (and a Pure Chat event posted to the collector) are in the ClickHouse
 * `_dedup` views within a minute, and SIGTERM stops all of it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../cli/settings.ts';
import { createClickHouseClient } from '../../consumers/sinks/clickhouse/connection.ts';
import { quoteIdent, tableName } from '../../consumers/sinks/clickhouse/schema.ts';
import { spawnCli } from '../helpers/cli.ts';
import { freePort, uniqueName } from '../helpers/names.ts';
import { getStatus, makeEvent, post } from '../helpers/purechat.ts';

test('npm start without an API key: Freshchat rows reach the ClickHouse _dedup views within a minute', {
  timeout: 180_000,
}, async () => {
  const prefix = uniqueName('start');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CHATSTREAM_KAFKA_TOPIC_PREFIX: `${prefix}.`,
    CHATSTREAM_KAFKA_PARTITIONS: '2',
    CHATSTREAM_PRODUCER_OFFSETS_TOPIC: `${prefix}._offsets`,
    CHATSTREAM_PRODUCER_INSTANCE_ID: prefix,
    CHATSTREAM_SINK_GROUP: `${prefix}-sink`,
    CHATSTREAM_SINK_METRICS_PORT: String(await freePort()),
    CHATSTREAM_PRODUCER_METRICS_PORT: String(await freePort()),
    FRESHCHAT_SIMULATOR_PORT: String(await freePort()),
    FRESHCHAT_WEBHOOK_PORT: String(await freePort()),
    PURECHAT_PORT: String(await freePort()),
    CHATSTREAM_LOG_FORMAT: 'json',
  };
  delete env.FRESHCHAT_API_KEY;
  const start = spawnCli(['start'], env);
  const config = loadConfig({ env });
  const client = createClickHouseClient(config);
  const count = async (topic: string): Promise<number> => {
    const view = `${config.clickhouse.database}.${quoteIdent(`${tableName(`${prefix}.${topic}`)}_dedup`)}`;
    try {
      const [row] = (await (
        await client.query({ query: `SELECT count() AS c FROM ${view}`, format: 'JSONEachRow' })
      ).json()) as { c: string }[];
      return Number(row?.c ?? 0);
    } catch {
      return 0; // not created yet
    }
  };
  try {
    const started = Date.now();
    const topics = ['freshchat.users', 'freshchat.conversations', 'freshchat.messages', 'freshchat.agents'];
    let counts: number[] = [];
    while (Date.now() - started < 60_000) {
      counts = await Promise.all(topics.map(count));
      if (counts.every((c) => c > 0)) break;
      assert.equal(start.child.exitCode, null, `start exited: ${start.stderr()}`);
      await sleep(1000);
    }
    assert.ok(
      counts.every((c) => c > 0),
      `after a minute: ${topics.map((t, i) => `${t}=${counts[i]}`).join(', ')}\n${start.stderr().slice(-3000)}`,
    );
    // The URL table is printed once every part has started (the dashboard may still be
    // migrating its views when the first rows land).
    const printed = Date.now() + 60_000;
    while (!/Pipeline running/.test(start.stdout()) && Date.now() < printed) await sleep(250);
    assert.match(start.stdout(), /Freshchat simulator:\s+http:\/\/127\.0\.0\.1:\d+\/v2/);
    assert.match(start.stdout(), /Freshchat webhooks:\s+http:\/\/127\.0\.0\.1:\d+\/freshchat\/webhooks/);
    // Conversation events come only from webhooks: the simulator's signed deliveries as it
    // grows were verified by the receiver, written, and sunk.
    const deadline = Date.now() + 45_000;
    while (Date.now() < deadline && (await count('freshchat.conversation_events')) === 0) await sleep(1000);
    assert.ok(
      (await count('freshchat.conversation_events')) > 0,
      `no webhook reached ClickHouse\n${start.stderr().slice(-3000)}`,
    );
    // The Pure Chat collector runs too: its demo page is served, and an event reaches ClickHouse.
    const demo = /Pure Chat demo:\s+(http:\/\/127\.0\.0\.1:\d+)\/demo\//.exec(start.stdout());
    assert.ok(demo?.[1], `no demo URL printed:\n${start.stdout()}`);
    assert.equal(await getStatus(`${demo[1]}/demo/`), 200);
    const answer = await post(demo[1], JSON.stringify({ events: [makeEvent()] }));
    assert.equal(answer.status, 200, answer.text);
    const pcDeadline = Date.now() + 30_000;
    while (Date.now() < pcDeadline && (await count('purechat.events')) === 0) await sleep(500);
    assert.equal(await count('purechat.events'), 1, 'the Pure Chat event reached ClickHouse');
  } finally {
    const code = await Promise.race([start.stop('SIGTERM'), sleep(40_000).then(() => 'hung')]);
    if (code === 'hung') await start.stop('SIGKILL');
    await client.close();
    assert.equal(code, 0, `start did not stop cleanly on SIGTERM: ${start.stderr().slice(-2000)}`);
  }
  assert.match(start.stderr(), /"msg":"pipeline stopped"/);
});
