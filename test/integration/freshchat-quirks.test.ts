/**
 * The Freshchat poller against readings of the API SOURCES.md does not confirm, on the real
 * stack: messages listed oldest first with `from_time` ignored (new messages are still found),
 * one conversation that keeps failing or is refused with 400 (the others are still written),
 * and conversation properties as `[{name, value}]`.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { request } from 'undici';
import { FreshchatSimulator } from '../../producers/freshchat/simulator/index.ts';
import { runCli } from '../helpers/cli.ts';
import { assertExactly, ENTITY_CHECKS, freshchatEnv, recordsOf } from '../helpers/freshchat.ts';

const CONVERSATION_TOPICS = ENTITY_CHECKS.filter((c) =>
  ['freshchat.users', 'freshchat.conversations', 'freshchat.messages'].includes(c.topic),
);

test('messages oldest first, from_time ignored, small pages: exact, and new messages are written once', async () => {
  const sim = await FreshchatSimulator.start({
    seed: 21,
    initial: { users: 8, conversationsPerUser: 2, messagesPerConversation: 12 },
    variants: { messagesOrder: 'oldest-first', honourFromTime: false },
  });
  try {
    const env = {
      ...freshchatEnv(sim),
      FRESHCHAT_RESOURCES: 'users,conversations,messages',
      FRESHCHAT_MESSAGES_PAGE_SIZE: '5',
    };
    const first = await runCli(['freshchat', 'sync', '--once'], env);
    assert.equal(first.code, 0, first.stderr);
    const counts = await assertExactly(env, sim, CONVERSATION_TOPICS);

    const added = await sim.addMessages(9);
    const second = await runCli(['freshchat', 'sync', '--once'], env);
    assert.equal(second.code, 0, second.stderr);
    const messages = await recordsOf(env, 'freshchat.messages');
    assert.equal(messages.length, (counts['freshchat.messages'] ?? 0) + added.length);
    for (const m of added)
      assert.ok(
        messages.some((r) => r.key === m.id),
        `new message ${m.id} missing`,
      );
    // Conversations whose updated_time moved are written again (their content changed): only
    // the messages must be exactly the simulator's.
    await assertExactly(
      env,
      sim,
      ENTITY_CHECKS.filter((c) => c.topic === 'freshchat.messages'),
    );
  } finally {
    await sim.stop();
  }
});

/** A proxy in front of the simulator that answers `status` to the requests `fault` picks. */
async function faultyProxy(
  target: string,
  fault: (method: string, path: string) => number | undefined,
): Promise<{ url: string; server: Server }> {
  const origin = new URL(target).origin;
  const server = createServer(async (req, res) => {
    const path = req.url ?? '/';
    const status = fault(req.method ?? 'GET', path.replace(/\?.*/, ''));
    if (status !== undefined) {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: status, status: 'INJECTED', message: 'injected by the test' }));
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const answer = await request(`${origin}${path}`, {
      method: req.method as 'GET',
      headers: {
        authorization: req.headers.authorization ?? '',
        accept: req.headers.accept ?? '*/*',
        ...(req.headers['content-type'] ? { 'content-type': req.headers['content-type'] } : {}),
      },
      body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
    });
    const body = Buffer.from(await answer.body.arrayBuffer());
    res.writeHead(answer.statusCode, { 'content-type': String(answer.headers['content-type'] ?? '') });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}${new URL(target).pathname}`, server };
}

test('one conversation failing (5xx) and one refused (400): every other one is written; the next pass completes', async () => {
  const sim = await FreshchatSimulator.start({
    seed: 23,
    initial: { users: 10, conversationsPerUser: 2, messagesPerConversation: 4 },
  });
  const conversations = sim.snapshot().conversations.map((c) => String(c.conversation_id));
  const [failing, refused] = [conversations[3], conversations[11]] as [string, string];
  let faults = true;
  const proxy = await faultyProxy(sim.url, (method, path) => {
    if (!faults || method !== 'GET') return undefined;
    if (path.endsWith(`/conversations/${failing}`)) return 503;
    if (path.endsWith(`/conversations/${refused}`)) return 400;
    return undefined;
  });
  try {
    const env = {
      ...freshchatEnv(sim),
      FRESHCHAT_BASE_URL: proxy.url,
      FRESHCHAT_RESOURCES: 'users,conversations,messages',
      FRESHCHAT_MAX_RETRIES: '1',
      FRESHCHAT_CONCURRENCY: '1',
    };
    const first = await runCli(['freshchat', 'sync', '--once'], env);
    assert.equal(first.code, 5, `${first.code}: ${first.stderr}`);
    assert.match(first.stderr, /conversations/);
    const snapshot = sim.snapshot();
    const victims = new Set([failing, refused]);
    const written = (await recordsOf(env, 'freshchat.conversations')).map((r) => r.key).sort();
    assert.deepEqual(written, conversations.filter((id) => !victims.has(id)).sort());
    const messages = (await recordsOf(env, 'freshchat.messages')).map((r) => r.key).sort();
    assert.deepEqual(
      messages,
      snapshot.messages
        .filter((m) => !victims.has(String(m.conversation_id)))
        .map((m) => String(m.id))
        .sort(),
    );

    faults = false;
    const second = await runCli(['freshchat', 'sync', '--once'], env);
    assert.equal(second.code, 0, second.stderr);
    await assertExactly(env, sim, CONVERSATION_TOPICS);
  } finally {
    proxy.server.close();
    await sim.stop();
  }
});

test('conversation properties as [{name, value}]: exact', async () => {
  const sim = await FreshchatSimulator.start({
    seed: 25,
    initial: { users: 6, conversationsPerUser: 2, messagesPerConversation: 3 },
    conversationPropertiesAs: 'array',
  });
  try {
    const env = { ...freshchatEnv(sim), FRESHCHAT_RESOURCES: 'users,conversations,messages' };
    const result = await runCli(['freshchat', 'sync', '--once'], env);
    assert.equal(result.code, 0, result.stderr);
    await assertExactly(env, sim, CONVERSATION_TOPICS);
    const conversations = await recordsOf(env, 'freshchat.conversations');
    const withProperties = conversations.filter((r) => r.value?.properties !== undefined);
    assert.ok(withProperties.length > 0, 'no conversation carried properties');
    for (const r of withProperties)
      assert.ok(
        !Array.isArray(r.value?.properties) && typeof r.value?.properties === 'object',
        `properties not an object: ${JSON.stringify(r.value?.properties)}`,
      );
  } finally {
    await sim.stop();
  }
});
