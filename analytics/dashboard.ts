/**
 * The dashboard server (`chatstream dashboard`, and a part of `npm start`): the page and its
 * script, uPlot served from node_modules (no CDN), and a JSON API whose queries are the fixed
 * panel definitions (the browser sends a panel id and a time range, never SQL):
 *
 *   GET /                      the page
 *   GET /api/panels            panel definitions and the refresh period
 *   GET /api/panels/:id        ?range=1h|6h|24h|7d|30d or ?from=&to= → columns, rows, updated
 *   GET /api/health            pipeline health (lag, records/s, dead letters, cursor ages)
 *   GET /healthz               the server answers
 *
 * Bad input is a 400 naming the parameter; ClickHouse unreachable or the views missing is a 503
 * naming the cause; both with the JSON error body of producers/http.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../core/log.ts';
import type { CoreConfig } from '../core/settings.ts';
import { HttpError } from '../producers/http/errors.ts';
import type { HttpResponse, Route } from '../producers/http/router.ts';
import { type HttpService, startHttpServer } from '../producers/http/server.ts';
import type { DashboardSettings } from './config.ts';
import type { PipelineHealth } from './health.ts';
import { PANELS, panelById } from './panels.ts';
import type { DashboardQueries } from './queries.ts';
import { PRESETS, parseRange, RangeError400 } from './range.ts';

const PAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'page');
const requireHere = createRequire(import.meta.url);

interface Asset {
  type: string;
  body: Buffer;
}

function assets(): Map<string, Asset> {
  const file = (path: string, type: string): Asset => ({ type, body: readFileSync(path) });
  const uplot = (name: string) => requireHere.resolve(`uplot/dist/${name}`);
  return new Map([
    ['/', file(join(PAGE_DIR, 'index.html'), 'text/html; charset=utf-8')],
    ['/app.js', file(join(PAGE_DIR, 'app.js'), 'text/javascript; charset=utf-8')],
    ['/app.css', file(join(PAGE_DIR, 'app.css'), 'text/css; charset=utf-8')],
    ['/vendor/uPlot.iife.min.js', file(uplot('uPlot.iife.min.js'), 'text/javascript; charset=utf-8')],
    ['/vendor/uPlot.min.css', file(uplot('uPlot.min.css'), 'text/css; charset=utf-8')],
  ]);
}

/** A ClickHouse failure as the API answers it: 503 with what is wrong. */
function unavailable(error: unknown): HttpError {
  const message = (error as Error).message ?? String(error);
  if (/Code: 60\b|UNKNOWN_TABLE|doesn't exist/.test(message))
    return new HttpError(
      503,
      'VIEWS_MISSING',
      'The analytics views do not exist yet: run "chatstream analytics migrate" (the dashboard does it at start)',
    );
  return new HttpError(
    503,
    'CLICKHOUSE_UNAVAILABLE',
    `ClickHouse could not answer: ${message.split('\n')[0]}`,
  );
}

export interface DashboardOptions {
  config: CoreConfig & { dashboard: DashboardSettings };
  queries: DashboardQueries;
  health: PipelineHealth;
  log: Logger;
  /** Overrides CHATSTREAM_DASHBOARD_PORT (tests, --port). */
  port?: number;
}

export function dashboardRoutes(options: Omit<DashboardOptions, 'log' | 'port'>): Route[] {
  const { config, queries, health } = options;
  const files = assets();
  const noStore = { 'Cache-Control': 'no-store' };
  const routes: Route[] = [...files].map(([path, asset]) => ({
    method: 'GET',
    path,
    handler: async (): Promise<HttpResponse> => ({
      status: 200,
      body: asset.body,
      headers: { 'Content-Type': asset.type, 'Cache-Control': 'no-cache' },
    }),
  }));
  routes.push(
    {
      method: 'GET',
      path: '/api/panels',
      handler: async () => ({
        status: 200,
        headers: noStore,
        body: {
          refreshSeconds: config.dashboard.refreshSeconds,
          ranges: Object.keys(PRESETS),
          panels: PANELS.map(({ sql: _sql, ...panel }) => panel),
        },
      }),
    },
    {
      method: 'GET',
      path: /\/api\/panels\/([A-Za-z0-9_]+)/,
      handler: async (req) => {
        const panel = panelById(req.params['1'] as string);
        if (!panel) throw new HttpError(404, 'UNKNOWN_PANEL', `No panel "${req.params['1']}"`);
        let range: ReturnType<typeof parseRange>;
        try {
          range = parseRange(req.query, Date.now(), Math.max(1000, config.dashboard.cacheSeconds * 1000));
        } catch (error) {
          if (error instanceof RangeError400)
            throw new HttpError(400, 'BAD_RANGE', `${error.field}: ${error.message}`, { field: error.field });
          throw error;
        }
        try {
          return { status: 200, headers: noStore, body: await queries.panel(panel, range) };
        } catch (error) {
          if (error instanceof HttpError) throw error; // DASHBOARD_BUSY
          throw unavailable(error);
        }
      },
    },
    {
      method: 'GET',
      path: '/api/health',
      handler: async () => ({ status: 200, headers: noStore, body: await health.read() }),
    },
    { method: 'GET', path: '/favicon.ico', handler: async () => ({ status: 204 }) },
    {
      method: 'GET',
      path: '/healthz',
      handler: async () => ({ status: 200, body: { status: 'ok', readonly: queries.mode } }),
    },
  );
  return routes;
}

export function startDashboard(options: DashboardOptions): Promise<HttpService> {
  const { config, log } = options;
  return startHttpServer({
    host: config.dashboard.host,
    port: options.port ?? config.dashboard.port,
    routes: dashboardRoutes(options),
    maxBodyBytes: 1024,
    log,
  });
}
