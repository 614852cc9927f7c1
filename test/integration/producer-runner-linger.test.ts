/**
 * The producer runtime's linger (CHATSTREAM_PRODUCER_LINGER_MS), on the real stack: pages
 * emitted with `linger` wait for the next ones and share one transaction; a page someone waits
 * for (no `linger`), a flush (a Freshchat step waiting on its window of emits) or a stop ends
 * the wait at once, so the linger never holds a caller that waits. The linger is set far longer than the test may take, so "at once" cannot be luck.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { FreshchatSimulator } from '../../producers/freshchat/simulator/index.ts';
import { EmitWindow } from '../../producers/freshchat/sync-context.ts';
import type { SourceRunner } from '../../producers/runtime/runner.ts';
import type { SourceContext } from '../../producers/source.ts';
import { configOf, freshchatEnv, freshchatRunner, recordsOf } from '../helpers/freshchat.ts';

const LINGER_MS = 60_000;

async function transactions(metrics: Registry): Promise<number> {
  const metric = metrics.getSingleMetric('chatstream_source_transactions_total');
  return (await metric?.get())?.values.reduce((n, v) => n + v.value, 0) ?? 0;
}

async function withRunner(
  seed: number,
  fn: (
    runner: SourceRunner,
    users: Record<string, unknown>[],
    metrics: Registry,
    env: NodeJS.ProcessEnv,
  ) => Promise<void>,
): Promise<void> {
  const sim = await FreshchatSimulator.start({
    seed,
    initial: { users: 6, conversationsPerUser: 0, messagesPerConversation: 0 },
  });
  try {
    const env = { ...freshchatEnv(sim), CHATSTREAM_PRODUCER_LINGER_MS: String(LINGER_MS) };
    const config = configOf(env);
    const metrics = new Registry();
    const runner = freshchatRunner(config, metrics);
    await runner.start();
    try {
      await fn(runner, sim.snapshot().users as unknown as Record<string, unknown>[], metrics, env);
    } finally {
      await runner.stop();
    }
  } finally {
    await sim.stop();
  }
}

test('lingering pages share one transaction with the page someone waits for, committed at once', {
  timeout: 120_000,
}, async () => {
  await withRunner(41, async (runner, users, metrics, env) => {
    const page = (user: Record<string, unknown> | undefined) => ({
      records: [{ kind: 'freshchat.users', value: user as Record<string, unknown> }],
    });
    const lingering = users.slice(0, 5).map((user) => runner.emit(page(user), { linger: true }));
    const started = Date.now();
    await runner.emit(page(users[5])); // awaited by its caller: no linger
    await Promise.all(lingering);
    assert.ok(Date.now() - started < LINGER_MS / 2, 'the page waited for the linger');
    assert.equal(await transactions(metrics), 1, 'the six pages did not share one transaction');
    const keys = (await recordsOf(env, 'freshchat.users')).map((r) => r.key).sort();
    assert.deepEqual(keys, users.map((u) => String(u.id)).sort());
  });
});

test('a stop commits a lingering page at once', { timeout: 120_000 }, async () => {
  await withRunner(42, async (runner, users, metrics, env) => {
    const started = Date.now();
    const lingering = runner.emit(
      { records: [{ kind: 'freshchat.users', value: users[0] as Record<string, unknown> }] },
      { linger: true },
    );
    await runner.stop();
    await lingering;
    assert.ok(Date.now() - started < LINGER_MS / 2, 'the stop waited for the linger');
    assert.equal(await transactions(metrics), 1);
    assert.deepEqual(
      (await recordsOf(env, 'freshchat.users')).map((r) => r.key),
      [String(users[0]?.id)],
    );
  });
});

test('a window of lingering emits that is full, and its drain, end the linger at once', {
  timeout: 120_000,
}, async () => {
  await withRunner(43, async (runner, users, metrics, env) => {
    // What EmitWindow uses of the runtime (the Freshchat conversations step's window).
    const runtime = {
      emit: (page, options) => runner.emit(page, options),
      flush: () => runner.flush(),
    } as Pick<SourceContext, 'emit' | 'flush'> as SourceContext;
    const window = new EmitWindow(runtime, 2);
    const started = Date.now();
    for (const user of users.slice(0, 5))
      await window.emit({ records: [{ kind: 'freshchat.users', value: user as Record<string, unknown> }] });
    await window.drain();
    assert.ok(
      Date.now() - started < LINGER_MS / 2,
      `the window waited for the linger (${Date.now() - started} ms)`,
    );
    assert.ok((await transactions(metrics)) >= 2, 'the full window committed before the drain');
    const keys = (await recordsOf(env, 'freshchat.users')).map((r) => r.key).sort();
    assert.deepEqual(
      keys,
      users
        .slice(0, 5)
        .map((u) => String(u.id))
        .sort(),
    );
  });
});
