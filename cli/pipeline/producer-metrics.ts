/** The producers' Prometheus registry and its `/metrics` + `/health` endpoint (CHATSTREAM_PRODUCER_METRICS_*). */
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { createMetricsRegistry, serveMetrics } from '../../core/metrics.ts';
import type { Config } from '../settings.ts';

export async function serveProducerMetrics(config: Config): Promise<{ registry: Registry; server: Server }> {
  const registry = createMetricsRegistry();
  const server = await serveMetrics(registry, {
    port: config.producer.metricsPort,
    host: config.producer.metricsHost,
    setting: 'CHATSTREAM_PRODUCER_METRICS_PORT',
  });
  return { registry, server };
}
