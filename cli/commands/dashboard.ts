/**
 * `chatstream dashboard` (the live analytics page; also a part of `npm start`),
 * `chatstream analytics migrate` (create or update the analytics views) and
 * `chatstream analytics grafana` (write the Grafana dashboard generated from the same panels).
 */
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { GRAFANA_DASHBOARD_PATH, grafanaDashboardJson } from '../../analytics/grafana.ts';
import { scrapeUrls } from '../../analytics/health.ts';
import { migrateAnalytics } from '../../analytics/migrate.ts';
import { runDashboard } from '../../analytics/service.ts';
import { ClickHouseService } from '../../consumers/sinks/clickhouse/service.ts';
import { EXIT } from '../../core/errors.ts';
import { type Command, intFlag } from '../command.ts';

export const dashboardCommand: Command = {
  path: ['dashboard'],
  summary: 'Serve the live analytics dashboard (creates or updates the views first); prints its URL.',
  details:
    'Queries ClickHouse as CHATSTREAM_CLICKHOUSE_READONLY_USER with the fixed panel queries, shares each answer for\nCHATSTREAM_DASHBOARD_CACHE_SECONDS, and shows pipeline health read from CHATSTREAM_DASHBOARD_METRICS_URLS.',
  options: {
    port: { type: 'string', description: 'Port (default: CHATSTREAM_DASHBOARD_PORT); 0 picks a free one.' },
  },
  async run(ctx) {
    const { config } = ctx;
    const port = intFlag(ctx, 'port', config.dashboard.port);
    const dashboard = await runDashboard({
      config,
      log: ctx.log.child('dashboard'),
      metrics: scrapeUrls(config.dashboard.metricsUrls),
      port,
    });
    ctx.out(`Dashboard: ${dashboard.url}/`);
    await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
    await dashboard.close();
    return EXIT.ok;
  },
};

export const analyticsCommands: Command[] = [
  {
    path: ['analytics', 'migrate'],
    summary: 'Create the analytics views, or re-create those whose definition changed (idempotent).',
    async run(ctx) {
      const service = new ClickHouseService(ctx.config);
      try {
        const report = await migrateAnalytics({
          service,
          database: ctx.config.clickhouse.database,
          topicPrefix: ctx.config.kafka.topicPrefix,
          log: ctx.log.child('analytics'),
        });
        ctx.out(
          `views created or updated: ${report.viewsCreated.length}, unchanged: ${report.viewsUnchanged.length}; source tables created: ${report.sourcesCreated.length}`,
        );
      } finally {
        await service.close();
      }
      return EXIT.ok;
    },
  },
  {
    path: ['analytics', 'grafana'],
    summary: 'Write the Grafana dashboard generated from the panel definitions (--check: exit 1 when stale).',
    options: {
      check: {
        type: 'boolean',
        description: 'Do not write; exit 1 when the file differs from the generated one.',
      },
    },
    async run(ctx) {
      const text = grafanaDashboardJson();
      if (ctx.flags.check) {
        let current = '';
        try {
          current = readFileSync(GRAFANA_DASHBOARD_PATH, 'utf8');
        } catch {}
        ctx.out(current === text ? 'up to date' : `stale: run "chatstream analytics grafana"`);
        return current === text ? EXIT.ok : EXIT.internal;
      }
      writeFileSync(GRAFANA_DASHBOARD_PATH, text);
      ctx.out(`wrote ${GRAFANA_DASHBOARD_PATH}`);
      return EXIT.ok;
    },
  },
];
