/**
 * The Freshchat simulator changing under the client: tick, addMessages, addUsers and addField
 * must show through the API, keep time moving forward and stay deterministic.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FreshchatSimulator } from '../../producers/freshchat/simulator/index.ts';
import { quiet, withSim } from '../helpers/simulator.ts';

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies, checked by the assertions
async function get(sim: FreshchatSimulator, path: string): Promise<any> {
  const response = await fetch(`${sim.url}${path}`, { headers: { authorization: `Bearer ${sim.apiKey}` } });
  assert.equal(response.status, 200, path);
  return response.json();
}

test('addMessages: new messages show first in their conversation, updated_time is bumped, times increase', async () => {
  await withSim({ seed: 5 }, async (sim) => {
    const before = sim.snapshot();
    const latest = before.messages
      .map((m) => m.created_time)
      .sort()
      .at(-1) as string;
    const added = await sim.addMessages(4);
    assert.equal(added.length, 4);
    const times = added.map((m) => m.created_time);
    assert.deepEqual(times, [...times].sort());
    assert.ok((times[0] as string) > latest, 'after every seeded message');
    assert.equal(new Set(times).size, 4, 'strictly increasing');
    const last = added.at(-1)!;
    const page = await get(sim, `/conversations/${last.conversation_id}/messages?items_per_page=1`);
    assert.deepEqual(page.messages[0], last);
    const conv = await get(sim, `/conversations/${last.conversation_id}`);
    assert.equal(conv.updated_time, last.created_time);
    assert.equal(sim.snapshot().messages.length, before.messages.length + 4);
  });
});

test('tick: new users, conversations and status changes are visible through the API', async () => {
  await withSim(
    { seed: 9, growth: { intervalMs: 60_000, newUserEvery: 1, newConversationEvery: 1 } },
    async (sim) => {
      const result = await sim.tick();
      assert.equal(result.users.length, 1);
      assert.ok(result.messages.length >= 3);
      assert.ok(result.events.some((e) => e.action === 'message_create'));
      const user = result.users[0]!;
      assert.deepEqual(await get(sim, `/users/${user.id}`), user);
      const all = await get(sim, '/users?items_per_page=100');
      assert.equal(all.users.at(-1).id, user.id, 'the newest user is last in created_time order');
      for (const conv of result.conversations)
        assert.deepEqual(await get(sim, `/conversations/${conv.conversation_id}`), conv);
      const statusEvents = [];
      for (let i = 0; i < 10; i++)
        statusEvents.push(...(await sim.tick()).events.filter((e) => e.action !== 'message_create'));
      assert.ok(statusEvents.length > 0, 'some assignments, resolutions or reopenings');
      const actions = new Set(statusEvents.map((e) => e.action));
      assert.ok(actions.has('conversation_resolution') || actions.has('conversation_assignment'));
      const e = statusEvents.at(-1)!;
      const data = Object.values(e.data)[0] as { conversation: { conversation_id: string; status: string } };
      const now = await get(sim, `/conversations/${data.conversation.conversation_id}`);
      assert.ok(['assigned', 'resolved', 'reopened'].includes(now.status));
    },
  );
});

test('a user writing into a resolved conversation reopens it', async () => {
  await withSim({ seed: 3 }, async (sim) => {
    for (let i = 0; i < 20; i++) {
      const { events } = await sim.tick();
      const reopen = events.find((e) => e.action === 'conversation_reopen');
      if (!reopen) continue;
      const { conversation } = reopen.data.reopen as {
        conversation: { conversation_id: string; status: string };
      };
      assert.equal(conversation.status, 'reopened');
      const next = events[events.indexOf(reopen) + 1]!;
      assert.equal(next.action, 'message_create');
      assert.equal((next.data.message as { actor_type: string }).actor_type, 'user');
      return;
    }
    assert.fail('no reopen in 20 ticks');
  });
});

test('same seed and same calls give the same changes', async () => {
  const run = async () => {
    const sim = await FreshchatSimulator.start({ seed: 11, log: quiet });
    try {
      await sim.tick();
      await sim.addMessages(3);
      sim.addUsers(2);
      await sim.tick();
      return sim.snapshot();
    } finally {
      await sim.stop();
    }
  };
  assert.deepEqual(await run(), await run());
});

test('addUsers returns users the API lists', async () => {
  await withSim({ seed: 2 }, async (sim) => {
    const users = sim.addUsers(3);
    assert.equal(users.length, 3);
    const listed = await get(sim, '/users?items_per_page=100');
    assert.equal(listed.pagination.total_items, 23);
    assert.deepEqual(listed.users.slice(-3), users);
  });
});

test('addField: the field appears on every object of the resource, old and new, in API and snapshot', async () => {
  await withSim({ seed: 4 }, async (sim) => {
    sim.addField('messages', 'sentiment_score', (i) => i % 5);
    sim.addField('users', 'segment', () => 'gold');
    sim.addField('conversations', 'cf_region', (i) => (i % 2 === 0 ? 'EU' : 'US'));
    const snap = sim.snapshot();
    assert.ok(
      snap.messages.every((m, i) => (m as unknown as Record<string, unknown>).sentiment_score === i % 5),
    );
    const conv = snap.conversations[0]!;
    const page = await get(sim, `/conversations/${conv.conversation_id}/messages`);
    assert.ok(page.messages.every((m: Record<string, unknown>) => typeof m.sentiment_score === 'number'));
    assert.equal((await get(sim, `/conversations/${conv.conversation_id}`)).cf_region, 'EU');
    assert.ok((await get(sim, '/users')).users.every((u: Record<string, unknown>) => u.segment === 'gold'));
    const [added] = await sim.addMessages(1);
    assert.equal(typeof (added as unknown as Record<string, unknown>).sentiment_score, 'number');
    assert.throws(() => sim.addField('bogus' as 'users', 'x', () => 1), /unknown resource/);
  });
});

test('extraFields adds unknown fields to served objects', async () => {
  await withSim({ seed: 4, extraFields: true }, async (sim) => {
    const users = (await get(sim, '/users')).users as Record<string, unknown>[];
    assert.ok(users.every((u) => typeof u.x_experiment === 'object'));
    assert.ok('x_experiment' in (sim.snapshot().messages[0] as object));
  });
});

test('the growth timer ticks on its own and stops with the simulator', async () => {
  await withSim({ seed: 8, growth: { intervalMs: 20, messagesPerTick: 2 } }, async (sim) => {
    const before = sim.snapshot().messages.length;
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.ok(sim.snapshot().messages.length >= before + 4);
  });
});
