/**
 * docker-compose.yml's observability part checked against the code: Grafana and the dashboard
 * query ClickHouse as the read-only user compose creates, Grafana provisions its datasources and
 * every dashboard, the dashboards query only metrics the code exports, and Prometheus scrapes
 * every chatstream /metrics endpoint.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { sinkMetrics } from '../../consumers/sink-metrics.ts';
import { METRICS_PATH } from '../../core/metrics.ts';
import { PROJECT_ROOT } from '../../core/settings.ts';
import { collectorCounters } from '../../producers/purechat/metrics.ts';
import { sourceMetrics } from '../../producers/runtime/metrics.ts';
import {
  type ComposeService,
  chatstreamConfig,
  composeService,
  composeEnv as env,
  mountOf,
  REQUIRED,
  readCompose,
  startListeners,
} from '../helpers/compose.ts';

const compose = readCompose(REQUIRED);
const service = (name: string): ComposeService => composeService(compose, name);

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
  const metricsListeners = startListeners(chatstreamConfig(compose)).filter((l) => l.metrics);
  assert.deepEqual(scraped.sort(), metricsListeners.map((l) => l.port).sort());
});
