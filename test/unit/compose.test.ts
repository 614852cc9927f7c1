/**
 * docker-compose.yml checked against the code (no Docker engine here to run it): the settings it
 * sets exist and parse, the ports it maps are ones the services listen on and clash with no local
 * stack, health checks and Prometheus call endpoints that exist, secrets have no fallbacks, the
 * Grafana provisioning loads every dashboard and the dashboards query metrics the code exports.
 * docker-compose itself validates the file when it is installed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { type Config, schema } from '../../cli/settings.ts';
import { sinkMetrics } from '../../consumers/sink-metrics.ts';
import { envName, loadSettings } from '../../core/config.ts';
import { METRICS_PATH } from '../../core/metrics.ts';
import { KAFKA_DEFAULT_VERSION, PROJECT_ROOT } from '../../core/settings.ts';
import { collectorCounters } from '../../producers/purechat/metrics.ts';
import { sourceMetrics } from '../../producers/runtime/metrics.ts';
import { which } from '../../stack/process.ts';
import {
  COMPOSE_FILE,
  type ComposeService,
  healthUrls,
  parsePort,
  readCompose,
  readComposeRaw,
  startListeners,
} from '../helpers/compose.ts';

/** The variables compose refuses to start without. */
const REQUIRED = {
  CLICKHOUSE_PASSWORD: 'ch-secret',
  CLICKHOUSE_READONLY_PASSWORD: 'ro-secret',
  GRAFANA_ADMIN_PASSWORD: 'gf-secret',
};
const compose = readCompose(REQUIRED);
const raw = readComposeRaw();
const service = (name: string): ComposeService => {
  const found = compose.services[name];
  assert.ok(found, `docker-compose.yml has a ${name} service`);
  return found;
};
const env = (s: ComposeService): Record<string, string> =>
  Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)]));
const OUR_PREFIXES = /^(CHATSTREAM|FRESHCHAT|PURECHAT)_/;

/** Every environment variable the settings catalogue reads (secrets also as <VAR>_FILE). */
function knownVariables(): Map<string, boolean> {
  const known = new Map<string, boolean>([['CHATSTREAM_CONFIG', false]]);
  for (const [section, specs] of Object.entries(schema))
    for (const [name, spec] of Object.entries(specs)) {
      known.set(envName(section, name, spec), Boolean(spec.secret));
      if (spec.secret) known.set(`${envName(section, name, spec)}_FILE`, false);
    }
  return known;
}

/** The configuration the chatstream service runs with. */
const chatstreamConfig = (): Config => loadSettings(schema, { env: env(service('chatstream')) });

/** The configuration of a local stack left running: every default. */
const localDefaults = (): Config => loadSettings(schema, { env: {} });

test('every CHATSTREAM_/FRESHCHAT_/PURECHAT_ variable compose sets is a setting, and the values parse', () => {
  const known = knownVariables();
  for (const [name, s] of Object.entries(compose.services))
    for (const variable of Object.keys(env(s)).filter((v) => OUR_PREFIXES.test(v)))
      assert.ok(
        known.has(variable),
        `${name}: ${variable} is not a chatstream setting (chatstream config docs)`,
      );
  const config = chatstreamConfig();
  assert.equal(config.clickhouse.password, REQUIRED.CLICKHOUSE_PASSWORD);
  assert.deepEqual(config.kafka.brokers, ['kafka:9092']);
  assert.equal(config.freshchat.apiKey, undefined, 'no API key by default: the simulator runs');
});

test('chatstream runs start --no-stack under an init, after Kafka, the registry and ClickHouse are healthy', () => {
  const chatstream = service('chatstream');
  assert.deepEqual(chatstream.command, ['start', '--no-stack']);
  assert.equal(chatstream.init, true, 'init: true, so docker stop is answered at once');
  for (const dependency of ['kafka', 'schema-registry', 'clickhouse'])
    assert.equal(chatstream.depends_on?.[dependency]?.condition, 'service_healthy', dependency);
  const config = chatstreamConfig();
  const kafka = service('kafka');
  const registry = service('schema-registry');
  assert.ok(config.kafka.brokers.every((b) => /^kafka:(\d+)$/.test(b)));
  assert.match(
    String(env(kafka).KAFKA_LISTENERS),
    new RegExp(`PLAINTEXT://:${config.kafka.brokers[0]?.split(':')[1]}`),
  );
  assert.equal(
    new URL(config.schemaRegistry.url).host,
    `schema-registry:${parsePort(registry.ports?.[0] ?? '').container}`,
  );
  assert.equal(new URL(config.clickhouse.url).host, 'clickhouse:8123');
  assert.equal(kafka.image, `apache/kafka:${KAFKA_DEFAULT_VERSION}`, 'the same Kafka as the local stack');
});

test("Kafka's CLUSTER_ID is in KRaft's format: 16 bytes, base64url, 22 characters", () => {
  const id = env(service('kafka')).CLUSTER_ID ?? '';
  assert.match(id, /^[A-Za-z0-9_-]{22}$/, `CLUSTER_ID ${JSON.stringify(id)}`);
  assert.equal(Buffer.from(id, 'base64url').length, 16);
});

/** Container ports each service listens on, read from its own configuration where it has one. */
function listening(name: string, s: ComposeService): number[] {
  const e = env(s);
  switch (name) {
    case 'chatstream':
      return startListeners(chatstreamConfig()).map((l) => l.port);
    case 'kafka':
      return [...String(e.KAFKA_LISTENERS).matchAll(/:(\d+)/g)].map((m) => Number(m[1]));
    case 'schema-registry':
      return [Number(new URL(String(e.SCHEMA_REGISTRY_LISTENERS)).port)];
    case 'clickhouse':
      return [8123, 9000]; // the image's HTTP and native ports
    case 'grafana':
      return [Number(e.GF_SERVER_HTTP_PORT ?? 3000)];
    case 'prometheus':
      return [9090];
    default:
      assert.fail(`the test does not know what ${name} listens on: add it to listening()`);
  }
}

test('every mapped port is one the service listens on; no host port clashes with a local stack', () => {
  const defaults = localDefaults();
  const localPorts = new Map<number, string>();
  for (const [section, specs] of Object.entries(schema))
    for (const [key, spec] of Object.entries(specs)) {
      const value = (defaults as Record<string, Record<string, unknown>>)[section]?.[key];
      if (/port$/i.test(key) && typeof value === 'number' && value > 0)
        localPorts.set(value, envName(section, key, spec));
    }
  assert.ok(localPorts.has(8081) && localPorts.has(9464), 'the local defaults are found');
  const hostPorts = new Set<number>();
  for (const [name, s] of Object.entries(compose.services)) {
    const ports = listening(name, s);
    for (const mapping of s.ports ?? []) {
      const { host, container } = parsePort(mapping);
      assert.ok(ports.includes(container), `${name}: ${mapping}, but it listens on ${ports.join(', ')}`);
      assert.ok(
        !localPorts.has(host),
        `${name}: host port ${host} is the local stack's ${localPorts.get(host)}`,
      );
      assert.ok(!hostPorts.has(host), `${name}: host port ${host} is mapped twice`);
      hostPorts.add(host);
    }
  }
  // Every chatstream listener is reachable from the host.
  const mapped = (service('chatstream').ports ?? []).map((p) => parsePort(p).container);
  for (const listener of startListeners(chatstreamConfig()))
    assert.ok(mapped.includes(listener.port), `${listener.name} (${listener.setting}) is not mapped`);
});

test('every service has a health check, and the chatstream one calls health endpoints that exist', () => {
  for (const [name, s] of Object.entries(compose.services)) {
    assert.ok(s.healthcheck?.test?.length, `${name} has a health check`);
    for (const url of healthUrls(s.healthcheck.test)) {
      assert.ok(['127.0.0.1', 'localhost'].includes(url.hostname), `${name}: ${url} is the container itself`);
      const port = Number(url.port || 80);
      assert.ok(
        listening(name, s).includes(port),
        `${name}: the health check calls ${url}, nothing listens there`,
      );
    }
  }
  const listeners = startListeners(chatstreamConfig());
  const urls = healthUrls(service('chatstream').healthcheck?.test ?? []);
  assert.ok(urls.length >= 2, 'the chatstream health check covers the sink and the collector');
  for (const url of urls) {
    const listener = listeners.find((l) => l.port === Number(url.port));
    assert.equal(url.pathname, listener?.health, `${url} is the health path of ${listener?.name}`);
  }
  assert.deepEqual(
    urls.map((u) => Number(u.port)).sort(),
    listeners
      .filter((l) => ['CHATSTREAM_SINK_METRICS_PORT', 'PURECHAT_PORT'].includes(l.setting))
      .map((l) => l.port)
      .sort(),
  );
});

test('secrets have no fallback: compose refuses to start without them, and Grafana is not open by default', () => {
  const known = knownVariables();
  for (const [name, s] of Object.entries(raw.services))
    for (const [variable, value] of Object.entries(s.environment ?? {})) {
      const secret = known.get(variable) === true || /PASSWORD|SECRET|TOKEN/.test(variable);
      if (!secret) continue;
      assert.match(
        String(value),
        /^\$\{[A-Z0-9_]+(:\?[^}]+|:-)?\}$/,
        `${name}: ${variable} must come from the environment with no default (\${VAR:?message} or empty)`,
      );
      if (/PASSWORD/.test(variable)) assert.match(String(value), /:\?/, `${name}: ${variable} is required`);
    }
  for (const missing of Object.keys(REQUIRED))
    assert.throws(
      () => readCompose({ ...REQUIRED, [missing]: undefined }),
      new RegExp(`${missing}: set ${missing}`),
    );
  const grafana = env(service('grafana'));
  assert.equal(grafana.GF_AUTH_ANONYMOUS_ENABLED, 'false', 'anonymous access is off unless asked for');
  assert.equal(
    env(readCompose({ ...REQUIRED, GRAFANA_ANONYMOUS_ENABLED: 'true' }).services.grafana!)
      .GF_AUTH_ANONYMOUS_ENABLED,
    'true',
  );
  assert.equal(grafana.GF_SECURITY_ADMIN_PASSWORD, REQUIRED.GRAFANA_ADMIN_PASSWORD);
  const ignored = readFileSync(join(PROJECT_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim());
  for (const pattern of ['.env', '.env.*', 'chatstream.config.json', 'secrets/', '.git/', 'node_modules/'])
    assert.ok(ignored.includes(pattern), `.dockerignore keeps ${pattern} out of the image`);
});

test('Grafana and the dashboard query ClickHouse as the read-only user compose creates', () => {
  const file = 'dashboards/clickhouse/users.d/chatstream-readonly.xml';
  const clickhouse = service('clickhouse');
  assert.equal(mountOf(clickhouse, file), '/etc/clickhouse-server/users.d/chatstream-readonly.xml');
  assert.ok(
    (clickhouse.volumes ?? []).some((v) => v.startsWith(`./${file}:`) && v.endsWith(':ro')),
    'mounted read-only',
  );
  const xml = readFileSync(join(PROJECT_ROOT, file), 'utf8');
  const user = /<users>\s*<([a-z_]+)>/.exec(xml)?.[1];
  assert.equal(user, 'chatstream_readonly');
  const profile = /<profile>([a-z_]+)<\/profile>/.exec(xml)?.[1];
  assert.match(xml, new RegExp(`<${profile}>\\s*<readonly>[12]</readonly>`), 'its profile is read-only');
  assert.match(xml, /<password from_env="CLICKHOUSE_READONLY_PASSWORD"/);
  assert.equal(env(clickhouse).CLICKHOUSE_READONLY_PASSWORD, REQUIRED.CLICKHOUSE_READONLY_PASSWORD);
  const chatstream = env(service('chatstream'));
  assert.equal(chatstream.CHATSTREAM_CLICKHOUSE_READONLY_USER, user);
  assert.equal(chatstream.CHATSTREAM_CLICKHOUSE_READONLY_PASSWORD, REQUIRED.CLICKHOUSE_READONLY_PASSWORD);
  const ds = parse(
    readFileSync(join(PROJECT_ROOT, 'dashboards/grafana/provisioning/datasources/clickhouse.yaml'), 'utf8'),
  ).datasources[0];
  assert.equal(ds.jsonData.username, user, 'Grafana queries as the read-only user');
  assert.equal(ds.secureJsonData.password, '$CLICKHOUSE_READONLY_PASSWORD');
  assert.equal(env(service('grafana')).CLICKHOUSE_READONLY_PASSWORD, REQUIRED.CLICKHOUSE_READONLY_PASSWORD);
  assert.equal(
    env(service('grafana')).CLICKHOUSE_PASSWORD,
    undefined,
    "Grafana does not get the writer's password",
  );
});

const DASHBOARDS = join(PROJECT_ROOT, 'dashboards', 'grafana', 'dashboards');
const PROVISIONING = join(PROJECT_ROOT, 'dashboards', 'grafana', 'provisioning');
const yamlFiles = (dir: string): Record<string, unknown>[] =>
  readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => parse(readFileSync(join(dir, f), 'utf8')));

/** Where a compose volume mounts a project folder: ./a/b → /c. */
function mountOf(s: ComposeService, source: string): string | undefined {
  const found = (s.volumes ?? []).find((v) => v.split(':')[0]?.replace(/^\.\//, '') === source);
  return found?.split(':')[1];
}

test('Grafana installs the ClickHouse plugin, provisions both datasources and loads every dashboard JSON', () => {
  const grafana = service('grafana');
  const e = env(grafana);
  assert.equal(
    e.GF_INSTALL_PLUGINS,
    undefined,
    'GF_INSTALL_PLUGINS is deprecated; use GF_PLUGINS_PREINSTALL_SYNC',
  );
  assert.equal(mountOf(grafana, 'dashboards/grafana/provisioning'), '/etc/grafana/provisioning');
  const datasources = yamlFiles(join(PROVISIONING, 'datasources')).flatMap(
    (f) => f.datasources as { uid: string; type: string; url?: string; jsonData?: { host?: string } }[],
  );
  const plugins = String(e.GF_PLUGINS_PREINSTALL_SYNC).split(',');
  for (const ds of datasources) {
    if (ds.type.includes('-')) assert.ok(plugins.includes(ds.type), `${ds.type} is preinstalled`);
    const host = ds.url ? new URL(ds.url).hostname : ds.jsonData?.host;
    assert.ok(host && compose.services[host], `datasource ${ds.uid} points at the compose service ${host}`);
  }
  const providers = yamlFiles(join(PROVISIONING, 'dashboards')).flatMap(
    (f) => f.providers as { options: { path: string } }[],
  );
  assert.deepEqual(
    providers.map((p) => p.options.path),
    [mountOf(grafana, 'dashboards/grafana/dashboards')],
    'the dashboard provider reads the folder compose mounts',
  );
  // Grafana's built-in datasources (annotations, mixed panels) need no provisioning.
  const uids = new Set([
    ...datasources.map((d) => d.uid),
    '-- Grafana --',
    'grafana',
    '-- Mixed --',
    '-- Dashboard --',
  ]);
  const files = readdirSync(DASHBOARDS).filter((f) => f.endsWith('.json'));
  assert.ok(files.includes('chatstream-pipeline.json'));
  for (const file of files) {
    const text = readFileSync(join(DASHBOARDS, file), 'utf8');
    const used = [...text.matchAll(/"uid":\s*"([^"]+)"/g)].map((m) => m[1]);
    const dashboard = JSON.parse(text) as { uid: string; panels: unknown[] };
    for (const uid of used)
      if (uid !== dashboard.uid)
        assert.ok(uids.has(uid as string), `${file}: datasource ${uid} is provisioned`);
  }
});

/** Metric names the code registers (histograms also as _bucket/_sum/_count). */
function exportedMetrics(): Set<string> {
  const registry = new Registry();
  sinkMetrics(registry);
  sourceMetrics(registry);
  collectorCounters(registry);
  const names = new Set<string>();
  for (const metric of registry.getMetricsAsArray()) {
    const name = (metric as unknown as { name: string }).name;
    names.add(name);
    for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}

test('the pipeline dashboard queries only metrics the code exports, and covers the pipeline', () => {
  const dashboard = JSON.parse(readFileSync(join(DASHBOARDS, 'chatstream-pipeline.json'), 'utf8')) as {
    panels: { title: string; targets?: { expr: string; datasource: { uid: string } }[] }[];
  };
  const exported = exportedMetrics();
  const used = new Set<string>();
  for (const panel of dashboard.panels)
    for (const target of panel.targets ?? []) {
      assert.equal(target.datasource.uid, 'chatstream-prometheus', panel.title);
      for (const [name] of target.expr.matchAll(/\bchatstream_[a-z0-9_]+/g)) {
        assert.ok(exported.has(name), `${panel.title}: ${name} is not a metric chatstream exports`);
        used.add(name);
      }
    }
  for (const needed of [
    'chatstream_sink_lag',
    'chatstream_sink_records_in_total',
    'chatstream_sink_records_out_total',
    'chatstream_sink_dead_letters_total',
    'chatstream_sink_flush_seconds_bucket',
    'chatstream_source_records_total',
    'chatstream_source_last_commit_timestamp_seconds',
    'chatstream_purechat_requests_total',
  ])
    assert.ok(used.has(needed), `the dashboard shows ${needed}`);
});

test('Prometheus scrapes every chatstream /metrics endpoint, at ports the service listens on', () => {
  const prometheus = service('prometheus');
  const mount = mountOf(prometheus, 'dashboards/prometheus/prometheus.yml');
  assert.equal(mount, '/etc/prometheus/prometheus.yml');
  const config = parse(
    readFileSync(join(PROJECT_ROOT, 'dashboards', 'prometheus', 'prometheus.yml'), 'utf8'),
  ) as {
    scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[];
  };
  const scraped: number[] = [];
  for (const job of config.scrape_configs) {
    assert.equal(job.metrics_path ?? '/metrics', METRICS_PATH, job.job_name);
    for (const target of job.static_configs.flatMap((c) => c.targets)) {
      const [host, port] = target.split(':');
      assert.equal(host, 'chatstream', `${job.job_name}: ${target}`);
      scraped.push(Number(port));
    }
  }
  const metricsListeners = startListeners(chatstreamConfig()).filter((l) => l.metrics);
  assert.deepEqual(scraped.sort(), metricsListeners.map((l) => l.port).sort());
});

test('docker-compose config accepts the file with the secrets set and refuses it without them', (t) => {
  const binary = which('docker-compose');
  if (!binary) {
    t.skip('docker-compose is not installed (Debian: apt-get install docker-compose; .ci/run installs it)');
    return;
  }
  // An empty env file: an .env beside the compose file must not decide the outcome.
  const envFile = join(mkdtempSync(join(tmpdir(), 'compose-')), 'empty.env');
  writeFileSync(envFile, '');
  const run = (extra: NodeJS.ProcessEnv) =>
    spawnSync(binary, ['-f', COMPOSE_FILE, '--env-file', envFile, 'config', '-q'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...extra },
    });
  const ok = run(REQUIRED);
  assert.equal(ok.status, 0, ok.stderr);
  // What docker-compose resolves is what these tests checked.
  const printed = spawnSync(binary, ['-f', COMPOSE_FILE, '--env-file', envFile, 'config'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...REQUIRED },
  });
  const theirs = (parse(printed.stdout) as { services: Record<string, ComposeService> }).services;
  assert.deepEqual(Object.keys(theirs).sort(), Object.keys(compose.services).sort());
  for (const [name, s] of Object.entries(compose.services))
    assert.deepEqual(
      env(theirs[name] as ComposeService),
      env(s),
      `${name}: the environment compose resolves`,
    );
  for (const missing of Object.keys(REQUIRED)) {
    const refused = run({ ...REQUIRED, [missing]: undefined });
    assert.notEqual(refused.status, 0, missing);
    assert.match(refused.stderr, new RegExp(`set ${missing}`));
  }
});
