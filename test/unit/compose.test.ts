/**
 * docker-compose.yml checked against the code (no Docker engine here to run it): the settings it
 * sets exist and parse, the ports it maps are ones the services listen on and clash with no local
 * stack, health checks call endpoints that exist, secrets have no fallbacks. docker-compose
 * itself validates the file when it is installed. Grafana and Prometheus: compose-observability.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { type Config, schema } from '../../cli/settings.ts';
import { envName, loadSettings } from '../../core/config.ts';
import { KAFKA_DEFAULT_VERSION, PROJECT_ROOT } from '../../core/settings.ts';
import { which } from '../../stack/process.ts';
import {
  COMPOSE_FILE,
  type ComposeService,
  chatstreamConfig as chatstreamConfigOf,
  composeEnv,
  composeService,
  healthUrls,
  parsePort,
  REQUIRED,
  readCompose,
  readComposeRaw,
  startListeners,
} from '../helpers/compose.ts';

const compose = readCompose(REQUIRED);
const raw = readComposeRaw();
const service = (name: string): ComposeService => composeService(compose, name);
const env = composeEnv;
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

const chatstreamConfig = (): Config => chatstreamConfigOf(compose);

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
