/**
 * Found trying chatstream as a new user would: a sink whose metrics port is taken,
 * `<unknown command> --help`, `stack logs -n 0` and the registry URL's default when the
 * registry port is configured in the config file.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { main } from '../../cli/app.ts';
import { loadConfig } from '../../cli/settings.ts';
import { EXIT, UsageError } from '../../core/errors.ts';
import { configureLogging, createLogger } from '../../core/log.ts';
import { tail } from '../../stack/process.ts';
import { Stack } from '../../stack/stack.ts';
import { runCli } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'chatstream-cli-nits-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; text: string }> {
  const out: string[] = [];
  const code = await main(argv, (t) => out.push(t));
  return { code, text: out.join('\n') };
}

const usage = (pattern: RegExp) => (e: unknown) =>
  e instanceof UsageError && e.exitCode === EXIT.usage && pattern.test(e.message);

test('an unknown command with --help is a usage error (exit 2), not the general help', async () => {
  await assert.rejects(run(['nosuch', '--help']), usage(/unknown command "nosuch"/));
  await assert.rejects(run(['nosuch', '-h']), usage(/unknown command "nosuch"/));
  await assert.rejects(
    run(['stack', 'nosuch', '--help']),
    (e: unknown) =>
      usage(/unknown command "stack nosuch"/)(e) &&
      /chatstream stack --help/.test((e as UsageError).hint ?? ''),
  );
  // Known commands and groups still answer --help with exit 0.
  assert.equal((await run(['--help'])).code, EXIT.ok);
  assert.equal((await run(['stack', '--help'])).code, EXIT.ok);
  assert.equal((await run(['stack'])).code, EXIT.ok);
  assert.equal((await run(['stack', 'logs', '--help'])).code, EXIT.ok);
});

test('tail with 0 lines is empty; with n lines the last n', () => {
  const file = join(dir, 'some.log');
  writeFileSync(file, 'one\ntwo\nthree\n');
  assert.equal(tail(file, 0), '');
  assert.equal(tail(file, 2), 'two\nthree');
  assert.equal(tail(file, 10), 'one\ntwo\nthree');
  assert.equal(tail(join(dir, 'missing.log'), 3), '');
});

test('stack logs -n 0 prints no log lines (only which file each service logs to)', async () => {
  const home = join(dir, 'stack-home');
  process.env.CHATSTREAM_STACK_HOME = home;
  configureLogging({ level: 'error' });
  const stack = new Stack(loadConfig(), createLogger('test'));
  for (const service of stack.services) {
    mkdirSync(join(service.logFile, '..'), { recursive: true });
    writeFileSync(service.logFile, `${service.name} line 1\n${service.name} line 2\n`);
  }
  const none = await run(['stack', 'logs', '-n', '0']);
  assert.equal(none.code, EXIT.ok);
  assert.deepEqual(
    none.text.split('\n'),
    stack.services.map((s) => `==> ${s.name}: ${s.logFile}`),
  );
  const one = await run(['stack', 'logs', '--lines', '1', 'kafka']);
  assert.equal(one.text, `==> kafka: ${stack.services[0]?.logFile}\nkafka line 2`);
});

test('the schema registry URL defaults to the configured registry port (environment or config file)', () => {
  const file = join(dir, 'chatstream.config.json');
  writeFileSync(file, JSON.stringify({ registry: { port: 18_082 } }));
  const fromFile = loadConfig({ env: { CHATSTREAM_CONFIG: file } });
  assert.equal(fromFile.registry.port, 18_082);
  assert.equal(fromFile.schemaRegistry.url, 'http://127.0.0.1:18082');
  assert.equal(
    loadConfig({ env: { CHATSTREAM_REGISTRY_PORT: '18083' } }).schemaRegistry.url,
    'http://127.0.0.1:18083',
  );
  // The environment wins over the file, as for every setting; an explicit URL wins over both.
  assert.equal(
    loadConfig({ env: { CHATSTREAM_CONFIG: file, CHATSTREAM_REGISTRY_PORT: '18084' } }).schemaRegistry.url,
    'http://127.0.0.1:18084',
  );
  assert.equal(
    loadConfig({ env: { CHATSTREAM_CONFIG: file, CHATSTREAM_SCHEMA_REGISTRY_URL: 'http://reg:9999' } })
      .schemaRegistry.url,
    'http://reg:9999',
  );
  assert.equal(loadConfig({ env: {} }).schemaRegistry.url, 'http://127.0.0.1:8081');
});

test('a sink whose metrics port is taken exits 5 naming the port and the setting (flag or variable)', async () => {
  const held: Server = createServer();
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
  const port = (held.address() as { port: number }).port;
  try {
    // Nothing is contacted before the port is bound: no stack needed.
    const env = { ...process.env, CHATSTREAM_KAFKA_BROKERS: '127.0.0.1:1', CHATSTREAM_LOG_FORMAT: 'json' };
    const flag = await runCli(['sink', 'clickhouse', '--metrics-port', String(port)], env, 60_000);
    assert.equal(flag.code, EXIT.service, flag.stderr);
    assert.match(flag.stderr, new RegExp(`127\\.0\\.0\\.1:${port} \\(--metrics-port\\) is already in use`));
    assert.match(flag.stderr, /hint: stop the other process or set --metrics-port to a free port/);
    assert.doesNotMatch(flag.stderr, /internal error/);
    const variable = await runCli(
      ['sink', 'postgres'],
      { ...env, CHATSTREAM_SINK_METRICS_PORT: String(port) },
      60_000,
    );
    assert.equal(variable.code, EXIT.service, variable.stderr);
    assert.match(
      variable.stderr,
      new RegExp(`:${port} \\(CHATSTREAM_SINK_METRICS_PORT\\) is already in use`),
    );
    assert.doesNotMatch(variable.stderr, /internal error/);
  } finally {
    held.close();
  }
});
