/**
 * The whole Pure Chat path in real headless Chromium: the demo page (Pure Chat's embed stub and
 * a fake widget) → the chatstream snippet → the collector → purechat.events, purechat.visitors
 * and purechat.widget_settings, with the right fields → the ClickHouse sink's tables. Also the
 * other load order (snippet before the stub) and a page handler already queued in the stub.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, openPage, screenshot } from '../helpers/browser.ts';
import { type CliProcess, spawnCli } from '../helpers/cli.ts';
import { recordsOf } from '../helpers/freshchat.ts';
import {
  type CollectorProcess,
  clickhouseOf,
  purechatEnv,
  startCollectorProcess,
  WIDGET_ID,
} from '../helpers/purechat.ts';
import type { TopicRecord } from '../helpers/topic-records.ts';

const TOPICS = ['purechat.events', 'purechat.visitors', 'purechat.widget_settings'];

interface Fired {
  name: string;
  args: Record<string, unknown> | null | undefined;
}

let env: NodeJS.ProcessEnv;
let collector: CollectorProcess;
let sink: CliProcess;
let browser: Browser;

before(async () => {
  env = await purechatEnv();
  collector = await startCollectorProcess(env);
  const prefix = env.CHATSTREAM_KAFKA_TOPIC_PREFIX;
  sink = spawnCli(
    ['sink', 'clickhouse', '--topics', TOPICS.map((t) => `${prefix}${t}`).join(','), '--metrics-port', '0'],
    { ...env, CHATSTREAM_SINK_BATCH_MAX_WAIT_MS: '200' },
  );
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await sink?.stop();
  await collector?.proc.stop();
});

/** Evaluates an expression in the page (tsconfig has no DOM types: the page's code is text here). */
function js<T = unknown>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

/** Waits until the snippet has nothing left to send. */
async function drained(page: Page): Promise<void> {
  for (let i = 0; ; i++) {
    const pending = await js<number>(page, 'chatstream.flush().then(() => chatstream.pending())');
    if (pending === 0) return;
    assert.ok(i < 60, `the snippet still holds ${pending} events`);
    await sleep(250);
  }
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(500);
  }
}

const byId = (records: TopicRecord[]) =>
  new Map(records.map((r) => [String(r.value?.event_id), r.value ?? {}]));

test('demo page → snippet → collector → Kafka → ClickHouse, in headless Chromium', {
  timeout: 180_000,
}, async () => {
  // The widget script is held back a moment, so the snippet surely queues its handlers in the
  // stub, after the page's own (?prequeue=1), and the widget replays them all.
  const { page, errors } = await openPage(browser, `${collector.url}/demo/?prequeue=1`, (p) =>
    p.route('**/demo/widget.js', async (route) => {
      await sleep(500);
      await route.continue();
    }),
  );
  await page.waitForFunction("'PCDemo' in window && 'chatstream' in window");
  await js(page, 'PCDemo.playChat(1)');
  await js(
    page,
    `PCDemo.setAvailable(false); PCDemo.sendEmail({ name: 'Ann Offline', email: 'ann@example.com', question: 'Are you there?' })`,
  );
  // The widget state is read every few seconds; wait for the offline form to be reported.
  await sleep(3500);
  await drained(page);
  const shot = await screenshot(page, 'purechat-demo');
  assert.ok(statSync(shot).size > 10_000, 'a real screenshot was saved');
  assert.equal(
    await js(page, 'window.pageHandlerCalls'),
    1,
    "the page's own handler, queued in the stub before the snippet, was called once",
  );
  const fired = await js<Fired[]>(page, 'PCDemo.fired');
  const visitorId = await js<string | null>(page, "localStorage.getItem('chatstream.vid')");
  assert.ok(visitorId, 'the snippet gave the visitor an id');
  for (const name of ['chatbox:ready', 'chatbox:expand', 'chat:start', 'chat:end', 'email:send'])
    assert.ok(
      fired.some((f) => f.name === name),
      `the widget fired ${name}`,
    );

  // Kafka: each fired event once, with its arguments in the fields.
  const events = await recordsOf(env, 'purechat.events');
  const widgetEvents = events.filter((r) => !String(r.value?.name).endsWith(':state'));
  assert.deepEqual(
    widgetEvents.map((r) => r.value?.name).sort(),
    fired.map((f) => f.name).sort(),
    'every event the widget fired is in purechat.events, once',
  );
  for (const r of widgetEvents) {
    const v = r.value ?? {};
    assert.equal(v.widget_id, WIDGET_ID);
    assert.equal(v.visitor_id, visitorId);
    assert.match(String(v.page_url), /\/demo\//);
    assert.match(String(v.user_agent), /Chrome/);
    assert.equal(v.client_ip, '127.0.0.0');
    assert.equal(r.key, v.session_id);
  }
  const start = fired.find((f) => f.name === 'chat:start')?.args ?? {};
  const startRecord = widgetEvents.find((r) => r.value?.name === 'chat:start')?.value ?? {};
  assert.equal(startRecord.visitor_name, start.name);
  assert.equal(startRecord.visitor_email, start.email);
  assert.equal(startRecord.question, start.question);
  const end = fired.find((f) => f.name === 'chat:end')?.args ?? {};
  const endRecord = widgetEvents.find((r) => r.value?.name === 'chat:end')?.value ?? {};
  assert.equal(endRecord.transcript_id, end.transcriptId);
  assert.equal(endRecord.started_by_operator, end.startedByOperator);

  const visitors = await recordsOf(env, 'purechat.visitors');
  const latestVisitor = visitors.filter((r) => r.key === visitorId).at(-1)?.value;
  assert.ok(latestVisitor, 'the visitor state is in purechat.visitors');
  // The offline form filled the visitor fields last.
  const email = fired.find((f) => f.name === 'email:send')?.args ?? {};
  assert.equal(latestVisitor.name, email.name, 'visitor.name as the widget holds it');
  assert.equal(latestVisitor.email, email.email);
  assert.ok(
    visitors.some((r) => r.key === visitorId && r.value?.name === start.name),
    'and the chat form before it',
  );
  const widgets = await recordsOf(env, 'purechat.widget_settings');
  const latestWidget = widgets.filter((r) => r.key === WIDGET_ID).at(-1)?.value;
  assert.ok(latestWidget, 'the widget settings are in purechat.widget_settings');
  assert.equal(typeof latestWidget.position, 'string');
  assert.equal(latestWidget.operators_available, false, 'the offline e-mail form was showing');
  assert.ok(
    widgets.some((r) => r.value?.operators_available === true),
    'and the chat form before it',
  );

  // ClickHouse: the same, through the sink.
  const ch = clickhouseOf(env);
  const ids = byId(events);
  const rows = await until('the events in ClickHouse', async () => {
    const found = await ch.rows<{ event_id: string; name: string }>(
      `SELECT event_id, name FROM ${ch.table('purechat.events', '_dedup')}`,
    );
    return found.length >= ids.size ? found : undefined;
  });
  assert.deepEqual(new Set(rows.map((r) => r.event_id)), new Set(ids.keys()));
  const [visitorRow] = await until('the visitor in ClickHouse', async () => {
    const found = await ch.rows<{ name: string; email: string }>(
      `SELECT name, email FROM ${ch.table('purechat.visitors', '_dedup')} WHERE visitor_id = '${visitorId}'`,
    );
    return found.length > 0 && found[0]?.name === email.name ? found : undefined;
  });
  assert.equal(visitorRow?.email, email.email);
  const [widgetRow] = await until('the widget in ClickHouse', async () => {
    const found = await ch.rows<{ operators_available: number | boolean | null }>(
      `SELECT operators_available FROM ${ch.table('purechat.widget_settings', '_dedup')} WHERE widget_id = '${WIDGET_ID}'`,
    );
    return found.length > 0 && Number(found[0]?.operators_available) === 0 ? found : undefined;
  });
  assert.ok(widgetRow);
  await ch.client.close();
  assert.deepEqual(
    errors.filter((e) => e.startsWith('pageerror')),
    [],
    'no script errors on the page',
  );
  await page.close();
});

test('the snippet loaded before the Pure Chat stub still gets every event', {
  timeout: 120_000,
}, async () => {
  const before = new Set((await recordsOf(env, 'purechat.events')).map((r) => String(r.value?.event_id)));
  const { page, errors } = await openPage(browser, `${collector.url}/demo/?order=snippet-first`);
  await page.waitForFunction("'PCDemo' in window && 'chatstream' in window");
  await js(page, 'PCDemo.playChat(2)');
  await drained(page);
  const fired = await js<Fired[]>(page, 'PCDemo.fired');
  const fresh = (await recordsOf(env, 'purechat.events')).filter(
    (r) => !before.has(String(r.value?.event_id)),
  );
  assert.deepEqual(
    fresh
      .map((r) => r.value?.name)
      .filter((n) => !String(n).endsWith(':state'))
      .sort(),
    fired.map((f) => f.name).sort(),
  );
  assert.ok(
    fresh.some((r) => r.value?.name === 'visitor:state'),
    'the state was read too',
  );
  assert.deepEqual(
    errors.filter((e) => e.startsWith('pageerror')),
    [],
  );
  await page.close();
});
