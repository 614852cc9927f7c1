/**
 * The Freshchat simulator's REST API over real HTTP: auth, the paging envelope, filters, caps,
 * messages order and from_time, single objects, errors, ids, and determinism by seed.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FreshchatSimulator, type User } from '../../producers/freshchat/simulator/index.ts';
import { quiet } from '../helpers/simulator.ts';

let sim: FreshchatSimulator;

async function get(
  path: string,
  s = sim,
  key = s.apiKey,
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies, checked by the assertions
): Promise<{ status: number; body: any; text: string }> {
  const response = await fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text), text };
}

before(async () => {
  sim = await FreshchatSimulator.start({ seed: 42, log: quiet });
});
after(() => sim.stop());

test('url, keys and the account configuration', async () => {
  assert.match(sim.url, /^http:\/\/127\.0\.0\.1:\d+\/v2$/);
  assert.equal(sim.apiKey, 'simulator-key');
  assert.match(sim.publicKeyPem, /^-----BEGIN PUBLIC KEY-----/);
  assert.match(sim.privateKeyPem, /PRIVATE KEY-----/);
  const { status, body } = await get('/accounts/configuration');
  assert.equal(status, 200);
  assert.match(body.app_id, /^[0-9a-f-]{36}$/);
  assert.equal(typeof body.account_name, 'string');
  assert.deepEqual(body, sim.snapshot().accountConfiguration);
});

test('a missing or wrong Bearer token is a 401 with the Freshchat error body', async () => {
  const none = await fetch(`${sim.url}/users`);
  const body = (await none.json()) as Record<string, unknown>;
  assert.equal(none.status, 401);
  assert.deepEqual(Object.keys(body), ['code', 'status', 'message']);
  assert.equal(body.code, 401);
  assert.equal(body.status, 'UNAUTHORIZED');
  assert.equal((await get('/users', sim, 'wrong')).status, 401);
});

test('unknown paths are 404 with a body; bad page parameters are 400', async () => {
  const missing = await get('/nope');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.code, 404);
  assert.equal((await get('/agents/no-such-agent')).body.status, 'AGENT_NOT_FOUND');
  assert.equal((await get('/conversations/no-such')).status, 404);
  for (const query of ['page=0', 'page=x', 'items_per_page=0', 'items_per_page=101', 'items_per_page=-1']) {
    const { status, body } = await get(`/users?${query}`);
    assert.equal(status, 400, query);
    assert.equal(body.code, 400);
  }
  assert.equal((await get('/users?items_per_page=100')).status, 200);
});

test('users: the paging envelope, every user exactly once in created_time order, no next_page at the end', async () => {
  const seen: User[] = [];
  let page = 1;
  let totalPages = 1;
  do {
    const { status, body } = await get(`/users?items_per_page=7&page=${page}`);
    assert.equal(status, 200);
    assert.deepEqual(Object.keys(body), ['users', 'pagination', 'links']);
    assert.deepEqual(body.pagination, {
      total_items: 20,
      total_pages: 3,
      current_page: page,
      items_per_page: 7,
    });
    assert.deepEqual(body.links.first_page, {
      href: '/users?items_per_page=7&page=1',
      rel: 'user',
      type: 'GET',
    });
    assert.equal(body.links.last_page.href, '/users?items_per_page=7&page=3');
    assert.equal('previous_page' in body.links, page > 1);
    assert.equal('next_page' in body.links, page < 3);
    seen.push(...body.users);
    totalPages = body.pagination.total_pages;
    page += 1;
  } while (page <= totalPages);
  const ids = seen.map((u) => u.id);
  assert.equal(new Set(ids).size, 20);
  assert.deepEqual(new Set(ids), new Set(sim.snapshot().users.map((u) => u.id)));
  const keys = seen.map((u) => `${u.created_time}|${u.id}`);
  assert.deepEqual(keys, [...keys].sort(), 'ascending created_time, ties by id');
  assert.ok(
    seen.some((u, i) => i > 0 && seen[i - 1]?.created_time === u.created_time),
    'some users share a created_time',
  );
  for (const u of seen) assert.match(u.created_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const beyond = await get('/users?items_per_page=7&page=9');
  assert.equal(beyond.status, 200);
  assert.deepEqual(beyond.body.users, []);
  assert.equal(beyond.body.pagination.total_items, 20);
  assert.equal(beyond.body.pagination.current_page, 9);
});

test('users: created_from / created_to filter (inclusive) and sort_order=desc', async () => {
  const all = (await get('/users?items_per_page=100')).body.users as User[];
  const pivot = all[10] as User;
  const from = (await get(`/users?items_per_page=100&created_from=${pivot.created_time}`)).body
    .users as User[];
  assert.deepEqual(
    from.map((u) => u.id),
    all.filter((u) => u.created_time >= pivot.created_time).map((u) => u.id),
  );
  const to = (await get(`/users?items_per_page=100&created_to=${pivot.created_time}`)).body.users as User[];
  assert.equal(
    to.length + from.length,
    all.length + all.filter((u) => u.created_time === pivot.created_time).length,
  );
  assert.equal((await get('/users?created_from=yesterday')).status, 400);
  const desc = (await get('/users?items_per_page=100&sort_order=desc')).body.users as User[];
  assert.deepEqual(
    desc.map((u) => u.id),
    all.map((u) => u.id).reverse(),
  );
  assert.equal((await get(`/users/${pivot.id}`)).body.id, pivot.id);
  assert.equal((await get('/users/nobody')).body.status, 'USER_NOT_FOUND');
});

test('users: a date filter can be made required', async () => {
  const strict = await FreshchatSimulator.start({ seed: 42, requireUserDateFilter: true, log: quiet });
  try {
    assert.equal((await get('/users', strict)).status, 400);
    assert.equal((await get('/users?created_to=2030-01-01T00:00:00.000Z', strict)).status, 200);
  } finally {
    await strict.stop();
  }
});

test('agents (filters), groups (sort), channels, agent statuses and outbound messages', async () => {
  const snap = sim.snapshot();
  const agents = (await get('/agents')).body;
  assert.equal(agents.agents.length, 5);
  const group = snap.groups[0]?.id as string;
  const inGroup = (await get(`/agents?groups=${group}`)).body.agents as { groups: string[] }[];
  assert.ok(inGroup.length > 0 && inGroup.every((a) => a.groups.includes(group)));
  const deactivated = (await get('/agents?is_deactivated=true')).body.agents as { is_deactivated: boolean }[];
  assert.deepEqual(
    deactivated.map((a) => a.is_deactivated),
    [true],
  );
  const available = (await get('/agents?availability_status=AVAILABLE')).body.agents as {
    availability_status: string;
  }[];
  assert.ok(available.every((a) => a.availability_status === 'AVAILABLE'));
  assert.equal((await get(`/agents/${snap.agents[1]?.id}`)).body.id, snap.agents[1]?.id);
  const names = ((await get('/groups?sort_by=name&sort_order=desc')).body.groups as { name: string }[]).map(
    (g) => g.name,
  );
  assert.deepEqual(names, [...names].sort().reverse());
  assert.ok(((await get('/groups')).body.groups[0].agents as unknown[]).length > 0);
  assert.equal((await get('/channels')).body.channels.length, 2);
  const states = (await get('/agents/status')).body.states as { id: string; name: string }[];
  assert.equal(states.length, 3);
  const outbound = (await get('/outbound-messages')).body;
  assert.equal(outbound.outbound_messages.length, 5);
  assert.equal(outbound.pagination.total_items, 5);
  assert.equal(typeof outbound.outbound_messages[0].created_on, 'number');
  const requestId = outbound.outbound_messages[2].request_id;
  assert.equal((await get(`/outbound-messages?request_id=${requestId}`)).body.outbound_messages.length, 1);
});

test('conversations: the documented object; user conversations; numeric and legacy ids', async () => {
  const snap = sim.snapshot();
  const conv = snap.conversations.find((c) => c.status === 'assigned') ?? snap.conversations[0];
  const { body } = await get(`/conversations/${conv?.conversation_id}`);
  assert.deepEqual({ ...body }, conv);
  assert.equal(typeof body.conversation_internal_id, 'number');
  assert.ok(['new', 'assigned', 'resolved', 'reopened'].includes(body.status));
  assert.equal(typeof body.properties, 'object');
  assert.ok(!Array.isArray(body.properties));
  assert.match(body.assigned_agent_id, /^[0-9a-f-]{36}$/);
  const byNumber = await get(`/conversations/${body.conversation_internal_id}`);
  assert.equal(byNumber.body.conversation_id, body.conversation_id);
  const mine = (await get(`/users/${body.user_id}/conversations`)).body;
  assert.ok(mine.conversations.some((c: { id: string }) => c.id === body.conversation_id));
  const ids = snap.conversations.map((c) => c.conversation_id);
  assert.ok(
    ids.some((id) => /^[0-9a-f]{32}$/.test(id)),
    'a 32-hex legacy id',
  );
  assert.ok(
    ids.some((id) => id.endsWith('_feedback')),
    'an <app>_<user>_feedback id',
  );
  assert.ok(
    snap.users.some((u) => /^[A-Z][a-z]*_alias[0-9a-f]{32}$/.test(u.id)),
    'an alias user id',
  );
  const legacy = ids.find((id) => id.endsWith('_feedback')) as string;
  assert.equal((await get(`/conversations/${legacy}`)).body.conversation_id, legacy);
});

test('conversation properties can be served as a {name, value} array', async () => {
  const other = await FreshchatSimulator.start({ seed: 42, conversationPropertiesAs: 'array', log: quiet });
  try {
    const id = other.snapshot().conversations[0]?.conversation_id;
    const { body } = await get(`/conversations/${id}`, other);
    assert.ok(Array.isArray(body.properties));
    assert.deepEqual(Object.keys(body.properties[0]), ['name', 'value']);
  } finally {
    await other.stop();
  }
});

test('messages: newest first, paged with link and pagination, from_time honoured, cap 50', async () => {
  const snap = sim.snapshot();
  const conv = snap.conversations[3]?.conversation_id as string;
  const expected = snap.messages
    .filter((m) => m.conversation_id === conv)
    .sort((a, b) => b.created_time.localeCompare(a.created_time));
  const first = (await get(`/conversations/${conv}/messages?items_per_page=4`)).body;
  assert.deepEqual(Object.keys(first), ['messages', 'link', 'pagination']);
  assert.deepEqual(first.messages, expected.slice(0, 4));
  assert.equal(first.link.href, `/conversations/${conv}/messages?items_per_page=4&page=2`);
  const second = (await get(`/conversations/${conv}/messages?items_per_page=4&page=2`)).body;
  assert.deepEqual(second.messages, expected.slice(4));
  assert.equal(second.link, undefined, 'no link on the last page');
  const cut = expected[2]?.created_time as string;
  const since = (await get(`/conversations/${conv}/messages?items_per_page=50&from_time=${cut}`)).body;
  assert.deepEqual(since.messages, expected.slice(0, 3));
  assert.equal((await get(`/conversations/${conv}/messages?items_per_page=51`)).status, 400);
  const m = first.messages[0];
  assert.match(m.freshchat_conversation_id, /^\d+$/);
  assert.match(m.interaction_id, /^\d{15}-\d{13}$/);
});

test('messages: a realistic mix of part kinds, actors, sources and languages', () => {
  const messages = sim.snapshot().messages;
  const kinds = new Set(messages.flatMap((m) => m.message_parts.map((p) => Object.keys(p)[0])));
  for (const kind of [
    'text',
    'image',
    'url_button',
    'quick_reply_button',
    'collection',
    'callback',
    'reference',
  ])
    assert.ok(kinds.has(kind), kind);
  assert.deepEqual(new Set(messages.map((m) => m.actor_type)), new Set(['user', 'agent', 'system']));
  const sources = new Set(messages.map((m) => m.message_source));
  assert.ok(
    [...sources].some((s) => s === s.toLowerCase()) && [...sources].some((s) => s === s.toUpperCase()),
  );
  assert.ok(messages.some((m) => m.message_type === 'private'));
  assert.ok(messages.some((m) => m.in_reply_to) && messages.some((m) => m.meta_data));
  const texts = JSON.stringify(messages.map((m) => m.message_parts));
  assert.match(texts, /[\uac00-\ud7af]/, 'Korean');
  assert.match(texts, /\p{Extended_Pictographic}/u, 'emoji');
});

test('the same seed serves identical JSON; another seed does not', async () => {
  const twin = await FreshchatSimulator.start({ seed: 42, log: quiet });
  const other = await FreshchatSimulator.start({ seed: 43, log: quiet });
  try {
    const conv = sim.snapshot().conversations[7]?.conversation_id;
    for (const path of [
      '/users?items_per_page=100',
      '/agents',
      '/groups',
      `/conversations/${conv}/messages`,
    ]) {
      assert.equal((await get(path, twin)).text, (await get(path, sim)).text, path);
    }
    assert.deepEqual(twin.snapshot(), sim.snapshot());
    assert.notEqual((await get('/users', other)).text, (await get('/users', sim)).text);
  } finally {
    await Promise.all([twin.stop(), other.stop()]);
  }
});

test('variants: oldest-first messages, from_time ignored, next_page kept, no messages pagination, paged user conversations', async () => {
  const other = await FreshchatSimulator.start({
    seed: 42,
    log: quiet,
    variants: {
      messagesOrder: 'oldest-first',
      honourFromTime: false,
      omitNextOnLastPage: false,
      messagesPagination: false,
      userConversationsPaged: true,
      numericConversationIds: false,
    },
  });
  try {
    const snap = other.snapshot();
    const conv = snap.conversations[3]!;
    const expected = snap.messages.filter((m) => m.conversation_id === conv.conversation_id);
    const page = (
      await get(
        `/conversations/${conv.conversation_id}/messages?items_per_page=50&from_time=2100-01-01T00:00:00.000Z`,
        other,
      )
    ).body;
    assert.deepEqual(page.messages, expected, 'oldest first, from_time ignored');
    assert.equal(page.pagination, undefined);
    assert.match(page.link.href, /page=2/, 'a link even on the last page');
    const users = (await get('/users?items_per_page=100', other)).body;
    assert.match(users.links.next_page.href, /page=2/);
    assert.deepEqual((await get('/users?items_per_page=100&page=2', other)).body.users, []);
    const mine = (await get(`/users/${conv.user_id}/conversations`, other)).body;
    assert.deepEqual(Object.keys(mine), ['conversations', 'pagination', 'links']);
    assert.equal((await get(`/conversations/${conv.conversation_internal_id}`, other)).status, 404);
  } finally {
    await other.stop();
  }
});

test('startTime places the seeded history before it and growth after it', async () => {
  const now = '2030-03-01T08:00:00.000Z';
  const other = await FreshchatSimulator.start({ seed: 42, startTime: now, log: quiet });
  try {
    const snap = other.snapshot();
    const times = [...snap.users.map((u) => u.created_time), ...snap.messages.map((m) => m.created_time)];
    assert.ok(times.every((t) => t < now && t > '2030-02-01'));
    const [added] = await other.addMessages(1);
    assert.ok((added?.created_time as string) > now);
  } finally {
    await other.stop();
  }
  await assert.rejects(FreshchatSimulator.start({ startTime: 'soon', log: quiet }), /startTime/);
});
