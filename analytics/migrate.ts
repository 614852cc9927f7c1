/**
 * Creates and migrates the analytics views (`chatstream analytics migrate`, and the dashboard at
 * start). A VIEW can only be created over tables that exist, and the sink creates its tables
 * lazily (on a topic's first record), so the missing source tables and `_dedup` views are
 * created first, as the sink would. Each view's definition is hashed (SHA-256 of its SQL) into
 * `_chatstream_analytics_views`; a view whose hash differs, or that is missing, is dropped and
 * created again — so a changed definition reaches every database on the next start, on 18.16
 * (which has no CREATE OR REPLACE VIEW) and on current releases alike.
 *
 * Safe when several run at once (three `chatstream analytics migrate`, the dashboard of each
 * `npm start`) and while the sink swaps a `_dedup` view: every statement is IF [NOT] EXISTS, and a
 * step that still meets 57 TABLE_ALREADY_EXISTS or 60 UNKNOWN_TABLE (another migration or the sink
 * between our check and our statement) is tried again, at most RACE_ATTEMPTS times, after reading
 * the state again: a view someone else created meanwhile from the same definition is a success.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { quoteIdent, quoteString } from '../consumers/sinks/clickhouse/schema.ts';
import { type ClickHouseService, serverCode } from '../consumers/sinks/clickhouse/service.ts';
import type { Logger } from '../core/log.ts';
import { SOURCE_TOPICS, type SourceName, sourceDdl, sources, sourceTable } from './sources.ts';
import { createAnalyticsViewSql, VIEWS } from './views.ts';

export const VERSIONS_TABLE = '_chatstream_analytics_views';

export interface MigrationReport {
  /** Source tables (with their `_dedup` view) created because the sink had not yet. */
  sourcesCreated: string[];
  /** Views created or re-created (new or changed definition). */
  viewsCreated: string[];
  viewsUnchanged: string[];
}

export interface MigrateOptions {
  service: ClickHouseService;
  database: string;
  topicPrefix: string;
  log: Logger;
}

/** Tries of one step that races another migration or the sink. */
export const RACE_ATTEMPTS = 6;
/** 57 TABLE_ALREADY_EXISTS, 60 UNKNOWN_TABLE: another migration or the sink got there between. */
const RACE_CODES = new Set([57, 60]);
const raceCode = (error: unknown) =>
  serverCode(error) ?? serverCode((error as { cause?: unknown } | undefined)?.cause);

/**
 * Runs `step` until it succeeds or `done()` says the goal is reached anyway; only 57/60 are tried
 * again (back-off 100 ms … 1.6 s, with jitter), at most RACE_ATTEMPTS times; anything else throws.
 */
export async function raceSafe(step: () => Promise<void>, done: () => Promise<boolean>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await step();
      return;
    } catch (error) {
      if (!RACE_CODES.has(raceCode(error) ?? -1) || attempt >= RACE_ATTEMPTS) throw error;
      await sleep(100 * 2 ** (attempt - 1) * (0.5 + Math.random()));
      if (await done()) return;
    }
  }
}

const hashOf = (sql: string) => createHash('sha256').update(sql).digest('hex');

async function existing(service: ClickHouseService, database: string): Promise<Set<string>> {
  const rows = await service.rows<{ name: string }>(
    `SELECT name FROM system.tables WHERE database = ${quoteString(database)}`,
  );
  return new Set(rows.map((r) => r.name));
}

export async function migrateAnalytics(options: MigrateOptions): Promise<MigrationReport> {
  const { service, database, topicPrefix, log } = options;
  const db = quoteIdent(database);
  const [row] = await service.rows<{ v: string }>('SELECT version() AS v');
  await service.command(`CREATE DATABASE IF NOT EXISTS ${db}`);
  let tables = await existing(service, database);
  const report: MigrationReport = { sourcesCreated: [], viewsCreated: [], viewsUnchanged: [] };
  for (const name of Object.keys(SOURCE_TOPICS) as SourceName[]) {
    const table = sourceTable(topicPrefix, name);
    if (tables.has(`${table}_dedup`)) continue;
    await raceSafe(
      async () => {
        for (const sql of sourceDdl(database, topicPrefix, name, row?.v ?? '0')) await service.command(sql);
      },
      async () => (await existing(service, database)).has(`${table}_dedup`),
    );
    report.sourcesCreated.push(table);
  }
  await service.command(
    `CREATE TABLE IF NOT EXISTS ${db}.${VERSIONS_TABLE} (name String, hash String, version UInt64) ENGINE = ReplacingMergeTree(version) ORDER BY name`,
  );
  const stored = new Map(
    (
      await service.rows<{ name: string; hash: string }>(
        `SELECT name, argMax(hash, version) AS hash FROM ${db}.${VERSIONS_TABLE} GROUP BY name`,
      )
    ).map((r) => [r.name, r.hash]),
  );
  tables = await existing(service, database);
  const s = sources(database, topicPrefix);
  for (const view of VIEWS) {
    const sql = createAnalyticsViewSql(database, view, s);
    const hash = hashOf(sql);
    if (tables.has(view.name) && stored.get(view.name) === hash) {
      report.viewsUnchanged.push(view.name);
      continue;
    }
    // IF NOT EXISTS: a migration running beside this one may have created it after our DROP.
    const create = sql.replace(/^CREATE VIEW /, 'CREATE VIEW IF NOT EXISTS ');
    await raceSafe(
      async () => {
        await service.command(`DROP TABLE IF EXISTS ${db}.${quoteIdent(view.name)}`);
        await service.command(create);
      },
      async () => (await existing(service, database)).has(view.name),
    );
    await service.insert(`${db}.${VERSIONS_TABLE}`, [{ name: view.name, hash, version: Date.now() }]);
    report.viewsCreated.push(view.name);
  }
  log.info('analytics views ready', {
    database,
    created: report.viewsCreated.length,
    unchanged: report.viewsUnchanged.length,
    ...(report.sourcesCreated.length > 0 ? { sourcesCreated: report.sourcesCreated } : {}),
  });
  return report;
}
