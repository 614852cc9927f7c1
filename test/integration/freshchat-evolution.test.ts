/**
 * Live schema evolution end to end: while a continuous sync and the ClickHouse sink run, the
 * simulator starts sending a new message field; a new schema version is registered, the new
 * messages carry the field in Kafka, and ClickHouse gets the column with their values — no
 * process restarts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { createClickHouseClient } from '../../consumers/sinks/clickhouse/connection.ts';
import { quoteIdent, quoteString, tableName } from '../../consumers/sinks/clickhouse/schema.ts';
import { FreshchatSimulator } from '../../producers/freshchat/simulator/index.ts';
import { spawnCli } from '../helpers/cli.ts';
import { configOf, freshchatEnv, recordsOf } from '../helpers/freshchat.ts';

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

test('a new source field mid-run: new schema version, values in Kafka, a new ClickHouse column — no restart', {
  timeout: 240_000,
}, async () => {
  const sim = await FreshchatSimulator.start({
    seed: 21,
    initial: { users: 4, conversationsPerUser: 1, messagesPerConversation: 3 },
  });
  const env: NodeJS.ProcessEnv = {
    ...freshchatEnv(sim),
    FRESHCHAT_RESOURCES: 'users,conversations,messages',
    FRESHCHAT_SYNC_INTERVAL_SECONDS: '1',
    CHATSTREAM_SINK_GROUP: `evolution-${Date.now()}`,
    CHATSTREAM_SINK_BATCH_MAX_WAIT_MS: '200',
  };
  const prefix = String(env.CHATSTREAM_KAFKA_TOPIC_PREFIX);
  const config = configOf(env);
  const subject = `${prefix}freshchat.messages-value`;
  const table = `${config.clickhouse.database}.${quoteIdent(tableName(`${prefix}freshchat.messages`))}`;
  const clickhouse = createClickHouseClient(config);
  const rows = async <T>(query: string): Promise<T[]> => {
    try {
      return (await (await clickhouse.query({ query, format: 'JSONEachRow' })).json()) as T[];
    } catch {
      return [];
    }
  };
  const versions = async (): Promise<number[]> => {
    const response = await request(
      `${config.schemaRegistry.url}/subjects/${encodeURIComponent(subject)}/versions`,
    );
    const body = await response.body.text();
    return response.statusCode === 200 ? (JSON.parse(body) as number[]) : [];
  };
  const poller = spawnCli(['freshchat', 'sync'], env);
  const sink = spawnCli(['sink', 'clickhouse', '--metrics-port', '0'], env);
  try {
    const initial = sim.snapshot().messages.length;
    await until('the first messages in ClickHouse', async () => {
      const [row] = await rows<{ c: string }>(`SELECT count() AS c FROM ${table}`);
      return Number(row?.c ?? 0) >= initial ? true : undefined;
    }).catch((error) => {
      throw new Error(
        `${(error as Error).message}\npoller: ${poller.stderr().slice(-2000)}\nsink: ${sink.stderr().slice(-2000)}`,
      );
    });
    const before = await versions();

    sim.addField('messages', 'sentiment_score', (i) => (i % 5) + 0.5);
    const added = await sim.addMessages(4);

    const after = await until('a new schema version', async () =>
      (await versions()).length > before.length ? versions() : undefined,
    );
    const latest = (await (
      await request(`${config.schemaRegistry.url}/subjects/${encodeURIComponent(subject)}/versions/latest`)
    ).body.json()) as { schema: string };
    assert.match(latest.schema, /"sentiment_score"/, 'the new version has the field');
    assert.ok(after.length > before.length);

    const kafka = await until('the new messages in Kafka', async () => {
      const records = await recordsOf(env, 'freshchat.messages');
      return added.every((m) => records.some((r) => r.key === m.id)) ? records : undefined;
    });
    for (const m of added) {
      const record = kafka.find((r) => r.key === m.id);
      assert.equal(
        typeof record?.value?.sentiment_score,
        'number',
        `message ${m.id} carries the field in Kafka`,
      );
    }

    const values = await until('the new column with values in ClickHouse', async () => {
      const found = await rows<{ id: string; v: number | null }>(
        `SELECT id, sentiment_score AS v FROM ${table} WHERE id IN (${added.map((m) => quoteString(String(m.id))).join(',')})`,
      );
      return found.length === added.length ? found : undefined;
    });
    for (const row of values)
      assert.equal(typeof row.v, 'number', `ClickHouse row ${row.id}: ${JSON.stringify(row)}`);
    assert.equal(poller.child.exitCode, null, 'the poller kept running');
    assert.equal(sink.child.exitCode, null, 'the sink kept running');
    assert.match(poller.stderr(), /schema evolved: new fields registered/);
  } finally {
    await Promise.all([poller.stop(), sink.stop()]);
    await clickhouse.close();
    await sim.stop();
  }
});
