/**
 * docker-compose.yml as the tests read it: parsed with its `${VAR}` interpolation resolved, and
 * what `chatstream start --no-stack` (the chatstream service) listens on, from the settings and
 * the route constants of the code, so the file is checked against the code and not a list.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { type Config, schema } from '../../cli/settings.ts';
import { loadSettings } from '../../core/config.ts';
import { HEALTH_PATH, METRICS_PATH } from '../../core/metrics.ts';
import { PROJECT_ROOT } from '../../core/settings.ts';
import { HEALTHZ_PATH } from '../../producers/http/router.ts';
import { EVENTS_PATH } from '../../producers/purechat/collector.ts';
import { DEMO_PATH, SNIPPET_PATH } from '../../producers/purechat/service.ts';

export const COMPOSE_FILE = join(PROJECT_ROOT, 'docker-compose.yml');

export interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  init?: boolean;
  environment?: Record<string, string | number | boolean>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
}

/** Compose's interpolation: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `$$`. */
export function interpolate(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g,
    (whole, name: string, colon: string, op: string, arg: string) => {
      if (whole === '$$') return '$';
      const value = env[name];
      const missing = value === undefined || (colon === ':' && value === '');
      if (!missing) return value as string;
      if (op === '?') throw new Error(`${name}: ${arg}`);
      return op === '-' ? arg : '';
    },
  );
}

/** The raw file (values as written, `${…}` kept). */
export function readComposeRaw(): ComposeFile {
  return parse(readFileSync(COMPOSE_FILE, 'utf8')) as ComposeFile;
}

/** Every string in a parsed value interpolated, as compose does (after parsing, so `${A:-}` is ''). */
function interpolateAll(value: unknown, env: NodeJS.ProcessEnv): unknown {
  if (typeof value === 'string') return interpolate(value, env);
  if (Array.isArray(value)) return value.map((v) => interpolateAll(v, env));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateAll(v, env)]));
  return value;
}

/** The file with every `${…}` resolved from env (a `:?` variable missing throws its message). */
export function readCompose(env: NodeJS.ProcessEnv): ComposeFile {
  return interpolateAll(readComposeRaw(), env) as ComposeFile;
}

/** The variables compose refuses to start without, with the values the tests set. */
export const REQUIRED = {
  CLICKHOUSE_PASSWORD: 'ch-secret',
  CLICKHOUSE_READONLY_PASSWORD: 'ro-secret',
  GRAFANA_ADMIN_PASSWORD: 'gf-secret',
};

/** A service of the file; the test fails when there is none. */
export function composeService(file: ComposeFile, name: string): ComposeService {
  const found = file.services[name];
  assert.ok(found, `docker-compose.yml has a ${name} service`);
  return found;
}

/** A service's environment, every value as the string the container sees. */
export const composeEnv = (s: ComposeService): Record<string, string> =>
  Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)]));

/** The configuration the chatstream service runs with. */
export const chatstreamConfig = (file: ComposeFile): Config =>
  loadSettings(schema, { env: composeEnv(composeService(file, 'chatstream')) });

/** Where a compose volume mounts a project folder: ./a/b → /c. */
export function mountOf(s: ComposeService, source: string): string | undefined {
  const found = (s.volumes ?? []).find((v) => v.split(':')[0]?.replace(/^\.\//, '') === source);
  return found?.split(':')[1];
}

/** `"18090:8090"` → { host: 18090, container: 8090 }. */
export function parsePort(mapping: string): { host: number; container: number } {
  const match = /^(?:[\d.]+:)?(\d+):(\d+)(?:\/tcp)?$/.exec(mapping);
  if (!match) throw new Error(`unsupported port mapping ${JSON.stringify(mapping)}`);
  return { host: Number(match[1]), container: Number(match[2]) };
}

/** The URLs a health check command calls. */
export function healthUrls(test: string[]): URL[] {
  return [...test.join(' ').matchAll(/https?:\/\/[^\s'"`,)\]]+/g)].map((m) => new URL(m[0]));
}

export interface Listener {
  name: string;
  /** The setting that chooses the port. */
  setting: string;
  port: number;
  /** Paths served on this port. */
  paths: string[];
  health: string;
  /** Serves Prometheus metrics on METRICS_PATH. */
  metrics: boolean;
}

/** What `chatstream start --no-stack` listens on with this configuration. */
export function startListeners(config: Config): Listener[] {
  const metricsServer = { paths: [METRICS_PATH, HEALTH_PATH], health: HEALTH_PATH, metrics: true };
  return [
    {
      name: 'sink metrics',
      setting: 'CHATSTREAM_SINK_METRICS_PORT',
      port: config.sink.metricsPort,
      ...metricsServer,
    },
    {
      name: 'producer metrics',
      setting: 'CHATSTREAM_PRODUCER_METRICS_PORT',
      port: config.producer.metricsPort,
      ...metricsServer,
    },
    {
      name: 'Pure Chat collector',
      setting: 'PURECHAT_PORT',
      port: config.purechat.port,
      paths: [EVENTS_PATH, SNIPPET_PATH, DEMO_PATH, HEALTHZ_PATH, METRICS_PATH],
      health: HEALTHZ_PATH,
      // The same registry as the producer metrics: scraping both would count twice.
      metrics: false,
    },
    {
      name: 'dashboard',
      setting: 'CHATSTREAM_DASHBOARD_PORT',
      port: config.dashboard.port,
      paths: ['/', '/api/panels', '/api/health', HEALTHZ_PATH],
      health: HEALTHZ_PATH,
      metrics: false,
    },
    {
      name: 'Freshchat webhooks',
      setting: 'FRESHCHAT_WEBHOOK_PORT',
      port: config.freshchat.webhookPort,
      paths: [config.freshchat.webhookPath, HEALTHZ_PATH],
      health: HEALTHZ_PATH,
      metrics: false,
    },
  ];
}
