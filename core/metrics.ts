/**
 * Prometheus metrics (prom-client) and the small HTTP server every long-running component
 * exposes: `GET /metrics` (the text exposition format) and `GET /health` (JSON, 200 when
 * healthy, else 503). Each component registers its metrics on a registry of its own, never the
 * global one, so several components (and tests) can run in one process.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { ServiceError } from './errors.ts';

/** The paths every metrics server answers (docker-compose health checks and Prometheus use them). */
export const METRICS_PATH = '/metrics';
export const HEALTH_PATH = '/health';

/** A registry with Node's process metrics (memory, CPU, event loop, GC) registered on it. */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

export interface Health {
  ok: boolean;
  [key: string]: unknown;
}

export interface ServeOptions {
  /** Port to listen on; 0 picks a free one (read it from `server.address()`). */
  port: number;
  host: string;
  /** The setting (or flag) that chose the port, named when it is taken, e.g. CHATSTREAM_SINK_METRICS_PORT. */
  setting: string;
  /** Answers GET /health; healthy when omitted. */
  health?: () => Health;
}

async function answer(
  registry: Registry,
  health: () => Health,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path !== METRICS_PATH && path !== HEALTH_PATH) {
    res.writeHead(404).end();
  } else if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD' }).end();
  } else if (path === METRICS_PATH) {
    const text = await registry.metrics();
    res.writeHead(200, { 'Content-Type': registry.contentType }).end(text);
  } else {
    const state = health();
    res
      .writeHead(state.ok ? 200 : 503, { 'Content-Type': 'application/json' })
      .end(JSON.stringify({ status: state.ok ? 'ok' : 'unhealthy', ...state }));
  }
}

/** Serves GET /metrics and GET /health on host:port; a taken port is a ServiceError naming the setting. */
export function serveMetrics(registry: Registry, options: ServeOptions): Promise<Server> {
  const { port, host, setting, health = () => ({ ok: true }) } = options;
  const server = createServer((req, res) => {
    answer(registry, health, req, res).catch((error: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`${error.message}\n`);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = `${host}:${port} (${setting})`;
      reject(
        error.code === 'EADDRINUSE'
          ? new ServiceError('metrics', `${where} is already in use by another process`, {
              code: 'PORT_IN_USE',
              hint: `stop the other process or set ${setting} to a free port`,
            })
          : new ServiceError('metrics', `cannot listen on ${where}: ${error.message}`, {
              code: 'LISTEN_FAILED',
              cause: error,
            }),
      );
    });
    server.listen(port, host, () => resolve(server));
  });
}
