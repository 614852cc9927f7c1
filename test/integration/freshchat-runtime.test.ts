/**
 * The producer runtime's stops, on the real stack: a second process with the same instance id
 * fences the first, which stops with exit 5 and says why (no two writers); Kafka unreachable
 * at start is exit 5 naming the setting.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FreshchatSimulator } from '../../producers/freshchat/simulator/index.ts';
import { runCli, spawnCli } from '../helpers/cli.ts';
import { freshchatEnv, recordsOf } from '../helpers/freshchat.ts';
import { freePort } from '../helpers/names.ts';
import { duplicateKeys } from '../helpers/topic-records.ts';

let sim: FreshchatSimulator;
before(async () => {
  sim = await FreshchatSimulator.start({
    seed: 9,
    initial: { users: 10, conversationsPerUser: 2, messagesPerConversation: 4 },
  });
});
after(() => sim.stop());

const sync = (env: NodeJS.ProcessEnv) => spawnCli(['freshchat', 'sync'], env);

test('a second process with the same instance id fences the first, which stops with exit 5', {
  timeout: 120_000,
}, async () => {
  const env = {
    ...freshchatEnv(sim),
    FRESHCHAT_RESOURCES: 'users,conversations,messages',
    FRESHCHAT_SYNC_INTERVAL_SECONDS: '1',
  };
  const first = sync(env);
  const deadline = Date.now() + 60_000;
  while (!/source ready/.test(first.stderr()) && Date.now() < deadline) await sleep(200);
  const second = sync(env);
  try {
    // New data keeps both trying to write; the first one's next transaction is fenced.
    let code: number | null | 'running' = 'running';
    while (code === 'running' && Date.now() < deadline) {
      await sim.addMessages(2);
      code = await Promise.race([first.exited, sleep(1000).then(() => 'running' as const)]);
    }
    assert.equal(code, 5, `the first process did not stop: ${first.stderr().slice(-2000)}`);
    assert.match(first.stderr(), /another process is writing as transactional id/);
    assert.match(first.stderr(), /CHATSTREAM_PRODUCER_INSTANCE_ID/);
    // The second one normally keeps running. Under load the first can use up its retries of
    // CONCURRENT_TRANSACTIONS, re-initialise and fence the second in turn: then both stop,
    // each with the same message — never both writing.
    if (second.child.exitCode !== null) {
      assert.equal(second.child.exitCode, 5, second.stderr().slice(-2000));
      assert.match(second.stderr(), /another process is writing as transactional id/);
    }
  } finally {
    for (const p of [first, second])
      if (p.child.exitCode === null) process.kill(-(p.child.pid as number), 'SIGTERM');
    await Promise.all([first.exited, second.exited]);
  }
  assert.deepEqual(
    duplicateKeys(await recordsOf(env, 'freshchat.messages')),
    [],
    'a message was written twice',
  );
});

test('Kafka unreachable at start: exit 5 naming CHATSTREAM_KAFKA_BROKERS', { timeout: 120_000 }, async () => {
  const env = { ...freshchatEnv(sim), CHATSTREAM_KAFKA_BROKERS: `127.0.0.1:${await freePort()}` };
  const result = await runCli(['freshchat', 'sync', '--once'], env, 110_000);
  assert.equal(result.code, 5, result.stderr);
  assert.match(result.stderr, /CHATSTREAM_KAFKA_BROKERS/);
  assert.doesNotMatch(result.stderr, /internal error/);
});
