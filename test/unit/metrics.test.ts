import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { Counter } from 'prom-client';
import { ChatstreamError, EXIT } from '../../core/errors.ts';
import { createMetricsRegistry, serveMetrics } from '../../core/metrics.ts';

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));
const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

test('GET /metrics serves the registry (process metrics included) in the Prometheus text format', async () => {
  const registry = createMetricsRegistry();
  new Counter({ name: 'test_things_total', help: 'Things.', registers: [registry] }).inc(3);
  const server = await serveMetrics(registry, { port: 0, host: '127.0.0.1', setting: 'TEST_PORT' });
  try {
    const response = await fetch(`${urlOf(server)}/metrics`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), registry.contentType);
    const text = await response.text();
    assert.match(text, /# TYPE test_things_total counter\ntest_things_total 3/);
    assert.match(text, /process_resident_memory_bytes \d+/);
    assert.equal((await fetch(`${urlOf(server)}/nothing`)).status, 404);
    assert.equal((await fetch(`${urlOf(server)}/metrics`, { method: 'POST' })).status, 405);
  } finally {
    await close(server);
  }
});

test('GET /health: 200 when healthy (the default), 503 with the details when not', async () => {
  let state = { ok: true, partitions: 3 };
  const server = await serveMetrics(createMetricsRegistry(), {
    port: 0,
    host: '127.0.0.1',
    setting: 'TEST_PORT',
    health: () => state,
  });
  try {
    let response = await fetch(`${urlOf(server)}/health`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok', ok: true, partitions: 3 });
    state = { ok: false, partitions: 0 };
    response = await fetch(`${urlOf(server)}/health`);
    assert.equal(response.status, 503);
    assert.equal(((await response.json()) as { ok: boolean }).ok, false);
  } finally {
    await close(server);
  }
  const plain = await serveMetrics(createMetricsRegistry(), { port: 0, host: '127.0.0.1', setting: 'X' });
  assert.equal((await fetch(`${urlOf(plain)}/health`)).status, 200);
  await close(plain);
});

test('a taken port is a service error (exit 5) naming host:port and the setting', async () => {
  const first = await serveMetrics(createMetricsRegistry(), { port: 0, host: '127.0.0.1', setting: 'X' });
  const port = (first.address() as AddressInfo).port;
  try {
    await assert.rejects(
      serveMetrics(createMetricsRegistry(), {
        port,
        host: '127.0.0.1',
        setting: 'CHATSTREAM_SINK_METRICS_PORT',
      }),
      (error: unknown) => {
        assert.ok(error instanceof ChatstreamError);
        assert.equal(error.exitCode, EXIT.service);
        assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port} \\(CHATSTREAM_SINK_METRICS_PORT\\)`));
        return true;
      },
    );
  } finally {
    await close(first);
  }
});

test('registries are separate: two components can register the same metric names in one process', async () => {
  const a = createMetricsRegistry();
  const b = createMetricsRegistry();
  new Counter({ name: 'test_same_total', help: 'Same.', registers: [a] }).inc();
  new Counter({ name: 'test_same_total', help: 'Same.', registers: [b] }).inc(2);
  assert.match(await a.metrics(), /test_same_total 1/);
  assert.match(await b.metrics(), /test_same_total 2/);
});
