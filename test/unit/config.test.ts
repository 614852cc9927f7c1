import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig, schema } from '../../cli/settings.ts';
import {
  envName,
  loadSettings,
  redacted,
  renderReference,
  setting,
  unknownEnvironment,
} from '../../core/config.ts';
import { ConfigError } from '../../core/errors.ts';
import { PROJECT_ROOT } from '../../core/settings.ts';

const demo = {
  kafka: {
    port: setting.port({ default: 9092, description: 'port' }),
    brokers: setting.list({ default: (s) => [`127.0.0.1:${s.port}`], description: 'brokers' }),
    home: setting.optionalString({ env: 'KAFKA_HOME', description: 'home' }),
  },
  clickhouse: {
    httpPort: setting.port({ default: 8123, description: 'http' }),
    password: setting.string({ default: '', secret: true, description: 'pw' }),
    mode: setting.oneOf(['evolve', 'freeze', 'discard'] as const, { default: 'evolve', description: 'mode' }),
    enabled: setting.bool({ default: true, description: 'on' }),
  },
};

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error;
  }
  assert.fail('expected a ConfigError');
}

test('environment names come from section and camelCase name, or the spec', () => {
  assert.equal(
    envName('clickhouse', 'httpPort', demo.clickhouse.httpPort),
    'CHATSTREAM_CLICKHOUSE_HTTP_PORT',
  );
  assert.equal(envName('kafka', 'home', demo.kafka.home), 'KAFKA_HOME');
});

test('defaults apply, derived defaults see earlier settings, optional settings stay undefined', () => {
  const s = loadSettings(demo, { env: {} });
  assert.equal(s.kafka.port, 9092);
  assert.deepEqual(s.kafka.brokers, ['127.0.0.1:9092']);
  assert.equal(s.kafka.home, undefined);
  const moved = loadSettings(demo, { env: { CHATSTREAM_KAFKA_PORT: '19092' } });
  assert.deepEqual(moved.kafka.brokers, ['127.0.0.1:19092']);
});

test('precedence: environment over file over default', () => {
  const file = {
    name: 'c.json',
    data: { kafka: { port: 1111, brokers: ['a:1', 'b:2'] }, clickhouse: { mode: 'freeze' } },
  };
  const fromFile = loadSettings(demo, { env: {}, file });
  assert.equal(fromFile.kafka.port, 1111);
  assert.deepEqual(fromFile.kafka.brokers, ['a:1', 'b:2']);
  assert.equal(fromFile.clickhouse.mode, 'freeze');
  const fromEnv = loadSettings(demo, {
    env: { CHATSTREAM_KAFKA_PORT: '2222', CHATSTREAM_CLICKHOUSE_ENABLED: 'no' },
    file,
  });
  assert.equal(fromEnv.kafka.port, 2222);
  assert.equal(fromEnv.clickhouse.enabled, false);
});

test('a bad environment value names the variable and says what was expected', () => {
  const port = configError(() => loadSettings(demo, { env: { CHATSTREAM_KAFKA_PORT: '99999' } }));
  assert.equal(port.setting, 'CHATSTREAM_KAFKA_PORT');
  assert.match(port.message, /expected a number from 1 to 65535, got 99999/);
  const mode = configError(() => loadSettings(demo, { env: { CHATSTREAM_CLICKHOUSE_MODE: 'yolo' } }));
  assert.match(
    mode.message,
    /CHATSTREAM_CLICKHOUSE_MODE: expected one of evolve, freeze, discard, got "yolo"/,
  );
  const flag = configError(() => loadSettings(demo, { env: { CHATSTREAM_CLICKHOUSE_ENABLED: 'maybe' } }));
  assert.match(flag.message, /expected true or false/);
});

test('a bad file value, unknown key or unknown section names the file and key', () => {
  const bad = configError(() =>
    loadSettings(demo, { env: {}, file: { name: 'c.json', data: { kafka: { port: 'x' } } } }),
  );
  assert.equal(bad.setting, 'c.json: kafka.port');
  const typo = configError(() =>
    loadSettings(demo, { env: {}, file: { name: 'c.json', data: { kafka: { prot: 1 } } } }),
  );
  assert.match(typo.message, /c\.json: kafka\.prot: unknown setting; did you mean "port"\?/);
  const section = configError(() =>
    loadSettings(demo, { env: {}, file: { name: 'c.json', data: { kafak: {} } } }),
  );
  assert.match(section.message, /unknown section; known sections: kafka, clickhouse/);
  const notObject = configError(() => loadSettings(demo, { env: {}, file: { name: 'c.json', data: [1] } }));
  assert.match(notObject.message, /must hold a JSON object/);
});

test('secrets come from <VAR>_FILE and are redacted when shown', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  writeFileSync(join(dir, 'pw'), 's3cret\n');
  const s = loadSettings(demo, { env: { CHATSTREAM_CLICKHOUSE_PASSWORD_FILE: join(dir, 'pw') } });
  assert.equal(s.clickhouse.password, 's3cret');
  assert.equal(redacted(demo, s).clickhouse?.password, '***');
  const missing = configError(() =>
    loadSettings(demo, { env: { CHATSTREAM_CLICKHOUSE_PASSWORD_FILE: join(dir, 'nope') } }),
  );
  assert.equal(missing.setting, 'CHATSTREAM_CLICKHOUSE_PASSWORD_FILE');
});

test('unknown CHATSTREAM_ variables are reported (typos), known ones are not', () => {
  const env = {
    CHATSTREAM_KAFKA_PORT: '1',
    CHATSTREAM_KAFKA_PROT: '1',
    CHATSTREAM_CLICKHOUSE_PASSWORD_FILE: '/x',
    HOME: '/',
  };
  assert.deepEqual(unknownEnvironment(demo, env), ['CHATSTREAM_KAFKA_PROT']);
});

test('loadConfig reads a JSON config file and reports invalid JSON naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify({ kafka: { topicPrefix: 'dev.' } }));
  assert.equal(loadConfig({ env: {}, file: good }).kafka.topicPrefix, 'dev.');
  const broken = join(dir, 'broken.json');
  writeFileSync(broken, '{ "kafka": ');
  assert.match(
    configError(() => loadConfig({ env: {}, file: broken })).message,
    /broken\.json: the config file is not valid JSON/,
  );
});

test("the README's configuration reference is the one generated from the schema", () => {
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
  const reference = renderReference(schema);
  assert.ok(reference.includes('`CHATSTREAM_KAFKA_BROKERS`'));
  assert.ok(
    readme.includes(reference.trim()),
    'README.md is out of date: paste the output of `chatstream config docs`',
  );
});
