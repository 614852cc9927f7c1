import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { configureLogging, createLogger } from '../../core/log.ts';

let lines: string[] = [];
const capture = (level: 'debug' | 'info' | 'warn' | 'error', format: 'json' | 'pretty' = 'json') => {
  lines = [];
  configureLogging({ level, format, write: (line) => lines.push(line) });
};

afterEach(() =>
  configureLogging({ level: 'info', format: 'auto', write: (line) => process.stderr.write(line) }),
);

test('JSON lines carry time, level, component, message and fields', () => {
  capture('info');
  createLogger('stack').child('kafka', { port: 9092 }).info('ready', { ms: 12 });
  const entry = JSON.parse(lines[0] ?? '{}');
  assert.equal(entry.level, 'info');
  assert.equal(entry.component, 'stack.kafka');
  assert.equal(entry.msg, 'ready');
  assert.equal(entry.port, 9092);
  assert.equal(entry.ms, 12);
  assert.ok(!Number.isNaN(Date.parse(entry.time)));
});

test('levels below the configured one are dropped', () => {
  capture('warn');
  const log = createLogger('x');
  log.debug('a');
  log.info('b');
  log.warn('c');
  log.error('d');
  assert.deepEqual(
    lines.map((l) => JSON.parse(l).msg),
    ['c', 'd'],
  );
});

test('secret-looking fields never reach the log', () => {
  capture('info');
  createLogger('x').info('auth', { password: 'p', apiKey: 'k', Authorization: 'Bearer t', user: 'u' });
  const entry = JSON.parse(lines[0] ?? '{}');
  assert.deepEqual(
    [entry.password, entry.apiKey, entry.Authorization, entry.user],
    ['***', '***', '***', 'u'],
  );
});

test('pretty lines are one line with key=value fields', () => {
  capture('info', 'pretty');
  createLogger('stack').info('kafka is ready', { ms: 5, endpoint: '127.0.0.1:9092' });
  assert.match(
    lines[0] ?? '',
    /^\d\d:\d\d:\d\d\.\d{3} INFO {2}stack {6}kafka is ready {2}ms=5 endpoint=127\.0\.0\.1:9092\n$/,
  );
});
