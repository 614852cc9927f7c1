import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT } from '../../core/errors.ts';
import { exitWithin, spawnCli } from '../helpers/cli.ts';

test('SIGTERM while a sink waits for Kafka at start: it stops at once instead of waiting out its start timeout, exit 0', {
  timeout: 60_000,
}, async () => {
  // Nothing answers on port 1: the start retries "connecting" for CHATSTREAM_SINK_START_TIMEOUT_MS.
  const sink = spawnCli(['sink', 'clickhouse', '--metrics-port', '0'], {
    ...process.env,
    CHATSTREAM_KAFKA_BROKERS: '127.0.0.1:1',
    CHATSTREAM_SINK_START_TIMEOUT_MS: '120000',
    CHATSTREAM_LOG_FORMAT: 'json',
    CHATSTREAM_LOG_LEVEL: 'info',
  });
  try {
    const deadline = Date.now() + 30_000;
    while (!/is not reachable yet; retrying/.test(sink.stderr()) && Date.now() < deadline) await sleep(50);
    assert.match(sink.stderr(), /is not reachable yet; retrying/, 'the start is retrying');
    assert.equal(await exitWithin(sink, 'SIGTERM', 40_000), EXIT.ok, sink.stderr().slice(-2000));
    assert.match(sink.stderr(), /"msg":"stopped while starting"/);
    assert.doesNotMatch(sink.stderr(), /internal error|cannot be reached at start/);
  } finally {
    await sink.stop('SIGKILL');
  }
});
