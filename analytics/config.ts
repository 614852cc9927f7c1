/**
 * Settings of the dashboard (`dashboard` section; environment CHATSTREAM_DASHBOARD_*): where it
 * listens, how often the page refreshes, how long an answer is shared between viewers, and
 * where the standalone `chatstream dashboard` reads the pipeline's metrics. Its ClickHouse user
 * is CHATSTREAM_CLICKHOUSE_READONLY_USER (core settings: the local stack creates it).
 */
import { type Settings, setting } from '../core/config.ts';

export const dashboardSettings = {
  host: setting.string({
    default: '127.0.0.1',
    description: 'Address the dashboard listens on; `0.0.0.0` in a container.',
    example: '0.0.0.0',
  }),
  port: setting.int({
    default: 8088,
    min: 0,
    max: 65535,
    description: 'Port of the dashboard page and its JSON API; 0 picks a free one.',
  }),
  refreshSeconds: setting.int({
    default: 5,
    min: 1,
    max: 3600,
    description: 'How often the page asks for new numbers.',
  }),
  cacheSeconds: setting.int({
    default: 5,
    min: 0,
    max: 3600,
    description:
      'How long one answer per panel and time range is shared by every viewer (many viewers cost one query); 0 queries every time.',
  }),
  metricsUrls: setting.list({
    default: ['http://127.0.0.1:9464/metrics', 'http://127.0.0.1:9465/metrics'],
    description:
      'Prometheus `/metrics` URLs the standalone `chatstream dashboard` reads for pipeline health (the sink, the producers, the collector). `npm start` reads its own metrics instead.',
    example: 'http://sink:9464/metrics,http://producers:9465/metrics',
  }),
};

export type DashboardSettings = Settings<{ dashboard: typeof dashboardSettings }>['dashboard'];
