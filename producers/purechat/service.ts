/**
 * `chatstream purechat collect`: the collector as a service — its own SourceRunner (source
 * `purechat-collector`), the event routes of collector.ts, the snippet, the demo page,
 * `/healthz` and `/metrics`, on the shared HTTP server. An event request is answered 2xx only
 * after its records are committed in Kafka; close() drains the requests in flight.
 */
import type { Registry } from 'prom-client';
import { ServiceError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import { METRICS_PATH } from '../../core/metrics.ts';
import { withAdmin } from '../../kafka/client.ts';
import { ensureDeadLetterTopic } from '../../kafka/dead-letters.ts';
import { kafkaProbe } from '../../kafka/probe.ts';
import { kindOf } from '../../schemas/catalog.ts';
import { HEALTHZ_PATH, type HttpResponse, type Route } from '../http/router.ts';
import { type HttpService, startHttpServer } from '../http/server.ts';
import { SourceRunner } from '../runtime/runner.ts';
import { demoPage, demoWidget, snippetAsset } from './assets.ts';
import { corsHeaders, createCollectorRoutes, EVENTS_PATH } from './collector.ts';
import { badRowsTopicOf, checkPurechatConfig, type PurechatConfig, piiHashKeyOf } from './config.ts';
import { collectorCounters } from './metrics.ts';

export const PURECHAT_KINDS = ['purechat.events', 'purechat.visitors', 'purechat.widget_settings'].map(
  kindOf,
);
export const SNIPPET_PATH = '/v1/snippet.js';
export const DEMO_PATH = '/demo/';

export interface CollectorServiceOptions {
  config: PurechatConfig;
  log: Logger;
  metrics: Registry;
  port?: number;
  /** Serve the demo page whatever PURECHAT_DEMO says (`npm start` does). */
  demo?: boolean;
}

/** How long a request waits for Kafka before it is answered 503 (the browser sends it again). */
const WRITE_TIMEOUT_MS = 5_000;

export interface CollectorService {
  /** Base URL (PURECHAT_PUBLIC_URL when set). */
  url: string;
  eventsUrl: string;
  snippetUrl: string;
  /** Undefined when PURECHAT_DEMO=false. */
  demoUrl?: string;
  runner: SourceRunner;
  /** Rejects when a fatal error stopped the runner (the process should exit with it). */
  failed: Promise<never>;
  close(): Promise<void>;
}

const asset = async (load: () => Promise<{ body: Buffer; contentType: string }>): Promise<HttpResponse> => {
  const { body, contentType } = await load();
  return {
    status: 200,
    body,
    headers: { 'Content-Type': contentType, 'Cache-Control': 'public, max-age=300' },
  };
};

function pageRoutes(config: PurechatConfig, demo: boolean, collectorUrl: () => string): Route[] {
  const routes: Route[] = [
    {
      method: 'GET',
      path: SNIPPET_PATH,
      handler: async () => {
        const response = await asset(snippetAsset);
        return { ...response, headers: { ...response.headers, 'Access-Control-Allow-Origin': '*' } };
      },
    },
  ];
  if (!demo) return routes;
  const page = () =>
    asset(() => demoPage({ widgetId: config.purechat.demoWidgetId, collector: collectorUrl() }));
  routes.push(
    { method: 'GET', path: '/', handler: async () => ({ status: 302, headers: { Location: DEMO_PATH } }) },
    { method: 'GET', path: DEMO_PATH, handler: page },
    {
      method: 'GET',
      path: '/demo',
      handler: async () => ({ status: 302, headers: { Location: DEMO_PATH } }),
    },
    { method: 'GET', path: '/demo/widget.js', handler: () => asset(demoWidget) },
  );
  return routes;
}

export async function startCollector(options: CollectorServiceOptions): Promise<CollectorService> {
  const { config, log, metrics } = options;
  const p = config.purechat;
  checkPurechatConfig(config); // a ConfigError before anything starts
  const hashKey = piiHashKeyOf(config);
  const demo = options.demo ?? p.demo;
  if (p.allowedOrigins.length === 0)
    log.info(
      'PURECHAT_ALLOWED_ORIGINS is not set: only pages served by the collector itself may send events',
    );
  if (p.widgetIds.length === 0)
    log.warn('PURECHAT_WIDGET_IDS is not set: events of any widget id are accepted');
  const runner = new SourceRunner({
    config,
    name: 'purechat-collector',
    kinds: PURECHAT_KINDS,
    contract: p.contract,
    log,
    metrics,
    // No cursors to commit: one produce round trip per batch keeps answers fast; a batch sent
    // twice after a failure repeats events, which their ids make count once downstream.
    delivery: 'idempotent',
    // A browser should hear 503 within seconds when Kafka is away, and see it served again
    // soon after Kafka is back.
    stallMs: WRITE_TIMEOUT_MS,
    retryMaxMs: 5_000,
  });
  const probe = kafkaProbe(config);
  await runner.start();
  const badRowsTopic = badRowsTopicOf(config);
  let server: HttpService;
  try {
    await withAdmin(config, (admin) => ensureDeadLetterTopic(admin, config, badRowsTopic));
    let baseUrl = '';
    server = await startHttpServer({
      host: p.host,
      port: options.port ?? p.port,
      maxBodyBytes: p.maxRequestBytes,
      log,
      errorHeaders: (req) => (req.url?.startsWith(EVENTS_PATH) ? corsHeaders(req.headers.origin) : {}),
      routes: [
        ...createCollectorRoutes({
          rules: {
            maxEventBytes: p.maxEventBytes,
            maxEvents: p.maxEventsPerRequest,
            widgetIds: p.widgetIds.length > 0 ? new Set(p.widgetIds) : undefined,
            contract: p.contract,
            extraNames: new Set(),
            maxExtraNames: p.maxExtraFields,
          },
          pii: { email: p.piiEmail, phone: p.piiPhone, hashKey },
          allowedOrigins: p.allowedOrigins,
          publicOrigin: p.publicUrl ? new URL(p.publicUrl).origin : undefined,
          rateLimitPerMinute: p.rateLimitPerMinute,
          trustProxy: p.trustProxy,
          badRowsTopic,
          write: (page) => runner.writePage(page, WRITE_TIMEOUT_MS),
          counters: collectorCounters(metrics),
          log,
        }),
        ...pageRoutes(config, demo, () => baseUrl),
        {
          method: 'GET',
          path: HEALTHZ_PATH,
          handler: async () => {
            // The runner knows of an outage only when it writes; the probe also when idle.
            const health = runner.health();
            const unreachable = health.ok ? await probe.check() : undefined;
            const ok = health.ok && !unreachable;
            return {
              status: ok ? 200 : 503,
              body: { status: ok ? 'ok' : 'unhealthy', ...health, kafka: unreachable ?? health.kafka },
            };
          },
        },
        {
          method: 'GET',
          path: METRICS_PATH,
          handler: async () => ({
            status: 200,
            body: await metrics.metrics(),
            headers: { 'Content-Type': metrics.contentType },
          }),
        },
      ],
    });
    baseUrl = (p.publicUrl ?? server.url).replace(/\/+$/, '');
  } catch (error) {
    await probe.close();
    await runner.stop();
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new ServiceError('purechat collector', `port ${p.host}:${options.port ?? p.port} is taken`, {
        code: 'PORT_TAKEN',
        hint: 'set PURECHAT_PORT to a free port',
      });
    throw error;
  }
  const url = (p.publicUrl ?? server.url).replace(/\/+$/, '');
  log.info('purechat collector listening', { url: `${url}${EVENTS_PATH}` });
  const failed = new Promise<never>((_, reject) => runner.onFatal(reject));
  failed.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection
  return {
    url,
    eventsUrl: `${url}${EVENTS_PATH}`,
    snippetUrl: `${url}${SNIPPET_PATH}`,
    demoUrl: demo ? `${url}${DEMO_PATH}` : undefined,
    runner,
    failed,
    async close() {
      await server.close(10_000);
      await Promise.all([runner.stop(), probe.close()]);
    },
  };
}
