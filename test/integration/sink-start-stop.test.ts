/**
 * A stop asked for while the sink starts does not wait on a service that does not answer: the
 * step in flight is cut short (its clients closed) and the sink exits 0, well before the
 * service's own request timeout (a minute for ClickHouse) or the start timeout.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT } from '../../core/errors.ts';
import { exitWithin, spawnCli } from '../helpers/cli.ts';

test('SIGTERM while the sink waits on a ClickHouse that accepts and never answers: exit 0 at once, not after its request timeout', {
  timeout: 120_000,
}, async () => {
  const sockets: Socket[] = [];
  const silent = createServer((socket) => sockets.push(socket)); // reads nothing, answers nothing
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as { port: number }).port;
  const sink = spawnCli(['sink', 'clickhouse', '--metrics-port', '0'], {
    ...process.env,
    CHATSTREAM_CLICKHOUSE_URL: `http://127.0.0.1:${port}`,
    CHATSTREAM_SINK_START_TIMEOUT_MS: '300000',
    CHATSTREAM_LOG_FORMAT: 'json',
    CHATSTREAM_LOG_LEVEL: 'info',
  });
  try {
    // Kafka and the registry answer; the sink's ClickHouse step is the one in flight.
    const deadline = Date.now() + 60_000;
    while (sockets.length === 0 && Date.now() < deadline && sink.child.exitCode === null) await sleep(50);
    assert.ok(sockets.length > 0, `the sink reached ClickHouse: ${sink.stderr().slice(-1500)}`);
    await sleep(500);
    assert.equal(await exitWithin(sink, 'SIGTERM', 30_000), EXIT.ok, sink.stderr().slice(-2000));
    assert.match(
      sink.stderr(),
      /"msg":"stopped while starting","during":"clickhouse: stopped while starting \(connecting to clickhouse\)"/,
    );
  } finally {
    await sink.stop('SIGKILL');
    for (const socket of sockets) socket.destroy();
    silent.close();
  }
});
