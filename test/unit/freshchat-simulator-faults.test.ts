/**
 * Injected trouble in the Freshchat simulator: rate limiting with Retry-After, server errors,
 * a revoked token, slow answers, unknown fields; deterministic by seed, never on control calls.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FreshchatSimulator } from '../../producers/freshchat/simulator/index.ts';
import { quiet, withSim } from '../helpers/simulator.ts';

async function call(sim: FreshchatSimulator, path: string) {
  const response = await fetch(`${sim.url}${path}`, { headers: { authorization: `Bearer ${sim.apiKey}` } });
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies, checked by the assertions
  return { status: response.status, headers: response.headers, body: (await response.json()) as any };
}

test('rate limit: past requestsPerMinute a 429 with the error body, Retry-After and optional headers', async () => {
  await withSim({ rateLimit: { requestsPerMinute: 3, headers: true } }, async (sim) => {
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await call(sim, '/agents'));
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200, 429],
    );
    assert.equal(answers[0]?.headers.get('x-ratelimit-total'), '3');
    assert.equal(answers[0]?.headers.get('x-ratelimit-remaining'), '2');
    const limited = answers[3]!;
    assert.deepEqual(limited.body, { code: 429, status: 'TOO_MANY_REQUESTS', message: limited.body.message });
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60);
    assert.equal(sim.stats().rateLimited, 1);
    sim.setRateLimit({ requestsPerMinute: 100, retryAfterSeconds: 7 });
    assert.equal((await call(sim, '/agents')).status, 200);
    sim.setRateLimit(false);
    for (let i = 0; i < 5; i++) assert.equal((await call(sim, '/agents')).status, 200);
  });
});

test('rate limit: a fixed retryAfterSeconds is sent as is', async () => {
  await withSim({ rateLimit: { requestsPerMinute: 1, retryAfterSeconds: 7 } }, async (sim) => {
    await call(sim, '/groups');
    const limited = await call(sim, '/groups');
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '7');
    assert.equal(limited.headers.get('x-ratelimit-total'), null, 'no X-RateLimit-* unless asked');
  });
});

test('serverErrorRate 1: every API request is a 500 or 503 with the error body; control calls are untouched', async () => {
  await withSim({ faults: { serverErrorRate: 1 } }, async (sim) => {
    const statuses = new Set<number>();
    for (let i = 0; i < 12; i++) {
      const { status, body } = await call(sim, '/users');
      statuses.add(status);
      assert.equal(body.code, status);
      assert.ok(['INTERNAL_SERVER_ERROR', 'SERVICE_UNAVAILABLE'].includes(body.status));
    }
    assert.deepEqual([...statuses].sort(), [500, 503]);
    const health = await fetch(`${sim.url.replace(/\/v2$/, '')}/_simulator/health`);
    assert.equal(health.status, 200);
    assert.ok(sim.snapshot().users.length > 0);
    assert.equal((await sim.addMessages(1)).length, 1);
    const stats = sim.stats();
    assert.equal((stats['faults.serverError.500'] ?? 0) + (stats['faults.serverError.503'] ?? 0), 12);
    sim.setFaults({ serverErrorRate: 0 });
    assert.equal((await call(sim, '/users')).status, 200);
  });
});

test('faults are deterministic: same seed and request order fail the same requests', async () => {
  const run = async () => {
    const statuses: number[] = [];
    await withSim({ seed: 17, faults: { serverErrorRate: 0.4 } }, async (sim) => {
      for (let i = 0; i < 25; i++) statuses.push((await call(sim, '/channels')).status);
    });
    return statuses;
  };
  const first = await run();
  assert.deepEqual(await run(), first);
  assert.ok(first.includes(200) && first.some((s) => s >= 500));
});

test('the unauthorized fault turns every request into a 401, even with the right key', async () => {
  await withSim({ faults: { unauthorized: true } }, async (sim) => {
    const { status, body } = await call(sim, '/agents');
    assert.equal(status, 401);
    assert.equal(body.status, 'UNAUTHORIZED');
    sim.setFaults({ unauthorized: false });
    assert.equal((await call(sim, '/agents')).status, 200);
  });
});

test('timeoutRate 1 holds each request for timeoutMs, then answers', async () => {
  await withSim({ faults: { timeoutRate: 1, timeoutMs: 150 } }, async (sim) => {
    const started = Date.now();
    const { status } = await call(sim, '/agents');
    assert.equal(status, 200);
    assert.ok(Date.now() - started >= 140);
    assert.equal(sim.stats()['faults.timeout'], 1);
  });
});

test('stop releases requests held by the timeout fault', async () => {
  const sim = await FreshchatSimulator.start({ log: quiet, faults: { timeoutRate: 1 } });
  const pending = call(sim, '/agents').catch((error: Error) => ({ status: 0, error }));
  await new Promise((resolve) => setTimeout(resolve, 50));
  const started = Date.now();
  await sim.stop();
  await pending;
  assert.ok(Date.now() - started < 2000, 'not held for the default 30 s');
});

test('extraFieldsRate 1 adds unknown fields to the objects of every response', async () => {
  await withSim({ faults: { extraFieldsRate: 1 } }, async (sim) => {
    const { body } = await call(sim, '/agents');
    assert.ok(body.agents.every((a: Record<string, unknown>) => 'x_experiment' in a));
    assert.ok(!('x_experiment' in (sim.snapshot().agents[0] as object)), 'the snapshot is the plain data');
  });
});

test('invalid fault and rate-limit settings are refused', async () => {
  await assert.rejects(
    FreshchatSimulator.start({ log: quiet, faults: { serverErrorRate: 2 } }),
    /between 0 and 1/,
  );
  await withSim({}, async (sim) => {
    assert.throws(() => sim.setRateLimit({ requestsPerMinute: 0 }), /requestsPerMinute/);
  });
});
