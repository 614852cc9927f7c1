/**
 * The collector while Kafka is stopped, on a throw-away Kafka: requests are answered 503 with
 * Retry-After (never a 2xx for events Kafka does not hold), /healthz says so, the snippet in
 * headless Chromium keeps its events and retries, and once Kafka is back every event the
 * snippet sent is in ClickHouse exactly once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { loadConfig } from '../../cli/settings.ts';
import { launchBrowser, openPage } from '../helpers/browser.ts';
import { type CliProcess, runCli, spawnCli } from '../helpers/cli.ts';
import { recordsOf } from '../helpers/freshchat.ts';
import { isolatedStackEnv } from '../helpers/names.ts';
import {
  type CollectorProcess,
  clickhouseOf,
  getStatus,
  makeEvent,
  post,
  purechatEnv,
  startCollectorProcess,
} from '../helpers/purechat.ts';

let home: string;
let env: NodeJS.ProcessEnv;
let collector: CollectorProcess;
let sink: CliProcess;
let browser: Browser;

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'chatstream-pc-outage-'));
  const shared = loadConfig();
  const stack = await isolatedStackEnv(home, shared.stack.cacheDir);
  // Kafka and the registry of our own (Kafka is stopped below); the shared ClickHouse.
  delete stack.CHATSTREAM_CLICKHOUSE_HTTP_PORT;
  delete stack.CHATSTREAM_CLICKHOUSE_TCP_PORT;
  env = {
    ...(await purechatEnv(undefined, stack)),
    CHATSTREAM_CLICKHOUSE_URL: shared.clickhouse.url,
    CHATSTREAM_PRODUCER_RETRY_MAX_MS: '1000',
  };
  const up = await runCli(['stack', 'up', 'kafka', 'registry'], env);
  assert.equal(up.code, 0, up.stderr);
  collector = await startCollectorProcess(env);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await sink?.stop();
  await collector?.proc.stop();
  await runCli(['stack', 'down'], env);
  rmSync(home, { recursive: true, force: true });
});

const js = <T = unknown>(page: Page, expression: string) => page.evaluate(expression) as Promise<T>;

test('Kafka stopped: 503 + Retry-After; back: every event the snippet retried is in ClickHouse once', {
  timeout: 280_000,
}, async () => {
  const { page } = await openPage(browser, `${collector.url}/demo/`);
  // Every event id the snippet sends, retries included.
  const sent = new Set<string>();
  const statuses: number[] = [];
  page.on('request', (request) => {
    if (!request.url().endsWith('/v1/events')) return;
    for (const e of (JSON.parse(request.postData() ?? '{}').events ?? []) as { id: string }[]) sent.add(e.id);
  });
  page.on('response', (response) => {
    if (response.url().endsWith('/v1/events')) statuses.push(response.status());
  });
  await page.waitForFunction("'PCDemo' in window && 'chatstream' in window");
  await js(page, 'PCDemo.playChat(3)');
  await js(page, 'chatstream.flush()');

  const down = await runCli(['stack', 'down', 'kafka'], env);
  assert.equal(down.code, 0, down.stderr);
  const during = await post(collector.url, JSON.stringify({ events: [makeEvent()] }));
  assert.equal(during.status, 503, during.text);
  assert.equal(during.json().error?.code, 'KAFKA_UNAVAILABLE');
  assert.ok(Number(during.headers['retry-after']) > 0, 'Retry-After is set');
  assert.equal(await getStatus(`${collector.url}/healthz`), 503, '/healthz reflects Kafka');

  await js(page, 'PCDemo.playChat(4)');
  for (
    let i = 0;
    (await js<number>(page, 'chatstream.flush().then(() => chatstream.pending())')) === 0;
    i++
  ) {
    assert.ok(i < 40, 'the snippet should be holding events while Kafka is down');
    await sleep(250);
  }
  assert.ok(statuses.includes(503), `the snippet was answered 503 (${statuses})`);

  const up = await runCli(['stack', 'up', 'kafka'], env);
  assert.equal(up.code, 0, up.stderr);
  for (let i = 0; ; i++) {
    const pending = await js<number>(page, 'chatstream.flush().then(() => chatstream.pending())');
    if (pending === 0) break;
    assert.ok(i < 240, `the snippet still holds ${pending} events after Kafka returned`);
    await sleep(500);
  }
  assert.equal(collector.proc.child.exitCode, null, 'the collector stayed up');

  // The sink starts once Kafka is back (this test is about the collector and the snippet).
  sink = spawnCli(
    [
      'sink',
      'clickhouse',
      '--topics',
      `${env.CHATSTREAM_KAFKA_TOPIC_PREFIX}purechat.events`,
      '--metrics-port',
      '0',
    ],
    { ...env, CHATSTREAM_SINK_BATCH_MAX_WAIT_MS: '200' },
  );

  const ch = clickhouseOf(env);
  for (let i = 0; ; i++) {
    const rows = await ch.rows<{ event_id: string; n: string }>(
      `SELECT event_id, count() AS n FROM ${ch.table('purechat.events', '_dedup')} GROUP BY event_id`,
    );
    const ids = new Set(rows.map((r) => r.event_id));
    if ([...sent].every((id) => ids.has(id))) {
      assert.ok(
        rows.every((r) => Number(r.n) === 1),
        'each event once',
      );
      assert.ok(sent.size >= 8, `the snippet sent the events of two chats (${sent.size})`);
      break;
    }
    if (i >= 120) {
      const inKafka = new Set(
        (await recordsOf(env, 'purechat.events')).map((r) => String(r.value?.event_id)),
      );
      const missing = [...sent].filter((id) => !ids.has(id));
      assert.fail(
        `${missing.length} of ${sent.size} events missing in ClickHouse (${missing.filter((id) => inKafka.has(id)).length} of them in Kafka); sink: ${sink.stderr().slice(-3000)}`,
      );
    }
    await sleep(500);
  }
  await ch.client.close();
});
