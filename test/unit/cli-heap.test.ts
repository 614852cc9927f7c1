import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { heapOfCommand, PIPELINE_HEAP_ALLOWANCE_MIB, SINK_V8_FLAGS, sinkHeapMiB } from '../../cli/heap.ts';
import { loadConfig } from '../../cli/settings.ts';
import { PROJECT_ROOT } from '../../core/settings.ts';

test('the commands that cap their heap: sink <name> and start; help and the other commands do not', () => {
  const config = loadConfig({ env: { CHATSTREAM_SINK_MEMORY_BYTES: String(32 * 1024 * 1024) } });
  const sink = sinkHeapMiB(32 * 1024 * 1024);
  assert.equal(sink, 48 + 64);
  assert.deepEqual(heapOfCommand(['sink', 'clickhouse', '--topics', 't'], config), {
    mib: sink,
    flags: SINK_V8_FLAGS,
  });
  assert.deepEqual(heapOfCommand(['sink', '--group', 'g', 'postgres'], config)?.mib, sink);
  assert.deepEqual(heapOfCommand(['start', '--no-stack'], config), {
    mib: sink + PIPELINE_HEAP_ALLOWANCE_MIB,
    flags: [],
  });
  for (const argv of [['sink'], ['sink', 'clickhouse', '--help'], ['start', '-h'], ['stack', 'up'], []])
    assert.equal(heapOfCommand(argv, config), undefined, argv.join(' '));
});

test('`chatstream sink <name>` re-runs itself with its heap cap and V8 flags; its --help runs as is', async () => {
  const child = spawn(
    process.execPath,
    [join(PROJECT_ROOT, 'cli', 'main.ts'), 'sink', 'clickhouse', '--help'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 0);
  assert.match(out, /Usage: chatstream sink/);

  // A sink on an unreachable broker keeps retrying its start: long enough to read its command line.
  const sink = spawn(
    process.execPath,
    [
      join(PROJECT_ROOT, 'cli', 'main.ts'),
      'sink',
      'clickhouse',
      '--topics',
      'heap_test',
      '--metrics-port',
      '0',
    ],
    {
      stdio: 'ignore',
      env: { ...process.env, CHATSTREAM_KAFKA_BROKERS: '127.0.0.1:1', CHATSTREAM_LOG_LEVEL: 'error' },
    },
  );
  try {
    const cmdline = () => {
      try {
        return readFileSync(`/proc/${sink.pid}/cmdline`, 'utf8').split('\0');
      } catch {
        return [];
      }
    };
    const deadline = Date.now() + 10_000;
    while (!cmdline().some((a) => a.startsWith('--max-old-space-size=')) && Date.now() < deadline)
      await sleep(50);
    const args = cmdline();
    assert.ok(
      args.includes(`--max-old-space-size=${sinkHeapMiB(loadConfig().sink.memoryBytes)}`),
      args.join(' '),
    );
    for (const flag of SINK_V8_FLAGS) assert.ok(args.includes(flag), args.join(' '));
  } finally {
    sink.kill('SIGKILL');
  }
});
