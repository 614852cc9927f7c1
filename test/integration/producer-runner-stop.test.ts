/**
 * A page handed to the producer runtime after its stop has drained is refused (retriable: the
 * next run fetches it again from the cursors), not written by a producer that nothing closes
 * any more. On the real stack.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RetriableError } from '../../core/errors.ts';
import { FreshchatSimulator } from '../../producers/freshchat/simulator/index.ts';
import type { SourceContext } from '../../producers/source.ts';
import { configOf, freshchatEnv, freshchatRunner, recordsOf } from '../helpers/freshchat.ts';

test('emit after stop: refused with a retriable error, nothing of it written', async () => {
  const sim = await FreshchatSimulator.start({
    seed: 31,
    initial: { users: 2, conversationsPerUser: 0, messagesPerConversation: 0 },
  });
  try {
    const env = freshchatEnv(sim);
    const config = configOf(env);
    const runner = freshchatRunner(config);
    await runner.start();
    const [first, second] = sim.snapshot().users as unknown as Record<string, unknown>[];
    let context: SourceContext | undefined;
    await runner.runPass({
      name: 'freshchat',
      async poll(ctx) {
        context = ctx;
        await ctx.emit({ records: [{ kind: 'freshchat.users', value: first as Record<string, unknown> }] });
      },
    });
    await runner.stop();
    const late = (context as SourceContext).emit({
      records: [{ kind: 'freshchat.users', value: second as Record<string, unknown> }],
    });
    await assert.rejects(
      late,
      (error: unknown) => error instanceof RetriableError && /stopped/.test(String(error)),
    );
    const keys = (await recordsOf(env, 'freshchat.users')).map((r) => r.key);
    assert.deepEqual(keys, [String(first?.id)]);
  } finally {
    await sim.stop();
  }
});
