/**
 * The analytics views on the real ClickHouse (the shared stack's 18.16): a fixture with entity
 * updates, redeliveries, duplicate events and a tombstone is written through the real sink, and
 * every view returns exactly what test/helpers/analytics-expected.ts computes from the records.
 * Also: the migration creates the source tables the sink has not created yet, leaves unchanged
 * views alone and re-creates a view whose definition changed.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { migrateAnalytics, VERSIONS_TABLE } from '../../analytics/migrate.ts';
import { sources } from '../../analytics/sources.ts';
import { VIEWS } from '../../analytics/views.ts';
import { loadConfig } from '../../cli/settings.ts';
import { quoteIdent, tableName } from '../../consumers/sinks/clickhouse/schema.ts';
import { ClickHouseService } from '../../consumers/sinks/clickhouse/service.ts';
import { ClickHouseSink } from '../../consumers/sinks/clickhouse/sink.ts';
import { createLogger } from '../../core/log.ts';
import { expectedViews } from '../helpers/analytics-expected.ts';
import { fixture, writeFixture } from '../helpers/analytics-fixture.ts';
import { uniqueName } from '../helpers/names.ts';

const database = uniqueName('analytics_views');
const prefix = `${uniqueName('av')}.`;
const config = loadConfig({
  env: { ...process.env, CHATSTREAM_CLICKHOUSE_DATABASE: database, CHATSTREAM_KAFKA_TOPIC_PREFIX: prefix },
});
const log = createLogger('test.analytics');
const service = new ClickHouseService(config);
const db = quoteIdent(database);
const now = Math.floor(Date.now() / 1000) * 1000;

after(async () => {
  await service.command(`DROP DATABASE IF EXISTS ${db}`).catch(() => {});
  await service.close();
});

let firstMigration: Awaited<ReturnType<typeof migrateAnalytics>>;
before(async () => {
  // Before any record: the views need the source tables, which the migration creates.
  firstMigration = await migrateAnalytics({ service, database, topicPrefix: prefix, log });
  const sink = new ClickHouseSink(config, log);
  await sink.connect();
  try {
    await writeFixture(sink, prefix, fixture(now));
  } finally {
    await sink.close();
  }
});

/** The view's rows with each value of the type the expected row has (JSON gives 64-bit numbers as text). */
function normalize(rows: Record<string, unknown>[], expected: Record<string, unknown>[]) {
  const numeric = (k: string) => expected.some((row) => typeof row[k] === 'number');
  return rows
    .map((row) =>
      Object.fromEntries(
        Object.entries(row).map(([k, v]) => [k, v === null ? null : numeric(k) ? Number(v) : v]),
      ),
    )
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

test('the first migration creates the missing source tables and every view', () => {
  assert.equal(firstMigration.sourcesCreated.length, 6);
  assert.deepEqual(
    firstMigration.viewsCreated,
    VIEWS.map((v) => v.name),
  );
});

test('every view returns the numbers computed independently from the fixture', async () => {
  const expected = expectedViews(fixture(now), now);
  assert.deepEqual(Object.keys(expected).sort(), VIEWS.map((v) => v.name).sort());
  for (const view of VIEWS) {
    const want = expected[view.name] as Record<string, unknown>[];
    assert.ok(want.length > 0, `${view.name}: the fixture gives it rows`);
    const rows = await service.rows<Record<string, unknown>>(`SELECT * FROM ${db}.${quoteIdent(view.name)}`);
    assert.deepEqual(normalize(rows, want), want, view.name);
  }
});

test('the backlog now equals the open conversations now (poll-only conversations included)', async () => {
  const [last] = await service.rows<{ backlog: string }>(
    `SELECT backlog FROM ${db}.analytics_backlog_hourly ORDER BY hour DESC LIMIT 1`,
  );
  const [open] = await service.rows<{ n: string }>(
    `SELECT sum(open) AS n FROM ${db}.analytics_open_conversations`,
  );
  // From the records: each conversation's last record, not deleted, with a created_time (c16 has
  // none: in neither), whose status is not resolved.
  const lastOf = new Map<string, Record<string, unknown> | null>();
  for (const r of fixture(now).filter((x) => x.topic === 'freshchat.conversations'))
    lastOf.set(r.key, r.value);
  const openNow = [...lastOf.values()].filter(
    (v) => v && v.created_time !== null && v.status !== 'resolved',
  ).length;
  assert.ok(lastOf.get('c16'), 'the fixture has an open conversation without created_time');
  const [withoutCreated] = await service.rows<{ n: string }>(
    `SELECT count() AS n FROM ${sources(database, prefix).conversations} WHERE created_time IS NULL AND ifNull(status, '') != 'resolved'`,
  );
  assert.equal(Number(withoutCreated?.n), 1, 'c16 reached ClickHouse: open, with no created_time');
  assert.equal(Number(open?.n), openNow);
  assert.equal(Number(last?.backlog), openNow);
});

test('private notes are not responses; poll-only resolutions have a resolution time', async () => {
  const rows = await service.rows<{ conversation_id: string; fr: string | null; res: string | null }>(
    `SELECT conversation_id, first_response_seconds AS fr, resolution_seconds AS res FROM ${db}.analytics_conversation_times WHERE conversation_id IN ('c0', 'c2', 'c13', 'c14')`,
  );
  const by = new Map(rows.map((r) => [r.conversation_id, r]));
  assert.equal(by.get('c0')?.fr, null, 'c0 has only a user message and a private note');
  assert.equal(Number(by.get('c2')?.fr), 2 * 3 * 60, "c2's first normal agent reply, not its earlier note");
  assert.equal(Number(by.get('c13')?.res), 45 * 60, 'polled resolved: at its updated_time');
  assert.equal(by.get('c14')?.res, null, 'polled reopened: the implied resolution has no time');
});

test('duplicates and updates are counted once: spot checks against the raw tables', async () => {
  const [raw] = await service.rows<{ n: string }>(
    `SELECT count() AS n FROM ${db}.${quoteIdent(tableName(`${prefix}freshchat.messages`))}`,
  );
  const [viewed] = await service.rows<{ n: string }>(
    `SELECT sum(messages) AS n FROM ${db}.analytics_messages_hourly`,
  );
  const messages = new Set(
    fixture(now)
      .filter((r) => r.topic === 'freshchat.messages')
      .map((r) => r.key),
  );
  assert.ok(Number(raw?.n) > messages.size, 'the raw table holds the redelivered messages');
  assert.equal(Number(viewed?.n), messages.size);
});

test('migrating again changes nothing; a changed definition is re-created', async () => {
  const again = await migrateAnalytics({ service, database, topicPrefix: prefix, log });
  assert.deepEqual(again.viewsCreated, []);
  assert.deepEqual(again.sourcesCreated, []);
  // As if an older release had created this view from another definition.
  await service.insert(`${db}.${VERSIONS_TABLE}`, [
    { name: 'analytics_messages_hourly', hash: 'an older definition', version: Date.now() },
  ]);
  const migrated = await migrateAnalytics({ service, database, topicPrefix: prefix, log });
  assert.deepEqual(migrated.viewsCreated, ['analytics_messages_hourly']);
  const [row] = await service.rows<{ n: string }>(`SELECT count() AS n FROM ${db}.analytics_messages_hourly`);
  assert.ok(Number(row?.n) > 0);
});

test('three migrations at once on a fresh database all succeed and leave every view', async () => {
  const fresh = uniqueName('analytics_race');
  const freshPrefix = `${uniqueName('ar')}.`;
  const services = [0, 1, 2].map(() => new ClickHouseService(config));
  try {
    const reports = await Promise.all(
      services.map((s) => migrateAnalytics({ service: s, database: fresh, topicPrefix: freshPrefix, log })),
    );
    for (const report of reports)
      assert.deepEqual(
        [...report.viewsCreated, ...report.viewsUnchanged].sort(),
        VIEWS.map((v) => v.name).sort(),
      );
    const [names] = await service.rows<{ n: string }>(
      `SELECT count() AS n FROM system.tables WHERE database = '${fresh}' AND name IN (${VIEWS.map((v) => `'${v.name}'`).join(', ')})`,
    );
    assert.equal(Number(names?.n), VIEWS.length);
    for (const view of VIEWS)
      await service.rows(`SELECT * FROM ${quoteIdent(fresh)}.${quoteIdent(view.name)} LIMIT 1`);
    const again = await migrateAnalytics({ service, database: fresh, topicPrefix: freshPrefix, log });
    assert.deepEqual(again.viewsCreated, [], 'the hashes the three stored match the views');
  } finally {
    await service.command(`DROP DATABASE IF EXISTS ${quoteIdent(fresh)}`).catch(() => undefined);
    await Promise.all(services.map((s) => s.close()));
  }
});

test('Pure Chat open rate counts sessions, at most 100 %, though expand fires on every open', async () => {
  const rows = await service.rows<{ hour: string; ready_sessions: string; opened_sessions: string }>(
    `SELECT hour, ready_sessions, opened_sessions FROM ${db}.analytics_purechat_hourly WHERE widget_id = 'w1' AND toDate(hour) = '2025-06-01' ORDER BY hour`,
  );
  const at = (h: string) => rows.find((r) => r.hour === `2025-06-01 ${h}:00:00`);
  // Session 9 loaded the chat box once at 11:00 and opened it three times (once more at 12:10).
  assert.deepEqual([Number(at('11')?.ready_sessions), Number(at('11')?.opened_sessions)], [1, 1]);
  assert.deepEqual([Number(at('12')?.ready_sessions), Number(at('12')?.opened_sessions)], [0, 0]);
  const [rate] = await service.rows<{ max: number }>(
    `SELECT max(open_rate) AS max FROM ${db}.analytics_purechat_daily`,
  );
  assert.ok(Number(rate?.max) <= 1);
});

test('visitors per day are distinct across widgets: a visitor on two widgets counts once', async () => {
  const perWidget = await service.rows<{ widget_id: string; visitors: string }>(
    `SELECT widget_id, visitors FROM ${db}.analytics_purechat_daily WHERE day = '2025-06-01'`,
  );
  const [total] = await service.rows<{ visitors: string }>(
    `SELECT visitors FROM ${db}.analytics_purechat_visitors_daily WHERE day = '2025-06-01'`,
  );
  // From the records: v0 (widgets w0 and w1), v1 and v2; session 3 has no visitor id.
  const day0 = fixture(now).filter(
    (r) => r.topic === 'purechat.events' && (r.value?.received_time as number) < Date.UTC(2025, 5, 2),
  );
  const distinct = new Set(day0.map((r) => r.value?.visitor_id).filter((v) => v));
  assert.equal(distinct.size, 3);
  assert.equal(Number(total?.visitors), distinct.size);
  assert.equal(
    perWidget.reduce((a, r) => a + Number(r.visitors), 0),
    distinct.size + 1,
    'per widget, v0 is on both',
  );
});
