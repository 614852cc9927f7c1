/**
 * Each Freshchat resource sync against a fake client and runtime (test/helpers/freshchat-harness.ts):
 * message order, cursors that move only over what was read, one bad entity not stopping the
 * others, users' cursor and backfill (reports: freshchat-reports.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { badRequestError, FreshchatUnavailableError } from '../../producers/freshchat/errors.ts';
import { messageOrder, syncConversations } from '../../producers/freshchat/resources/conversations.ts';
import { syncUsers, USERS_CURSOR } from '../../producers/freshchat/resources/users.ts';
import { FAILURES_IN_A_ROW } from '../../producers/freshchat/sync-context.ts';
import type { SourceOffset, SourcePartition } from '../../producers/source.ts';
import {
  at,
  CURSOR_AT_10,
  conversationRoutes,
  harness,
  message,
  messagesRoute,
  type Route,
  routedClient,
  USER_U1,
  written,
} from '../helpers/freshchat-harness.ts';

test('message order is read from the items: first against last, else across pages', () => {
  assert.equal(messageOrder([message(3), message(2), message(1)]), 'newest-first');
  assert.equal(messageOrder([message(1), message(2)]), 'oldest-first');
  assert.equal(messageOrder([message(4)]), undefined);
  assert.equal(messageOrder([message(4)], message(5)), 'newest-first');
  assert.equal(messageOrder([message(4)], message(3)), 'oldest-first');
  assert.equal(messageOrder([{ id: 'x' }, { id: 'y' }]), undefined);
});

for (const withPagination of [false, true])
  test(`messages listed oldest first, from_time ignored: the new ones on the last page are found (pagination ${withPagination})`, async () => {
    const requests: string[] = [];
    const h = harness(
      routedClient(conversationRoutes(messagesRoute(12, 'oldest-first', withPagination)), requests),
      {
        env: { FRESHCHAT_MESSAGES_PAGE_SIZE: '5' },
        offsets: CURSOR_AT_10,
      },
    );
    await syncConversations(h.s);
    assert.deepEqual(
      written(h.pages, 'freshchat.messages').map((m) => m.id),
      ['m11', 'm12'],
    );
    assert.deepEqual(h.offset({ resource: 'conversations', id: 'c1' })?.ids, ['m12']);
    assert.equal(requests.filter((r) => r.includes('/messages')).length, 3);
  });

test('messages listed newest first: paging stops at the page that reaches the cursor', async () => {
  const requests: string[] = [];
  const h = harness(routedClient(conversationRoutes(messagesRoute(12, 'newest-first')), requests), {
    env: { FRESHCHAT_MESSAGES_PAGE_SIZE: '5' },
    offsets: CURSOR_AT_10,
  });
  await syncConversations(h.s);
  assert.deepEqual(
    written(h.pages, 'freshchat.messages').map((m) => m.id),
    ['m11', 'm12'],
  );
  assert.deepEqual(
    requests.filter((r) => r.includes('/messages')),
    ['GET /conversations/c1/messages page=1'],
  );
});

test('the updated_time cursor stays when the messages could not be read (404, or 200 without a list)', async () => {
  const stored = { h: 'old', u: at(10), t: at(10), ids: ['m10'] };
  for (const [name, answer] of [
    ['404', undefined],
    ['200 without messages', { code: 200, status: 'OK' }],
  ] as const) {
    const h = harness(routedClient(conversationRoutes(answer)), {
      offsets: [USER_U1, [{ resource: 'conversations', id: 'c1' }, stored]],
    });
    await syncConversations(h.s);
    const after = h.offset({ resource: 'conversations', id: 'c1' });
    assert.equal(after?.u, at(10), `${name}: u moved`);
    assert.equal(after?.t, at(10), `${name}: t moved`);
    assert.deepEqual(written(h.pages, 'freshchat.messages'), [], name);
  }
});

test('one conversation failing or refused does not stop the others; the failure marks the resource incomplete', async () => {
  const conversation = (id: string) => ({ conversation_id: id, status: 'new', updated_time: at(1) });
  const h = harness(
    routedClient({
      'GET /users/u1/conversations': { conversations: [{ id: 'c1' }, { id: 'c2' }, { id: 'c3' }] },
      'GET /users/u2/conversations': new FreshchatUnavailableError(
        'GET /users/u2/conversations failed 7 times',
      ),
      'GET /users/u3/conversations': { conversations: [{ id: 'c4' }] },
      'GET /conversations/c1': new FreshchatUnavailableError('GET /conversations/c1 failed 7 times'),
      'GET /conversations/c2': badRequestError(400, 'GET /conversations/c2', { status: 'INVALID_ID' }),
      'GET /conversations/c3': conversation('c3'),
      'GET /conversations/c4': conversation('c4'),
      'GET /conversations/c3/messages': { messages: [] },
      'GET /conversations/c4/messages': { messages: [] },
    }),
    {
      env: { FRESHCHAT_CONCURRENCY: '1' },
      offsets: [
        USER_U1,
        [{ resource: 'users', id: 'u2' }, { h: 'x' }],
        [{ resource: 'users', id: 'u3' }, { h: 'x' }],
      ],
    },
  );
  await syncConversations(h.s);
  assert.deepEqual(
    written(h.pages, 'freshchat.conversations').map((c) => c.conversation_id),
    ['c3', 'c4'],
  );
  assert.equal(h.s.progress.skipped, 1);
  assert.match(h.s.progress.incomplete.conversations ?? '', /2 requests failed/);
  assert.equal(h.offset({ resource: 'conversations', id: 'c1' }), undefined);
});

test('the API down for every entity stops the resource after a few failures instead of trying each one', async () => {
  const requests: string[] = [];
  const users = Array.from({ length: 20 }, (_, i) => `u${i}`);
  const routes: Record<string, unknown> = {};
  for (const u of users) routes[`GET /users/${u}/conversations`] = new FreshchatUnavailableError('down');
  const h = harness(routedClient(routes, requests), {
    env: { FRESHCHAT_CONCURRENCY: '1' },
    offsets: users.map((id) => [{ resource: 'users', id }, { h: 'x' }] as [SourcePartition, SourceOffset]),
  });
  await assert.rejects(syncConversations(h.s), FreshchatUnavailableError);
  assert.equal(requests.length, FAILURES_IN_A_ROW);
});

test('user conversations without pagination: on to page 2.. while pages are full and bring new ids', async () => {
  const requests: string[] = [];
  const pages: Record<number, { id: string }[]> = {
    1: [{ id: 'c1' }, { id: 'c2' }],
    2: [{ id: 'c3' }, { id: 'c4' }],
    3: [{ id: 'c5' }],
  };
  const routes: Record<string, unknown> = {
    'GET /users/u1/conversations': (q: Record<string, unknown>) => ({
      conversations: pages[Number(q.page)] ?? [],
    }),
  };
  for (let i = 1; i <= 5; i++) {
    routes[`GET /conversations/c${i}`] = { conversation_id: `c${i}`, updated_time: at(1) };
    routes[`GET /conversations/c${i}/messages`] = { messages: [] };
  }
  const h = harness(routedClient(routes, requests), {
    env: { FRESHCHAT_PAGE_SIZE: '2' },
    offsets: [USER_U1],
  });
  await syncConversations(h.s);
  assert.equal(written(h.pages, 'freshchat.conversations').length, 5);

  // A server that ignores `page` answers page 1 again: the repeat ends the list.
  const again: string[] = [];
  const ignoring = harness(
    routedClient({ ...routes, 'GET /users/u1/conversations': { conversations: pages[1] } }, again),
    { env: { FRESHCHAT_PAGE_SIZE: '2' }, offsets: [USER_U1] },
  );
  await syncConversations(ignoring.s);
  assert.equal(again.filter((r) => r.includes('/users/u1/conversations')).length, 2);
});

function usersRoute(pages: Record<number, unknown>, queries: Record<string, unknown>[] = []): Route {
  return (query) => {
    queries.push(query);
    return pages[Number(query.page)];
  };
}

test('users: the cursor moves, normalised to UTC, only when the list provably ended', async () => {
  const done = harness(
    routedClient({
      'GET /users': usersRoute({
        1: {
          users: [{ id: 'a', created_time: '2025-03-01T10:00:00.000+05:30' }],
          pagination: { total_pages: 2 },
        },
        2: { users: [{ id: 'b', created_time: '2025-02-01T00:00:00.000Z' }], pagination: { total_pages: 2 } },
      }),
    }),
    { env: { FRESHCHAT_PAGE_SIZE: '5' } },
  );
  await syncUsers(done.s);
  assert.equal(written(done.pages, 'freshchat.users').length, 2);
  assert.deepEqual(done.offset(USERS_CURSOR), { created_from: '2025-03-01T04:30:00.000Z' });

  const cut = harness(
    routedClient({
      'GET /users': usersRoute({
        1: { users: [{ id: 'a', created_time: '2025-03-01T00:00:00.000Z' }], pagination: { total_pages: 3 } },
        2: '<html>gateway</html>',
      }),
    }),
    { offsets: [[USERS_CURSOR, { created_from: '2025-01-01T00:00:00.000Z' }]] },
  );
  await assert.rejects(syncUsers(cut.s), FreshchatUnavailableError);
  assert.deepEqual(cut.offset(USERS_CURSOR), { created_from: '2025-01-01T00:00:00.000Z' });
});

test('users backfill: from after the cursor it leaves the cursor; from before it, the cursor never goes back', async () => {
  const pages = { 1: { users: [{ id: 'n', created_time: '2025-05-01T00:00:00.000Z' }] } };
  const stored: [SourcePartition, SourceOffset] = [
    USERS_CURSOR,
    { created_from: '2025-04-01T00:00:00.000Z' },
  ];
  const later = harness(routedClient({ 'GET /users': usersRoute(pages) }), {
    backfill: true,
    since: '2025-04-20T00:00:00.000Z',
    offsets: [stored],
  });
  await syncUsers(later.s);
  assert.equal(written(later.pages, 'freshchat.users').length, 1);
  assert.deepEqual(later.offset(USERS_CURSOR), stored[1], 'the cursor jumped over users never listed');

  const queries: Record<string, unknown>[] = [];
  const old = { 1: { users: [{ id: 'o', created_time: '2025-02-01T00:00:00.000Z' }] } };
  const earlier = harness(routedClient({ 'GET /users': usersRoute(old, queries) }), {
    backfill: true,
    since: '2025-01-01T00:00:00.000Z',
    offsets: [stored],
  });
  await syncUsers(earlier.s);
  assert.equal(queries[0]?.created_from, '2025-01-01T00:00:00.000Z');
  assert.deepEqual(earlier.offset(USERS_CURSOR), stored[1], 'the cursor went back');
});
