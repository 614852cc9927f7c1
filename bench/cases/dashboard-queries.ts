/**
 * Dashboard query latency: every panel's query (as the dashboard sends it, over the analytics
 * views over the `_dedup` views, cache off) on a database holding 1M messages, 100k
 * conversations, 200k conversation events and 200k Pure Chat events over the last 30 days, for
 * the "Last 30 days" range. The rows are generated in ClickHouse (INSERT … SELECT FROM numbers),
 * so loading is not what is measured. Also: 100 viewers asking at once with the cache on.
 */
import { randomBytes } from 'node:crypto';
import { migrateAnalytics } from '../../analytics/migrate.ts';
import { PANELS } from '../../analytics/panels.ts';
import { DashboardQueries } from '../../analytics/queries.ts';
import { sourceTable } from '../../analytics/sources.ts';
import type { Config } from '../../cli/settings.ts';
import { loadConfig } from '../../cli/settings.ts';
import { quoteIdent } from '../../consumers/sinks/clickhouse/schema.ts';
import { ClickHouseService } from '../../consumers/sinks/clickhouse/service.ts';
import { createLogger } from '../../core/log.ts';
import type { BenchCase, BenchRow } from '../types.ts';

const MESSAGES = 1_000_000;
const CONVERSATIONS = MESSAGES / 10;
const RUNS = 10;
const DAY = 86_400;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** INSERT … SELECT statements filling the source tables (`t0`: Unix seconds 30 days ago). */
function loadSql(db: string, prefix: string, t0: number): string[] {
  const t = (name: Parameters<typeof sourceTable>[1]) => `${db}.${quoteIdent(sourceTable(prefix, name))}`;
  const meta = (topic: string, key: string, time: string) =>
    `'${topic}' AS _topic, 0 AS _partition, number AS _offset, ${time} AS _timestamp, ${key} AS _key`;
  const conv = (n: string) => `toDateTime(${t0} + ${n} * ${Math.floor((30 * DAY) / CONVERSATIONS)}, 'UTC')`;
  return [
    `INSERT INTO ${t('agents')} (id, first_name, last_name, availability_status, is_deactivated, _topic, _partition, _offset, _timestamp, _key, _deleted)
     SELECT concat('a', toString(number)), concat('Agent', toString(number)), 'Bench', if(number % 3 = 0, 'UNAVAILABLE', 'AVAILABLE'), 0, ${meta('freshchat.agents', "concat('a', toString(number))", `toDateTime(${t0}, 'UTC')`)}, 0 FROM numbers(50)`,
    `INSERT INTO ${t('groups')} (id, name, _topic, _partition, _offset, _timestamp, _key, _deleted)
     SELECT concat('g', toString(number)), concat('Group ', toString(number)), ${meta('freshchat.groups', "concat('g', toString(number))", `toDateTime(${t0}, 'UTC')`)}, 0 FROM numbers(5)`,
    `INSERT INTO ${t('conversations')} (conversation_id, status, channel_id, created_time, updated_time, assigned_agent_id, assigned_group_id, _topic, _partition, _offset, _timestamp, _key, _deleted)
     SELECT concat('c', toString(number)), ['resolved', 'assigned', 'new'][number % 3 + 1], concat('ch', toString(number % 3)), ${conv('number')}, ${conv('number')},
       concat('a', toString(number % 50)), concat('g', toString(number % 5)), ${meta('freshchat.conversations', "concat('c', toString(number))", conv('number'))}, 0 FROM numbers(${CONVERSATIONS})`,
    `INSERT INTO ${t('messages')} (id, created_time, conversation_id, actor_type, actor_id, _topic, _partition, _offset, _timestamp, _key)
     SELECT concat('m', toString(number)), ${conv('intDiv(number, 10)')} + (number % 10) * 30, concat('c', toString(intDiv(number, 10))),
       if(number % 10 = 9, 'system', if(number % 2 = 0, 'user', 'agent')), concat('a', toString(intDiv(number, 10) % 50)),
       ${meta('freshchat.messages', "concat('m', toString(number))", `${conv('intDiv(number, 10)')} + (number % 10) * 30`)} FROM numbers(${MESSAGES})`,
    `INSERT INTO ${t('events')} (event_id, action, action_time, conversation_id, _topic, _partition, _offset, _timestamp, _key)
     SELECT concat('e', toString(number)), if(number % 2 = 0, 'conversation_assignment', 'conversation_resolution'),
       ${conv('intDiv(number, 2)')} + 60 + (number % 2) * 3600, concat('c', toString(intDiv(number, 2))),
       ${meta('freshchat.conversation_events', "concat('c', toString(intDiv(number, 2)))", `${conv('intDiv(number, 2)')} + 60`)} FROM numbers(${CONVERSATIONS * 2})`,
    `INSERT INTO ${t('purechat')} (event_id, name, session_id, visitor_id, widget_id, received_time, _topic, _partition, _offset, _timestamp, _key)
     SELECT concat('p', toString(number)), ['chatbox:ready', 'chatbox:expand', 'chat:start', 'chat:end', 'email:send'][number % 5 + 1],
       concat('s', toString(intDiv(number, 5))), concat('v', toString(intDiv(number, 15))), concat('w', toString(number % 4)),
       toDateTime(${t0} + number * ${Math.floor((30 * DAY) / 200_000)}, 'UTC'),
       ${meta('purechat.events', "concat('s', toString(intDiv(number, 5)))", `toDateTime(${t0} + number * ${Math.floor((30 * DAY) / 200_000)}, 'UTC')`)} FROM numbers(200000)`,
  ];
}

async function run(_base: Config): Promise<BenchRow[]> {
  const database = `bench_dashboard_${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const prefix = 'bench.';
  const config = loadConfig({
    env: { ...process.env, CHATSTREAM_CLICKHOUSE_DATABASE: database, CHATSTREAM_KAFKA_TOPIC_PREFIX: prefix },
  });
  const log = createLogger('bench.dashboard');
  const writer = new ClickHouseService(config);
  const rows: BenchRow[] = [];
  try {
    await migrateAnalytics({ service: writer, database, topicPrefix: prefix, log });
    const t0 = Math.floor(Date.now() / 1000) - 30 * DAY;
    for (const sql of loadSql(quoteIdent(database), prefix, t0)) await writer.command(sql);
    const queries = new DashboardQueries(config, log, 0);
    await queries.connect();
    const to = Date.now();
    const range = { from: to - 30 * DAY * 1000, to };
    for (const panel of PANELS) {
      const ms: number[] = [];
      await queries.panel(panel, range); // warm: marks and caches loaded
      for (let i = 0; i < RUNS; i++) {
        const started = performance.now();
        await queries.panel(panel, range);
        ms.push(performance.now() - started);
      }
      ms.sort((a, b) => a - b);
      rows.push({
        benchmark: `dashboard ${panel.id}`,
        records: RUNS,
        seconds: ms.reduce((a, b) => a + b, 0) / 1000,
        note: `p50 ${percentile(ms, 50).toFixed(0)} ms, p99 ${percentile(ms, 99).toFixed(0)} ms (${RUNS} runs; 1M messages, 30 days)`,
      });
    }
    await queries.close();
    // 100 viewers at once, cache on: one query per panel.
    const cached = new DashboardQueries(config, log, 5);
    await cached.connect();
    const panel = PANELS.find((p) => p.id === 'conversations_hourly') ?? (PANELS[0] as (typeof PANELS)[0]);
    const started = performance.now();
    await Promise.all(Array.from({ length: 100 }, () => cached.panel(panel, range)));
    const seconds = (performance.now() - started) / 1000;
    rows.push({
      benchmark: 'dashboard 100 viewers, cache on',
      records: 100,
      seconds,
      note: `${cached.queries} ClickHouse query for 100 answers (${panel.id})`,
    });
    await cached.close();
  } finally {
    await writer.command(`DROP DATABASE IF EXISTS ${quoteIdent(database)}`).catch(() => undefined);
    await writer.close();
  }
  return rows;
}

export const dashboardQueries: BenchCase = { name: 'dashboard-queries', run };
