/**
 * The Freshchat poller against the simulator, on the real stack: a pass writes exactly the
 * simulator's entities; a second pass writes nothing; new messages are written once; a wrong
 * key stops with exit 3 having written nothing.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FreshchatSimulator } from '../../producers/freshchat/simulator/index.ts';
import { runCli } from '../helpers/cli.ts';
import { assertExactly, freshchatEnv, recordsOf } from '../helpers/freshchat.ts';

let sim: FreshchatSimulator;

before(async () => {
  sim = await FreshchatSimulator.start({
    seed: 7,
    initial: { users: 30, conversationsPerUser: 2, messagesPerConversation: 5 },
  });
});
after(() => sim.stop());

test('sync --once writes exactly the simulator’s entities; a second pass writes nothing; new messages are written once', async () => {
  const env = {
    ...freshchatEnv(sim),
    FRESHCHAT_RESOURCES:
      'account_configuration,users,conversations,messages,agents,agent_statuses,groups,channels,outbound_messages',
  };
  const first = await runCli(['freshchat', 'sync', '--once'], env);
  assert.equal(first.code, 0, first.stderr);
  const counts = await assertExactly(env, sim);
  assert.ok((counts['freshchat.messages'] ?? 0) > 100, `messages: ${JSON.stringify(counts)}`);
  assert.equal((await recordsOf(env, 'freshchat.account_configuration')).length, 1);

  const second = await runCli(['freshchat', 'sync', '--once'], env);
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(await assertExactly(env, sim), counts, 'a pass over unchanged data wrote records');
  assert.match(second.stdout, /freshchat: 0 records written/);

  const added = await sim.addMessages(7);
  const third = await runCli(['freshchat', 'sync', '--once'], env);
  assert.equal(third.code, 0, third.stderr);
  const messages = await recordsOf(env, 'freshchat.messages');
  assert.equal(messages.length, (counts['freshchat.messages'] ?? 0) + 7);
  const latest = messages.slice(-7).map((m) => m.key);
  assert.deepEqual(new Set(messages.map((m) => m.key)).size, messages.length);
  for (const m of added)
    assert.ok(
      messages.some((r) => r.key === m.id),
      `new message ${m.id} missing`,
    );
  assert.equal(latest.length, 7);
  // The records carry the source's event time, not the time of the write.
  const one = messages.find((r) => r.key === added[0]?.id);
  assert.equal(one?.timestamp, Date.parse(String(added[0]?.created_time)));
});

test('raw reports: the Extract flow (job, poll, CSV) writes each row once, and a second pass none', async () => {
  const env = {
    ...freshchatEnv(sim),
    FRESHCHAT_RESOURCES: 'reports',
    FRESHCHAT_REPORT_EVENTS: 'Conversation-Created,Message-Sent',
    FRESHCHAT_REPORT_LOOKBACK_DAYS: '3650',
    FRESHCHAT_REPORT_WINDOW_HOURS: '744',
    FRESHCHAT_SINCE: '2025-06-01T00:00:00Z',
  };
  const first = await runCli(['freshchat', 'sync', '--once'], env);
  assert.equal(first.code, 0, first.stderr);
  const rows = await recordsOf(env, 'freshchat.report_rows');
  const created = rows.filter((r) => r.value?.event === 'Conversation-Created');
  assert.equal(
    created.length,
    sim.snapshot().conversations.length,
    'one Conversation-Created row per conversation',
  );
  assert.equal(new Set(rows.map((r) => r.value?.row_id)).size, rows.length, 'a row id twice');
  const second = await runCli(['freshchat', 'sync', '--once'], env);
  assert.equal(second.code, 0, second.stderr);
  assert.equal((await recordsOf(env, 'freshchat.report_rows')).length, rows.length);
});

test('a wrong API key stops the sync with exit 3 and a clear message, having written nothing', async () => {
  const env = { ...freshchatEnv(sim), FRESHCHAT_API_KEY: 'wrong-key' };
  const result = await runCli(['freshchat', 'sync', '--once'], env);
  assert.equal(result.code, 3, result.stderr);
  assert.match(result.stderr, /Freshchat refused GET \/accounts\/configuration with 401/);
  assert.match(result.stderr, /FRESHCHAT_API_KEY/);
  assert.doesNotMatch(result.stderr, /wrong-key/, 'the key must never be printed');
  for (const topic of ['freshchat.users', 'freshchat.agents', '_offsets'])
    assert.equal((await recordsOf(env, topic).catch(() => [])).length, 0, `${topic} has records`);
});
