import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { capsHeap, heapOf, PIPELINE_HEAP_ALLOWANCE_MIB, SINK_V8_FLAGS, sinkHeapMiB } from '../../cli/heap.ts';
import { loadConfig } from '../../cli/settings.ts';
import { PROJECT_ROOT } from '../../core/settings.ts';

test('the commands that cap their heap: sink <name> and start; help and the other commands do not', () => {
  for (const argv of [
    ['sink', 'clickhouse', '--topics', 't'],
    ['sink', '--group', 'g', 'postgres'],
  ])
    assert.equal(capsHeap(argv), 'sink', argv.join(' '));
  assert.equal(capsHeap(['start', '--no-stack']), 'start');
  for (const argv of [['sink'], ['sink', 'clickhouse', '--help'], ['start', '-h'], ['stack', 'up'], []])
    assert.equal(capsHeap(argv), undefined, argv.join(' '));

  const config = loadConfig({ env: { CHATSTREAM_SINK_MEMORY_BYTES: String(32 * 1024 * 1024) } });
  const sink = sinkHeapMiB(32 * 1024 * 1024);
  assert.equal(sink, 48 + 64);
  assert.deepEqual(heapOf('sink', config), { mib: sink, flags: SINK_V8_FLAGS });
  // start runs the sink in its process: the same young generation as `chatstream sink`.
  assert.deepEqual(heapOf('start', config), {
    mib: sink + PIPELINE_HEAP_ALLOWANCE_MIB,
    flags: SINK_V8_FLAGS,
  });
});

test('`chatstream sink <name>` loads its command line once, already running with its heap cap and V8 flags', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chatstream-heap-'));
  const loads = join(dir, 'loads.txt');
  // A module hook that notes every load of cli/app.ts with the V8 flags of the process loading it.
  const hook = join(dir, 'hook.mjs');
  writeFileSync(
    hook,
    `import { registerHooks } from 'node:module';
import { appendFileSync } from 'node:fs';
registerHooks({
  load(url, context, nextLoad) {
    if (url.endsWith('/cli/app.ts')) appendFileSync(${JSON.stringify(loads)}, process.execArgv.join(' ') + '\\n');
    return nextLoad(url, context);
  },
});
`,
  );
  const { NODE_OPTIONS: _, ...env } = process.env;
  // A sink on an unreachable broker keeps retrying its start: long enough to see what loaded.
  const sink = spawn(
    process.execPath,
    [
      '--import',
      hook,
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
      env: {
        ...env,
        CHATSTREAM_KAFKA_BROKERS: '127.0.0.1:1',
        CHATSTREAM_LOG_LEVEL: 'error',
      },
    },
  );
  const read = () => {
    try {
      return readFileSync(loads, 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };
  try {
    const deadline = Date.now() + 20_000;
    while (read().length === 0 && Date.now() < deadline) await sleep(50);
    await sleep(500); // a second load, if there were one, comes right after the first
    const lines = read();
    assert.equal(lines.length, 1, `cli/app.ts loaded by: ${JSON.stringify(lines)}`);
    const flags = (lines[0] as string).split(' ');
    assert.ok(flags.includes(`--max-old-space-size=${sinkHeapMiB(loadConfig().sink.memoryBytes)}`), lines[0]);
    for (const flag of SINK_V8_FLAGS) assert.ok(flags.includes(flag), lines[0]);
  } finally {
    sink.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('`chatstream sink <name> --help` prints the help without a heap cap', async () => {
  const child = spawn(
    process.execPath,
    [join(PROJECT_ROOT, 'cli', 'main.ts'), 'sink', 'clickhouse', '--help'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 0);
  assert.match(out, /Usage: chatstream sink/);
});
