/**
 * The dashboard's queries: a ClickHouse client for the read-only user, and a short cache so that
 * every viewer asking the same panel and range within CHATSTREAM_DASHBOARD_CACHE_SECONDS shares
 * one query (also the one in flight). When ClickHouse does not know the read-only user (a stack
 * started before it existed), the writer's credentials are used with `readonly=2` on every
 * query, and a warning says so once.
 */
import { type ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { classify } from '../consumers/sinks/clickhouse/service.ts';
import type { Logger } from '../core/log.ts';
import type { CoreConfig } from '../core/settings.ts';
import { type Panel, renderPanelSql } from './panels.ts';
import { dateTimeLiteral, type TimeRange } from './range.ts';

export interface PanelResult {
  id: string;
  columns: string[];
  rows: unknown[][];
  /** When the query ran (ISO 8601). */
  updated: string;
  range: { from: string; to: string };
}

type Rows = Record<string, unknown>[];

/** Most answers kept at once. */
const MAX_CACHED = 1000;

function client(config: CoreConfig, user: string, password: string, readonly: boolean): ClickHouseClient {
  return createClient({
    url: config.clickhouse.url,
    username: user,
    password,
    request_timeout: 30_000,
    compression: { request: false, response: false },
    log: { level: ClickHouseLogLevel.OFF },
    clickhouse_settings: readonly ? { readonly: '2' } : {},
  });
}

/** A DateTime column's text ('YYYY-MM-DD hh:mm:ss[.fff]', UTC) → Unix seconds. */
const toSeconds = (v: unknown) => Date.parse(`${String(v).replace(' ', 'T')}Z`) / 1000;

export class DashboardQueries {
  private ch?: ClickHouseClient;
  private readonly cache = new Map<string, { at: number; result: Promise<PanelResult> }>();
  private readonly config: CoreConfig;
  private readonly log: Logger;
  private readonly cacheMs: number;
  /** Queries sent to ClickHouse (for tests and the bench: cached answers do not count). */
  queries = 0;
  /** How the dashboard reads: the read-only user, or the writer with readonly=2. */
  mode: 'readonly-user' | 'writer-readonly-setting' = 'readonly-user';

  constructor(config: CoreConfig, log: Logger, cacheSeconds: number) {
    this.config = config;
    this.log = log;
    this.cacheMs = cacheSeconds * 1000;
  }

  /** Connects as the read-only user (or falls back, saying why); ClickHouse errors are classified. */
  async connect(): Promise<void> {
    const { readonlyUser, readonlyPassword, user, password } = this.config.clickhouse;
    const reader = client(this.config, readonlyUser, readonlyPassword, false);
    try {
      const result = await reader.query({
        query: "SELECT value FROM system.settings WHERE name = 'readonly'",
        format: 'JSONEachRow',
      });
      const [row] = (await result.json()) as { value: string }[];
      if (row?.value === '0') {
        await reader.close();
        throw new Error(`${readonlyUser} is not read-only (its profile has readonly=0)`);
      }
      this.ch = reader;
      this.mode = 'readonly-user';
      return;
    } catch (error) {
      await reader.close().catch(() => undefined);
      const classified = classify(error);
      if (classified.name === 'RetriableError' && !/not read-only/.test((error as Error).message))
        throw classified; // ClickHouse unreachable: not a reason to use other credentials
      this.log.warn(
        `the read-only ClickHouse user "${readonlyUser}" cannot be used; querying as "${user}" with readonly=2 on every query`,
        {
          reason: (error as Error).message.split('\n')[0],
          fix: 'restart the local stack (it writes the user into users.xml) or create the user with a readonly profile and set CHATSTREAM_CLICKHOUSE_READONLY_USER / _PASSWORD',
        },
      );
      this.ch = client(this.config, user, password, true);
      this.mode = 'writer-readonly-setting';
    }
  }

  /** Raw rows of a query (tests and the bench compare the page with the views through this). */
  async rows(sql: string): Promise<Rows> {
    if (!this.ch) throw new Error('DashboardQueries is not connected');
    this.queries += 1;
    try {
      const result = await this.ch.query({ query: sql, format: 'JSONEachRow' });
      return (await result.json()) as Rows;
    } catch (error) {
      throw classify(error);
    }
  }

  private async run(panel: Panel, range: TimeRange): Promise<PanelResult> {
    const sql = renderPanelSql(panel, {
      database: this.config.clickhouse.database,
      from: dateTimeLiteral(range.from),
      to: dateTimeLiteral(range.to),
    });
    const rows = await this.rows(sql);
    const columns = rows[0] ? Object.keys(rows[0]) : [];
    return {
      id: panel.id,
      columns,
      rows: rows.map((row) =>
        columns.map((c, i) => (panel.kind === 'timeseries' && i === 0 ? toSeconds(row[c]) : row[c])),
      ),
      updated: new Date().toISOString(),
      range: { from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString() },
    };
  }

  /** The panel's answer for the range: cached for cacheSeconds, shared while in flight. */
  panel(panel: Panel, range: TimeRange): Promise<PanelResult> {
    const now = Date.now();
    const key = `${panel.id}|${range.from}|${range.to}`;
    const hit = this.cache.get(key);
    if (hit && now - hit.at < this.cacheMs) return hit.result;
    for (const [k, entry] of this.cache) if (now - entry.at >= this.cacheMs) this.cache.delete(k);
    // Many distinct custom ranges within one period: forget the oldest rather than grow.
    while (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
    const result = this.run(panel, range);
    if (this.cacheMs > 0) {
      this.cache.set(key, { at: now, result });
      result.catch(() => this.cache.delete(key)); // a failure is not shared beyond its moment
    }
    return result;
  }

  async close(): Promise<void> {
    await this.ch?.close();
  }
}
