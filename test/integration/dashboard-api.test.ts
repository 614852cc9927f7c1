/**
 * The dashboard's JSON API on the real ClickHouse with the analytics fixture (written through
 * the real sink): panel numbers equal the answers computed independently from the records,
 * many simultaneous viewers cost one query, and bad input / missing views get clear errors.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { readRegistries } from '../../analytics/health.ts';
import { type RunningDashboard, runDashboard } from '../../analytics/service.ts';
import { loadConfig } from '../../cli/settings.ts';
import { quoteIdent } from '../../consumers/sinks/clickhouse/schema.ts';
import { ClickHouseService } from '../../consumers/sinks/clickhouse/service.ts';
import { ClickHouseSink } from '../../consumers/sinks/clickhouse/sink.ts';
import { createLogger } from '../../core/log.ts';
import { expectedViews, quantile } from '../helpers/analytics-expected.ts';
import { fixture, writeFixture } from '../helpers/analytics-fixture.ts';
import { uniqueName } from '../helpers/names.ts';

const database = uniqueName('dashboard_api');
const prefix = `${uniqueName('da')}.`;
const config = loadConfig({
  env: {
    ...process.env,
    CHATSTREAM_CLICKHOUSE_DATABASE: database,
    CHATSTREAM_KAFKA_TOPIC_PREFIX: prefix,
    CHATSTREAM_DASHBOARD_CACHE_SECONDS: '60',
  },
});
const log = createLogger('test.dashboard-api');
const now = Math.floor(Date.now() / 1000) * 1000;
const records = fixture(now);
const expected = expectedViews(records, now);
/** The fixture's Freshchat days (the in-progress chats are today, outside it). */
const RANGE = 'from=2025-05-31T00:00:00Z&to=2025-06-03T00:00:00Z';
let dashboard: RunningDashboard;
const service = new ClickHouseService(config);

before(async () => {
  dashboard = await runDashboard({ config, log, metrics: readRegistries([]), port: 0 });
  const sink = new ClickHouseSink(config, log);
  await sink.connect();
  try {
    await writeFixture(sink, prefix, records);
  } finally {
    await sink.close();
  }
});

after(async () => {
  await dashboard?.close();
  await service.command(`DROP DATABASE IF EXISTS ${quoteIdent(database)}`).catch(() => undefined);
  await service.close();
});

interface Answer {
  columns: string[];
  rows: unknown[][];
  updated: string;
  range: { from: string; to: string };
}

async function panel(id: string, query = RANGE): Promise<Answer> {
  const response = await fetch(`${dashboard.url}/api/panels/${id}?${query}`);
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()) as Answer;
}
const stat = async (id: string) => Number((await panel(id)).rows[0]?.[0]);
const rows = (view: string) => expected[view] as Record<string, string | number | null>[];
const total = (view: string, field: string) => rows(view).reduce((a, r) => a + Number(r[field]), 0);

test('stat panels equal the independently computed answers', async () => {
  assert.equal(await stat('conversations_opened'), total('analytics_conversations_hourly', 'opened'));
  assert.equal(await stat('messages'), total('analytics_messages_hourly', 'messages'));
  assert.equal(await stat('open_now'), total('analytics_open_conversations', 'open'));
  assert.equal(await stat('chats_in_progress'), rows('analytics_purechat_in_progress').length);
  const firstResponses = rows('analytics_conversation_times')
    .map((r) => r.first_response_seconds)
    .filter((v): v is number => v !== null);
  assert.equal(await stat('first_response_median'), quantile(firstResponses, 0.5));
  assert.ok((await stat('messages')) > 0);
});

test('series and tables equal the computed answers', async () => {
  const hourly = await panel('conversations_hourly');
  assert.deepEqual(hourly.columns, ['t', 'opened', 'assigned', 'resolved', 'reopened']);
  const inRange = rows('analytics_conversations_hourly').filter((r) => String(r.hour) < '2025-06-03');
  assert.deepEqual(
    hourly.rows.map((r) => [
      new Date(Number(r[0]) * 1000).toISOString().slice(0, 19).replace('T', ' '),
      ...r.slice(1).map(Number),
    ]),
    inRange.map((r) => [r.hour, r.opened, r.assigned, r.resolved, r.reopened]),
  );
  const open = await panel('open_by_agent');
  const want = rows('analytics_open_conversations')
    .map((r) => [
      r.agent_name || r.agent_id || '(unassigned)',
      r.group_name || r.group_id || '(none)',
      r.open,
    ])
    .sort(
      (a, b) =>
        Number(b[2]) - Number(a[2]) ||
        String(a[0]).localeCompare(String(b[0])) ||
        String(a[1]).localeCompare(String(b[1])),
    );
  assert.deepEqual(
    open.rows.map((r) => [r[0], r[1], Number(r[2])]),
    want,
  );
  const widgets = await panel('purechat_widgets');
  const started = rows('analytics_purechat_hourly')
    .filter((r) => String(r.hour) < '2025-06-03')
    .reduce((a, r) => a + Number(r.chats_started), 0);
  assert.equal(
    widgets.rows.reduce((a, r) => a + Number(r[1]), 0),
    started,
  );
  assert.match(widgets.updated, /^\d{4}-\d\d-\d\dT/);
  // Open rate: of the sessions with chatbox:ready (per hour), those with chatbox:expand — never above 1.
  const hourlyPc = rows('analytics_purechat_hourly').filter((r) => String(r.hour) < '2025-06-03');
  for (const widget of widgets.rows) {
    const own = hourlyPc.filter((r) => r.widget_id === widget[0]);
    const ready = own.reduce((a, r) => a + Number(r.ready_sessions), 0);
    const opened = own.reduce((a, r) => a + Number(r.opened_sessions), 0);
    assert.equal(Number(widget[4]), ready > 0 ? Math.round((opened / ready) * 1000) / 1000 : 0);
    assert.ok(Number(widget[4]) <= 1);
  }
  // Visitors per day: distinct across widgets (the fixture's v0 is on w0 and w1 on 2025-06-01).
  const visitors = await panel('purechat_visitors');
  const byDay = rows('analytics_purechat_visitors_daily').filter((r) => String(r.day) < '2025-06-03');
  assert.deepEqual(
    visitors.rows.map((r) => [new Date(Number(r[0]) * 1000).toISOString().slice(0, 10), Number(r[1])]),
    byDay.map((r) => [r.day, r.visitors]),
  );
  const perWidget = rows('analytics_purechat_daily')
    .filter((r) => r.day === '2025-06-01')
    .reduce((a, r) => a + Number(r.visitors), 0);
  assert.equal(Number(visitors.rows[0]?.[1]), perWidget - 1, 'the visitor on two widgets counts once');
});

test('a range inside hours: every panel covers the same whole hours; a moving `to` shares one answer', async () => {
  // 08:30–10:15 covers 08:00–11:00 for the hourly tiles and the exact-time panels alike.
  const query = 'from=2025-06-01T08:30:00Z&to=2025-06-01T10:15:00Z';
  const from = Date.UTC(2025, 5, 1, 8);
  const to = Date.UTC(2025, 5, 1, 11);
  const latestConversation = new Map<string, Record<string, unknown> | null>();
  for (const r of records.filter((x) => x.topic === 'freshchat.conversations'))
    latestConversation.set(r.key, r.value);
  const created = [...latestConversation.values()].filter(
    (v): v is Record<string, unknown> =>
      v !== null && (v.created_time as number) >= from && (v.created_time as number) < to,
  );
  assert.ok(created.length > 0);
  assert.equal(Number((await panel('conversations_opened', query)).rows[0]?.[0]), created.length);
  const byChannel = await panel('response_by_channel', query);
  assert.equal(
    byChannel.rows.reduce((a, r) => a + Number(r[1]), 0),
    created.length,
  );
  const hourly = await panel('conversations_hourly', query);
  assert.equal(
    hourly.rows.reduce((a, r) => a + Number(r[1]), 0),
    created.length,
  );
  assert.deepEqual(hourly.range, { from: '2025-06-01T08:00:00.000Z', to: '2025-06-01T10:59:59.000Z' });
  const before = dashboard.queries.queries;
  await panel('conversations_opened', 'from=2025-06-01T08:31:00Z&to=2025-06-01T10:47:13Z');
  assert.equal(dashboard.queries.queries - before, 0, 'the same hours: the cached answer');
});

test('thirty viewers asking at once cost one ClickHouse query', async () => {
  const query = 'from=2025-05-30T00:00:00Z&to=2025-06-04T00:00:00Z';
  const before = dashboard.queries.queries;
  const answers = await Promise.all(Array.from({ length: 30 }, () => panel('messages', query)));
  assert.equal(dashboard.queries.queries - before, 1);
  assert.ok(answers.every((a) => JSON.stringify(a.rows) === JSON.stringify(answers[0]?.rows)));
});

test('bad ranges are 400 naming the parameter; a missing view is 503 VIEWS_MISSING', async () => {
  for (const [query, field] of [
    ['range=1y', 'range'],
    ['from=2025-06-01&to=nope', 'to'],
    ['from=2025-06-02T00:00:00Z&to=2025-06-01T00:00:00Z', 'from'],
  ]) {
    const response = await fetch(`${dashboard.url}/api/panels/messages?${query}`);
    assert.equal(response.status, 400, query);
    const body = (await response.json()) as { error: { code: string; details: { field: string } } };
    assert.equal(body.error.code, 'BAD_RANGE');
    assert.equal(body.error.details.field, field, query);
  }
  await service.command(`DROP TABLE ${quoteIdent(database)}.analytics_purechat_visitors_daily`);
  const response = await fetch(`${dashboard.url}/api/panels/purechat_visitors?range=7d`);
  assert.equal(response.status, 503);
  assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'VIEWS_MISSING');
});
