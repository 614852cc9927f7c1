import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PIPELINE_HEAP_ALLOWANCE_MIB, sinkHeapMiB } from '../../cli/heap.ts';
import { loadConfig } from '../../cli/settings.ts';
import { RECORD_KINDS } from '../../schemas/catalog.ts';
import { runCli, spawnCli } from '../helpers/cli.ts';
import { freePort } from '../helpers/names.ts';

test('chatstream start --once: topics, schemas and the ClickHouse sink come up and stop cleanly', async () => {
  const env = {
    ...process.env,
    CHATSTREAM_SINK_METRICS_PORT: String(await freePort()),
    CHATSTREAM_PRODUCER_METRICS_PORT: String(await freePort()),
    FRESHCHAT_SIMULATOR_PORT: String(await freePort()),
    FRESHCHAT_WEBHOOK_PORT: String(await freePort()),
    PURECHAT_PORT: String(await freePort()),
    CHATSTREAM_DASHBOARD_PORT: String(await freePort()),
    CHATSTREAM_SINK_GROUP: `start-test-${Date.now()}`,
    CHATSTREAM_PRODUCER_INSTANCE_ID: `start-test-${Date.now()}`,
  };
  const result = await runCli(['start', '--once'], env);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /kafka\s+running/);
  assert.match(result.stdout, /registry\s+running/);
  const kinds = RECORD_KINDS.length;
  assert.match(
    result.stdout,
    new RegExp(`Topics:\\s+${kinds} \\(\\d+ created now\\); schemas registered for ${kinds} subjects`),
  );
  assert.match(result.stdout, /Pure Chat collector:\s+http:\/\/127\.0\.0\.1:\d+\/v1\/events/);
  assert.match(result.stdout, /Sink metrics:\s+http:\/\/127\.0\.0\.1:\d+\/metrics/);
  assert.match(result.stderr, /"msg":"sink running"/);
  assert.match(result.stdout, /Freshchat simulator:\s+http:\/\/127\.0\.0\.1:\d+\/v2/);
  assert.match(result.stdout, /Dashboard:\s+http:\/\/127\.0\.0\.1:\d+\/ /);
  assert.match(result.stdout, /Producer metrics:\s+http:\/\/127\.0\.0\.1:\d+\/metrics/);
  // The sink runs in this process, so the heap is capped as `chatstream sink` caps it, plus the
  // allowance for the rest (defect 11: the memory bound holds under npm start and in compose);
  // V8's limit also counts the young generation (192 MiB with the default semi-space) on top.
  const cap = sinkHeapMiB(loadConfig({ env }).sink.memoryBytes) + PIPELINE_HEAP_ALLOWANCE_MIB;
  const limit = Number(/"msg":"heap capped","heapLimitMiB":(\d+)/.exec(result.stderr)?.[1]);
  assert.ok(limit >= cap && limit <= cap + 256, `heap limit ${limit} MiB, cap ${cap} MiB`);
});

test('SIGTERM while the parts are still starting: they finish starting, then all stop, exit 0', {
  timeout: 120_000,
}, async () => {
  const env = {
    ...process.env,
    CHATSTREAM_LOG_FORMAT: 'json',
    CHATSTREAM_SINK_METRICS_PORT: String(await freePort()),
    CHATSTREAM_PRODUCER_METRICS_PORT: String(await freePort()),
    CHATSTREAM_DASHBOARD_PORT: String(await freePort()),
    FRESHCHAT_SIMULATOR_PORT: String(await freePort()),
    FRESHCHAT_WEBHOOK_PORT: String(await freePort()),
    PURECHAT_PORT: String(await freePort()),
    CHATSTREAM_SINK_GROUP: `start-early-${Date.now()}`,
    CHATSTREAM_PRODUCER_INSTANCE_ID: `start-early-${Date.now()}`,
  };
  const start = spawnCli(['start'], env);
  const deadline = Date.now() + 60_000;
  while (!/"msg":"heap capped"/.test(start.stderr()) && Date.now() < deadline) await sleep(50);
  assert.match(start.stderr(), /"msg":"heap capped"/, 'start began');
  const code = await Promise.race([start.stop('SIGTERM'), sleep(90_000).then(() => 'hung')]);
  if (code === 'hung') await start.stop('SIGKILL');
  assert.equal(code, 0, start.stderr().slice(-2000));
  assert.match(start.stderr(), /"msg":"SIGTERM: stopping/);
  assert.match(start.stderr(), /"msg":"pipeline stopped"/);
});
