/**
 * The dashboard's queries: a ClickHouse client for the read-only user (analytics/reader.ts), and a
 * short cache so that every viewer asking the same panel and range within
 * CHATSTREAM_DASHBOARD_CACHE_SECONDS shares one query (also the one in flight). Ranges are
 * aligned to whole hours before they key the cache (the panels cover whole hours: panels.ts), so
 * a `to` that moves within the hour asks the same question. Each query is stopped by ClickHouse
 * after QUERY_SECONDS (`max_execution_time`), at most MAX_RUNNING distinct queries run at once,
 * and at most MAX_WAITING wait for a turn; beyond that the answer is 503 DASHBOARD_BUSY.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { classify } from '../consumers/sinks/clickhouse/service.ts';
import type { Logger } from '../core/log.ts';
import type { CoreConfig } from '../core/settings.ts';
import { HttpError } from '../producers/http/errors.ts';
import { type Panel, renderPanelSql } from './panels.ts';
import { alignToHours, dateTimeLiteral, type TimeRange } from './range.ts';
import { connectReader, type ReaderMode } from './reader.ts';

export interface PanelResult {
  id: string;
  columns: string[];
  rows: unknown[][];
  /** When the query ran (ISO 8601). */
  updated: string;
  /** The range the answer covers (whole hours). */
  range: { from: string; to: string };
}

type Rows = Record<string, unknown>[];

/** Most answers kept at once. */
const MAX_CACHED = 1000;
/** ClickHouse stops a dashboard query after this long (max_execution_time; 18.16 knows it). */
export const QUERY_SECONDS = 20;
/** Distinct queries running at once, and waiting for a turn. */
export const MAX_RUNNING = 4;
export const MAX_WAITING = 100;

/** At most `max` at once; a bounded queue behind them; past it a 503 the page retries later. */
class Limiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly max: number;
  private readonly maxWaiting: number;
  constructor(max: number, maxWaiting: number) {
    this.max = max;
    this.maxWaiting = maxWaiting;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) {
      if (this.waiting.length >= this.maxWaiting)
        throw new HttpError(
          503,
          'DASHBOARD_BUSY',
          `${this.max} queries are running and ${this.maxWaiting} waiting; try again shortly`,
        );
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running += 1;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}

/** A DateTime column's text ('YYYY-MM-DD hh:mm:ss[.fff]', UTC) → Unix seconds. */
const toSeconds = (v: unknown) => Date.parse(`${String(v).replace(' ', 'T')}Z`) / 1000;

export class DashboardQueries {
  private ch?: ClickHouseClient;
  private readonly cache = new Map<string, { at: number; result: Promise<PanelResult> }>();
  private readonly config: CoreConfig;
  private readonly log: Logger;
  private readonly cacheMs: number;
  private readonly limiter = new Limiter(MAX_RUNNING, MAX_WAITING);
  private settings: Record<string, number> = {};
  /** Queries sent to ClickHouse (for tests and the bench: cached answers do not count). */
  queries = 0;
  /** How the dashboard reads: the read-only user, or the writer with readonly=2. */
  mode: ReaderMode = 'readonly-user';

  constructor(config: CoreConfig, log: Logger, cacheSeconds: number) {
    this.config = config;
    this.log = log;
    this.cacheMs = cacheSeconds * 1000;
  }

  /** Connects as the read-only user (or, when it does not exist, the writer with readonly=2). */
  async connect(): Promise<void> {
    const { client, mode, settable } = await connectReader(this.config, this.log);
    this.ch = client;
    this.mode = mode;
    this.settings = settable ? { max_execution_time: QUERY_SECONDS } : {};
  }

  /** Raw rows of a query (tests and the bench compare the page with the views through this). */
  async rows(sql: string): Promise<Rows> {
    const ch = this.ch;
    if (!ch) throw new Error('DashboardQueries is not connected');
    return this.limiter.run(async () => {
      this.queries += 1;
      try {
        const result = await ch.query({
          query: sql,
          format: 'JSONEachRow',
          clickhouse_settings: this.settings,
        });
        return (await result.json()) as Rows;
      } catch (error) {
        throw classify(error);
      }
    });
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

  /** The panel's answer for the range (aligned to whole hours): cached for cacheSeconds, shared while in flight. */
  panel(panel: Panel, asked: TimeRange): Promise<PanelResult> {
    const range = alignToHours(asked);
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
