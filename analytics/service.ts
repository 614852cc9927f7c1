/**
 * Starting the dashboard as one part: migrate the views (as the writer user), connect the
 * read-only queries, serve the page. Used by `chatstream dashboard` and `npm start`.
 */
import { ClickHouseService } from '../consumers/sinks/clickhouse/service.ts';
import { ServiceError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { CoreConfig } from '../core/settings.ts';
import type { DashboardSettings } from './config.ts';
import { startDashboard } from './dashboard.ts';
import { type MetricsReader, PipelineHealth } from './health.ts';
import { migrateAnalytics } from './migrate.ts';
import { DashboardQueries } from './queries.ts';

export interface RunningDashboard {
  url: string;
  queries: DashboardQueries;
  close(): Promise<void>;
}

export async function runDashboard(options: {
  config: CoreConfig & { dashboard: DashboardSettings };
  log: Logger;
  metrics: MetricsReader;
  port?: number;
}): Promise<RunningDashboard> {
  const { config, log } = options;
  const writer = new ClickHouseService(config);
  try {
    await migrateAnalytics({
      service: writer,
      database: config.clickhouse.database,
      topicPrefix: config.kafka.topicPrefix,
      log,
    });
  } finally {
    await writer.close();
  }
  const queries = new DashboardQueries(config, log, config.dashboard.cacheSeconds);
  await queries.connect();
  const health = new PipelineHealth(options.metrics, config.dashboard.cacheSeconds);
  const port = options.port ?? config.dashboard.port;
  try {
    const server = await startDashboard({ config, queries, health, log, port });
    log.info('dashboard listening', { url: server.url, readonly: queries.mode });
    return {
      url: server.url,
      queries,
      close: async () => {
        await server.close(5_000);
        await queries.close();
      },
    };
  } catch (error) {
    await queries.close();
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new ServiceError('dashboard', `port ${config.dashboard.host}:${port} is taken`, {
        code: 'PORT_TAKEN',
        hint: 'set CHATSTREAM_DASHBOARD_PORT to a free port (0 picks one)',
      });
    throw error;
  }
}
