/**
 * The dashboard in real headless Chromium while the whole product runs (`chatstream start
 * --no-stack` on the shared stack, in a topic prefix and ClickHouse database of its own): the
 * Freshchat simulator grows conversations every few seconds and a second tab plays the Pure Chat
 * demo page. The panels show non-zero values equal to the analytics views' numbers (queried
 * here directly), the numbers change as new data arrives, and screenshots are saved
 * (.chatstream/test-artifacts/; with CHATSTREAM_UPDATE_DOCS_SCREENSHOT=1 also docs/dashboard.png).
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { loadConfig } from '../../cli/settings.ts';
import { quoteIdent } from '../../consumers/sinks/clickhouse/schema.ts';
import { ClickHouseService } from '../../consumers/sinks/clickhouse/service.ts';
import { PROJECT_ROOT } from '../../core/settings.ts';
import { launchBrowser, openPage, screenshot } from '../helpers/browser.ts';
import { type CliProcess, spawnCli } from '../helpers/cli.ts';
import { freePort, uniqueName } from '../helpers/names.ts';

const database = uniqueName('dashboard_browser');
const prefix = `${uniqueName('db')}.`;
let env: NodeJS.ProcessEnv;
let start: CliProcess;
let browser: Browser;
let dashboard: Page;
let pageErrors: string[];
let service: ClickHouseService;
let dashboardUrl: string;

/** Polls `check` until it returns a value (not undefined), or fails after `ms` naming `what`. */
async function until<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(500);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
}

function urlOf(name: string): string | undefined {
  const match = new RegExp(`${name}:\\s+(http://\\S+)`).exec(start.stdout());
  return match?.[1];
}

before(async () => {
  env = {
    ...process.env,
    CHATSTREAM_KAFKA_TOPIC_PREFIX: prefix,
    CHATSTREAM_CLICKHOUSE_DATABASE: database,
    CHATSTREAM_SINK_GROUP: uniqueName('dashboard-sink'),
    CHATSTREAM_SINK_BATCH_MAX_WAIT_MS: '200',
    CHATSTREAM_PRODUCER_INSTANCE_ID: uniqueName('dashboard-producer'),
    CHATSTREAM_SINK_METRICS_PORT: String(await freePort()),
    CHATSTREAM_PRODUCER_METRICS_PORT: String(await freePort()),
    FRESHCHAT_SIMULATOR_PORT: String(await freePort()),
    FRESHCHAT_WEBHOOK_PORT: String(await freePort()),
    PURECHAT_PORT: String(await freePort()),
    CHATSTREAM_DASHBOARD_PORT: String(await freePort()),
    CHATSTREAM_DASHBOARD_REFRESH_SECONDS: '1',
    CHATSTREAM_DASHBOARD_CACHE_SECONDS: '1',
    CHATSTREAM_LOG_FORMAT: 'json',
  };
  service = new ClickHouseService(loadConfig({ env }));
  start = spawnCli(['start', '--no-stack'], env);
  dashboardUrl = await until('the Dashboard line of npm start', 180_000, async () => {
    if (start.child.exitCode !== null) throw new Error(`start exited: ${start.stderr().slice(-2000)}`);
    return urlOf('Dashboard');
  });
  browser = await launchBrowser();
  const demo = urlOf('Pure Chat demo');
  if (demo) await openPage(browser, demo); // printed with ?autoplay=1: plays a chat every 4 s
  ({ page: dashboard, errors: pageErrors } = await openPage(browser, `${dashboardUrl}?range=30d`));
});

after(async () => {
  await browser?.close();
  await start?.stop('SIGKILL'); // only when a test failed before the Ctrl-C test
  await service?.command(`DROP DATABASE IF EXISTS ${quoteIdent(database)}`).catch(() => undefined);
  await service?.close();
});

/** A stat panel's value as the page shows it (data-value), after the page's latest refresh. */
async function shown(id: string): Promise<number | undefined> {
  const text = await dashboard
    .getAttribute(`[data-panel="${id}"] .stat-value`, 'data-value')
    .catch(() => null);
  return text === null || text === '' ? undefined : Number(text);
}

/** What the analytics view says, queried directly (all of it: the simulator's history is two weeks). */
async function viewSays(sql: string): Promise<number> {
  const [row] = await service.rows<{ v: string | null }>(sql.replaceAll('{db}', quoteIdent(database)));
  return Number(row?.v ?? 0);
}

const CHECKS: { panel: string; sql: string }[] = [
  { panel: 'messages', sql: 'SELECT sum(messages) AS v FROM {db}.analytics_messages_hourly' },
  { panel: 'conversations_opened', sql: 'SELECT sum(opened) AS v FROM {db}.analytics_conversations_hourly' },
  { panel: 'open_now', sql: 'SELECT sum(open) AS v FROM {db}.analytics_open_conversations' },
];

test('the panels show non-zero numbers equal to the views', async () => {
  for (const { panel, sql } of CHECKS) {
    const agreed = await until(`${panel} to show the view's non-zero number`, 120_000, async () => {
      const before = await viewSays(sql);
      const onPage = await shown(panel);
      const after = await viewSays(sql);
      // The page was refreshed between two reads of the view that agree: it must say the same.
      return before > 0 && before === after && onPage === before ? onPage : undefined;
    });
    assert.ok(agreed > 0, panel);
  }
  await until('one agent table row per agent the view lists', 60_000, async () => {
    const rows = await dashboard.locator('[data-panel="agent_availability"] table tr').count();
    const [agents] = await service.rows<{ n: string }>(
      `SELECT count() AS n FROM ${quoteIdent(database)}.analytics_agent_availability`,
    );
    return Number(agents?.n) > 0 && rows - 1 === Math.min(100, Number(agents?.n)) ? true : undefined;
  });
  const points = Number(await dashboard.getAttribute('[data-panel="conversations_hourly"]', 'data-points'));
  assert.ok(points > 0, 'the hourly chart has points');
  assert.match(
    (await dashboard.textContent('[data-panel="messages"] .updated')) ?? '',
    /last updated \d\d:\d\d:\d\d/,
  );
  assert.match((await dashboard.textContent('#health-tiles')) ?? '', /Consumer lag/);
  await screenshot(dashboard, 'dashboard-simulator');
});

test('the numbers change after new data arrives', async () => {
  const first = (await shown('messages')) ?? 0;
  const later = await until('the messages panel to grow', 90_000, async () => {
    const now = await shown('messages');
    return now !== undefined && now > first ? now : undefined;
  });
  assert.ok(later > first);
  const cursorTile = await until('a producer cursor age on the health row', 60_000, async () =>
    (await dashboard.locator('[data-health^="cursor-"]').count()) > 0 ? true : undefined,
  );
  assert.ok(cursorTile);
  // The Pure Chat demo tab plays a chat every 4 s: the chats panel agrees with its view.
  const sql = 'SELECT sum(chats_started) AS v FROM {db}.analytics_purechat_hourly';
  await until("chats_started to show the view's non-zero number", 90_000, async () => {
    const before = await viewSays(sql);
    const onPage = await shown('chats_started');
    return before > 0 && onPage === before && (await viewSays(sql)) === before ? true : undefined;
  });
  const path = await screenshot(dashboard, 'dashboard-simulator-later');
  if (process.env.CHATSTREAM_UPDATE_DOCS_SCREENSHOT === '1')
    copyFileSync(path, join(PROJECT_ROOT, 'docs', 'dashboard.png'));
  assert.deepEqual(pageErrors, [], 'no errors in the page');
});

test('the API refuses a bad range with 400 naming the parameter, and an unknown panel with 404', async () => {
  const bad = await fetch(new URL('/api/panels/messages?range=2h', dashboardUrl));
  assert.equal(bad.status, 400);
  const body = (await bad.json()) as { error: { code: string; details: { field: string } } };
  assert.equal(body.error.code, 'BAD_RANGE');
  assert.equal(body.error.details.field, 'range');
  const unknown = await fetch(new URL('/api/panels/nope', dashboardUrl));
  assert.equal(unknown.status, 404);
});

test('Ctrl-C stops all of it, the dashboard included, and exits 0', async () => {
  await browser.close();
  const code = await Promise.race([start.stop('SIGINT'), sleep(60_000).then(() => 'still running')]);
  assert.equal(code, 0, start.stderr().slice(-3000));
  await assert.rejects(fetch(dashboardUrl, { signal: AbortSignal.timeout(5000) }));
});
