/**
 * Creates and migrates the analytics views (`chatstream analytics migrate`, and the dashboard at
 * start). A VIEW can only be created over tables that exist, and the sink creates its tables
 * lazily (on a topic's first record), so the missing source tables and `_dedup` views are
 * created first, as the sink would. Each view's definition is hashed (SHA-256 of its SQL) into
 * `_chatstream_analytics_views`; a view whose hash differs, or that is missing, is dropped and
 * created again — so a changed definition reaches every database on the next start, on 18.16
 * (which has no CREATE OR REPLACE VIEW) and on current releases alike.
 */
import { createHash } from 'node:crypto';
import { quoteIdent, quoteString } from '../consumers/sinks/clickhouse/schema.ts';
import type { ClickHouseService } from '../consumers/sinks/clickhouse/service.ts';
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
    for (const sql of sourceDdl(database, topicPrefix, name, row?.v ?? '0')) await service.command(sql);
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
    await service.command(`DROP TABLE IF EXISTS ${db}.${quoteIdent(view.name)}`);
    await service.command(sql);
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
