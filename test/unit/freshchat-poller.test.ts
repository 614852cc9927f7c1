/**
 * The Freshchat poller without servers: the answer table, Retry-After, pacing, report windows,
 * shapes, paging; and each resource sync against a fake client and runtime (message order,
 * cursors that move only over what was read, one bad entity not stopping the others, report
 * jobs and downloads, backfills).
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { loadSettings } from '../../core/config.ts';
import { ConfigError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import type { FreshchatClient } from '../../producers/freshchat/client.ts';
import { freshchatSettings } from '../../producers/freshchat/config.ts';
import {
  badRequestError,
  decide,
  FreshchatUnavailableError,
  RETRY_AFTER_CAP_MS,
  rateLimitWait,
  retryAfterMs,
} from '../../producers/freshchat/errors.ts';
import { EndpointUnavailable, listPages } from '../../producers/freshchat/paging.ts';
import { RateLimiter } from '../../producers/freshchat/rate-limit.ts';
import {
  type MessageOrder,
  messageOrder,
  syncConversations,
} from '../../producers/freshchat/resources/conversations.ts';
import { normalizeConversation } from '../../producers/freshchat/resources/normalize.ts';
import {
  parseCsv,
  reportLinks,
  rowId,
  syncReports,
  windows,
} from '../../producers/freshchat/resources/reports.ts';
import { syncUsers, USERS_CURSOR } from '../../producers/freshchat/resources/users.ts';
import { FreshchatSource } from '../../producers/freshchat/source.ts';
import {
  contentHash,
  EmitWindow,
  FAILURES_IN_A_ROW,
  type SyncContext,
} from '../../producers/freshchat/sync-context.ts';
import type { SourceContext, SourceOffset, SourcePage, SourcePartition } from '../../producers/source.ts';

test('each Freshchat answer maps to one decision', () => {
  const table: [number, unknown, string, string][] = [
    [200, { users: [] }, 'GET', 'ok'],
    [202, { id: 'j1' }, 'POST', 'ok'],
    [200, null, 'GET', 'retry'],
    [200, undefined, 'GET', 'retry'],
    [200, '<html>maintenance</html>', 'GET', 'retry'],
    [200, [1, 2], 'GET', 'ok'], // JSON data: its shape is the caller's to judge
    [201, 'created', 'POST', 'retry'],
    [202, { code: 202, status: 'ACCEPTED', message: 'being processed' }, 'GET', 'retry'],
    [404, { code: 404, status: 'AGENT_NOT_FOUND' }, 'GET', 'not_found'],
    [400, { code: 400, status: 'WRONG_PAGE', message: 'The page does not exist' }, 'GET', 'not_found'],
    [400, { code: 400, status: 'BAD_REQUEST' }, 'GET', 'bad_request'],
    [400, 'WRONG_PAGE', 'GET', 'bad_request'],
    [429, undefined, 'GET', 'rate_limited'],
    [401, undefined, 'GET', 'auth'],
    [403, undefined, 'GET', 'auth'],
    [408, undefined, 'GET', 'retry'],
    [500, undefined, 'GET', 'retry'],
    [503, undefined, 'GET', 'retry'],
    [422, undefined, 'GET', 'bad_request'],
  ];
  for (const [status, body, method, decision] of table)
    assert.equal(decide(status, body, method), decision, `${method} ${status} ${JSON.stringify(body)}`);
});

test('a Retry-After longer than 10 minutes is cut to 10 minutes, and what was asked is kept for the log', () => {
  assert.deepEqual(rateLimitWait('3600', 0), { waitMs: RETRY_AFTER_CAP_MS, askedMs: 3_600_000 });
  assert.equal(RETRY_AFTER_CAP_MS, 600_000);
  assert.deepEqual(rateLimitWait('2', 0), { waitMs: 2000 });
  const { waitMs, askedMs } = rateLimitWait(undefined, 0);
  assert.ok(waitMs > 0 && waitMs <= 1000 && askedMs === undefined);
});

test('Retry-After in seconds or as an HTTP date', () => {
  assert.equal(retryAfterMs('2'), 2000);
  assert.equal(retryAfterMs(['1.5']), 1500);
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
  assert.equal(retryAfterMs(undefined), undefined);
  assert.equal(retryAfterMs('soon'), undefined);
});

test('the rate limiter paces starts to perMinute and every request waits out a cool-down', async () => {
  const limiter = new RateLimiter({ perMinute: 600, concurrency: 1 }); // one start per 100 ms
  const t0 = Date.now();
  await limiter.run(async () => undefined); // the first token is there at once
  await limiter.run(async () => undefined);
  await limiter.run(async () => undefined);
  const paced = Date.now() - t0;
  assert.ok(paced >= 180 && paced < 1000, `three starts took ${paced} ms`);
  limiter.coolDown(Date.now() + 300);
  const t1 = Date.now();
  await limiter.run(async () => undefined);
  assert.ok(Date.now() - t1 >= 290, `the cool-down was not waited out (${Date.now() - t1} ms)`);
});

test('report windows: whole windows only, unless the window in progress is asked for', () => {
  const h = 3_600_000;
  assert.deepEqual(windows(0, 50 * h, 24, false), [
    { start: 0, end: 24 * h },
    { start: 24 * h, end: 48 * h },
  ]);
  assert.deepEqual(windows(0, 50 * h, 24, true).at(-1), { start: 48 * h, end: 50 * h });
  assert.deepEqual(windows(10, 10, 24, true), []);
  const columns = { conversation_id: 'c1' };
  // A row's id is its content, not its window: extracted again in other windows, it is the same row.
  assert.equal(rowId('E', columns, 0), rowId('E', { conversation_id: 'c1' }, 0));
  assert.notEqual(rowId('E', columns, 0), rowId('E', columns, 1), 'a second identical row is another row');
  assert.notEqual(rowId('E', columns, 0), rowId('F', columns, 0));
});

test('conversations: properties as [{name, value}] become an object; agents and users become id lists', () => {
  const out = normalizeConversation(
    {
      properties: [
        { name: 'priority', value: 'Low' },
        { name: 'cf_x', value: 3 },
      ],
      agents: [{ id: 'a1' }, 'a2'],
      users: [{ id: 'u1' }],
      status: 'new',
    },
    'legacy0123456789abcdef0123456789ab',
  );
  assert.deepEqual(out, {
    status: 'new',
    conversation_id: 'legacy0123456789abcdef0123456789ab',
    properties: { priority: 'Low', cf_x: 3 },
    agent_ids: ['a1', 'a2'],
    user_ids: ['u1'],
  });
  assert.deepEqual(normalizeConversation({ conversation_id: 'c', properties: { a: 'b' } }, 'x').properties, {
    a: 'b',
  });
});

test('fingerprints ignore key order and see any change', () => {
  assert.equal(contentHash({ a: 1, b: [1, 2] }), contentHash({ b: [1, 2], a: 1 }));
  assert.notEqual(contentHash({ a: 1 }), contentHash({ a: 2 }));
});

function fakeClient(pages: Record<number, unknown>): FreshchatClient {
  return {
    get: async (_e: string, _p: string, q: { page: number }) => pages[q.page],
  } as unknown as FreshchatClient;
}

const collect = async (client: FreshchatClient) => {
  const seen: unknown[] = [];
  for await (const page of listPages(client, { endpoint: 'x', path: '/x', key: 'x', pageSize: 2 }))
    seen.push(...page.items);
  return seen;
};

test('paging: ends at total_pages, else on a short or an empty page; a 404 or WRONG_PAGE after page 1 ends it', async () => {
  const paged = {
    1: { x: [1, 2], pagination: { total_pages: 2 } },
    2: { x: [3, 4], pagination: { total_pages: 2 } },
    3: { x: [5, 6] },
  };
  assert.deepEqual(await collect(fakeClient(paged)), [1, 2, 3, 4]);
  const short = { 1: { x: [1, 2] }, 2: { x: [3] }, 3: { x: [9, 9] } };
  assert.deepEqual(await collect(fakeClient(short)), [1, 2, 3]);
  const empty = { 1: { x: [1, 2] }, 2: { x: [] }, 3: { x: [9, 9] } };
  assert.deepEqual(await collect(fakeClient(empty)), [1, 2]);
  // The client answers undefined for a 404 and for 400 WRONG_PAGE alike.
  const gone = { 1: { x: [1, 2] }, 2: { x: [3, 4] } };
  assert.deepEqual(await collect(fakeClient(gone)), [1, 2, 3, 4]);
  await assert.rejects(collect(fakeClient({})), EndpointUnavailable);
});

test('paging: with total_pages a short page in the middle (a server capping items_per_page) does not end the list', async () => {
  const capped = {
    1: { x: [1], pagination: { total_pages: 3, total_items: 3 } },
    2: { x: [2], pagination: { total_pages: 3, total_items: 3 } },
    3: { x: [3], pagination: { total_pages: 3, total_items: 3 } },
  };
  assert.deepEqual(await collect(fakeClient(capped)), [1, 2, 3]);
});

test('paging: an answer that cannot be paged on is a retriable error, never a quiet end', async () => {
  const cases: [string, Record<number, unknown>][] = [
    ['not an object', { 1: { x: [1, 2] }, 2: '<html>busy</html>' }],
    ['null', { 1: { x: [1, 2] }, 2: null }],
    ['without the list key', { 1: { x: [1, 2] }, 2: { code: 200, status: 'OK' } }],
    ['the list key not a list', { 1: { x: { a: 1 } } }],
    ['the same page again (page ignored)', { 1: { x: [1, 2] }, 2: { x: [1, 2] }, 3: { x: [1, 2] } }],
  ];
  for (const [name, pages] of cases)
    await assert.rejects(collect(fakeClient(pages)), FreshchatUnavailableError, name);
});

// --- One resource sync against a fake client and a fake runtime (committed offsets in a map). ---

const quiet: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => quiet,
};

type Route = (query: Record<string, unknown>, body?: unknown) => unknown;

/** A fake client answering by "METHOD path" (a function of the query, or a value); undefined = 404. */
function routedClient(routes: Record<string, unknown>, requests: string[] = []): FreshchatClient {
  const answer = async (method: string, path: string, query: Record<string, unknown>, body?: unknown) => {
    requests.push(`${method} ${path}${query.page === undefined ? '' : ` page=${query.page}`}`);
    const route = routes[`${method} ${path}`];
    const value = typeof route === 'function' ? await (route as Route)(query, body) : route;
    if (value instanceof Error) throw value;
    return value;
  };
  return {
    origin: 'http://api.test/v2',
    get: (_e: string, path: string, query: Record<string, unknown> = {}) => answer('GET', path, query),
    post: (_e: string, path: string, body: unknown) => answer('POST', path, {}, body),
    download: async (url: string) => {
      const route = routes[`DOWNLOAD ${url}`];
      return typeof route === 'function' ? (route as () => Readable)() : Readable.from([String(route)]);
    },
  } as unknown as FreshchatClient;
}

interface Harness {
  s: SyncContext;
  pages: SourcePage[];
  offset(partition: SourcePartition): SourceOffset | undefined;
}

function harness(
  client: FreshchatClient,
  options: {
    offsets?: [SourcePartition, SourceOffset][];
    backfill?: boolean;
    since?: string;
    env?: Record<string, string>;
  } = {},
): Harness {
  const key = (p: SourcePartition) => JSON.stringify(Object.entries(p).sort());
  const store = new Map<string, { partition: SourcePartition; offset: SourceOffset }>();
  for (const [partition, offset] of options.offsets ?? []) store.set(key(partition), { partition, offset });
  const pages: SourcePage[] = [];
  const runtime: SourceContext = {
    offset: (p) => store.get(key(p))?.offset,
    offsets: (match) =>
      [...store.values()].filter((e) => Object.entries(match).every(([k, v]) => e.partition[k] === v)),
    emit: async (page) => {
      pages.push(structuredClone(page));
      for (const o of page.offsets ?? [])
        if (o.offset === null) store.delete(key(o.partition));
        else store.set(key(o.partition), { partition: o.partition, offset: o.offset });
    },
    signal: new AbortController().signal,
    log: quiet,
  };
  const { freshchat: settings } = loadSettings({ freshchat: freshchatSettings }, { env: options.env ?? {} });
  const s: SyncContext = {
    client,
    settings,
    runtime,
    window: new EmitWindow(runtime, 4),
    handled: new Set(),
    log: quiet,
    since: options.since ?? '2025-01-01T00:00:00.000Z',
    backfill: options.backfill ?? false,
    progress: { records: {}, pages: 0, totals: {}, incomplete: {}, skipped: 0 },
    enabled: () => true,
    unavailable: () => undefined,
  };
  return { s, pages, offset: runtime.offset };
}

const written = (pages: SourcePage[], kind: string) =>
  pages.flatMap((p) => p.records.filter((r) => r.kind === kind).map((r) => r.value));

// Messages 1..12 of conversation c1, one a minute.
const at = (i: number) => new Date(Date.parse('2025-06-01T00:00:00.000Z') + i * 60_000).toISOString();
const message = (i: number) => ({ id: `m${i}`, created_time: at(i), conversation_id: 'c1' });

/** The messages endpoint of a server listing oldest or newest first, ignoring from_time. */
function messagesRoute(count: number, order: MessageOrder, withPagination = false): Route {
  return (query) => {
    const all = Array.from({ length: count }, (_, i) => message(i + 1));
    if (order === 'newest-first') all.reverse();
    const size = Number(query.items_per_page);
    const page = Number(query.page);
    const messages = all.slice((page - 1) * size, page * size);
    return withPagination
      ? { messages, pagination: { total_pages: Math.ceil(count / size), current_page: page } }
      : { messages };
  };
}

function conversationRoutes(messages: Route | unknown, updated = at(99)): Record<string, unknown> {
  return {
    'GET /users/u1/conversations': { conversations: [{ id: 'c1' }] },
    'GET /conversations/c1': { conversation_id: 'c1', status: 'new', updated_time: updated },
    'GET /conversations/c1/messages': messages,
  };
}

const USER_U1: [SourcePartition, SourceOffset] = [{ resource: 'users', id: 'u1' }, { h: 'x' }];

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
        offsets: [
          USER_U1,
          [
            { resource: 'conversations', id: 'c1' },
            { h: 'old', u: at(10), t: at(10), ids: ['m10'] },
          ],
        ],
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
    offsets: [
      USER_U1,
      [
        { resource: 'conversations', id: 'c1' },
        { h: 'old', u: at(10), t: at(10), ids: ['m10'] },
      ],
    ],
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

test('report links: every sub-report SUCCESS or COMPLETED with an href, or the single link; else why not', () => {
  const sub = (status: unknown, href: unknown = 'https://files/x.csv') => ({
    from: 'a',
    to: 'b',
    status,
    link: { rel: 'extracts', href },
  });
  assert.deepEqual(reportLinks({ links: [sub('COMPLETED'), sub('success')] }, 's', 'e'), [
    { href: 'https://files/x.csv', from: 'a', to: 'b' },
    { href: 'https://files/x.csv', from: 'a', to: 'b' },
  ]);
  assert.deepEqual(reportLinks({ link: { href: '/files/y.csv' } }, 's', 'e'), [
    { href: '/files/y.csv', from: 's', to: 'e' },
  ]);
  for (const job of [
    { links: [sub('COMPLETED'), sub('PENDING')] },
    { links: [sub('IN_PROGRESS')] },
    { links: [sub('FAILED')] },
    { links: [sub('COMPLETED', null)] },
    { links: [sub('COMPLETED', 42)] },
    {},
    { links: [] },
    { link: {} },
  ])
    assert.equal(typeof reportLinks(job, 's', 'e'), 'string', JSON.stringify(job));
});

const HOUR = 3_600_000;

function reportRoutes(job: unknown, download: unknown, jobId: unknown = 'j1'): Record<string, unknown> {
  return {
    'POST /reports/raw': { id: jobId, link: { href: `/reports/raw/${jobId}` } },
    [`GET /reports/raw/${jobId}`]: job,
    'DOWNLOAD https://files.test/r.csv': download,
  };
}

const completed = (status = 'COMPLETED') => ({
  id: 'j1',
  status: 'COMPLETED',
  links: [{ from: 'a', to: 'b', status, link: { href: 'https://files.test/r.csv' } }],
});

const REPORT_ENV = {
  FRESHCHAT_REPORT_EVENTS: 'Conversation-Created',
  FRESHCHAT_REPORT_WINDOW_HOURS: '24',
  FRESHCHAT_REPORT_LAG_MINUTES: '0',
  FRESHCHAT_REPORT_POLL_INTERVAL_MS: '10',
};

const REPORT_CURSOR = { resource: 'reports', event: 'Conversation-Created' };

test('reports: a pending sub-report or a broken download leaves the window incomplete and its cursor in place', async () => {
  const to = new Date(Date.now() - 30 * HOUR).toISOString();
  const stored: [SourcePartition, SourceOffset] = [REPORT_CURSOR, { from: 'x', to }];
  const broken = () =>
    new Readable({
      read() {
        this.push('id,name\n1,a\n');
        this.destroy(new Error('socket reset mid-download'));
      },
    });
  for (const [name, job, download] of [
    ['pending sub-report', completed('PENDING'), 'id\n1\n'],
    ['no link', { id: 'j1', status: 'COMPLETED' }, 'id\n1\n'],
    ['broken download', completed(), broken],
  ] as const) {
    const h = harness(routedClient(reportRoutes(job, download)), { env: REPORT_ENV, offsets: [stored] });
    await syncReports(h.s);
    assert.deepEqual(h.offset(REPORT_CURSOR), stored[1], name);
    assert.deepEqual(h.pages, [], name);
    assert.match(h.s.progress.incomplete.reports ?? '', /did not complete/, name);
  }
  const ok = harness(routedClient(reportRoutes(completed(), 'id,name\n1,a\n2,b\n', 42)), {
    env: REPORT_ENV,
    offsets: [stored],
  });
  // A numeric job id is fine.
  ok.s.client.get = (async (_e: string, path: string) =>
    path === '/reports/raw/42' ? completed() : undefined) as FreshchatClient['get'];
  await syncReports(ok.s);
  assert.equal(written(ok.pages, 'freshchat.report_rows').length, 2);
  assert.equal(ok.offset(REPORT_CURSOR)?.from, to);
});

test('reports: an Extract answer without a job id is retriable', async () => {
  const h = harness(
    routedClient({ 'POST /reports/raw': { code: 202, status: 'ACCEPTED', message: 'queued' } }),
    { env: REPORT_ENV },
  );
  await assert.rejects(syncReports(h.s), FreshchatUnavailableError);
  assert.equal(h.offset(REPORT_CURSOR), undefined);
});

test('reports backfill: never moves the cursor back, nor forward over windows it did not extract', async () => {
  const storedTo = Date.now() - 30 * HOUR;
  const stored: [SourcePartition, SourceOffset] = [
    REPORT_CURSOR,
    { from: new Date(storedTo - 24 * HOUR).toISOString(), to: new Date(storedTo).toISOString() },
  ];
  const windowsAsked: string[] = [];
  const routes = reportRoutes(completed(), 'id\n1\n');
  routes['POST /reports/raw'] = (_q: unknown, body: { start: string; end: string }) => {
    windowsAsked.push(`${body.start}/${body.end}`);
    return { id: 'j1' };
  };
  const iso = (ms: number) => new Date(ms).toISOString();

  const earlier = harness(routedClient(routes), {
    env: REPORT_ENV,
    backfill: true,
    since: iso(storedTo - 48 * HOUR),
    offsets: [stored],
  });
  await syncReports(earlier.s);
  assert.deepEqual(windowsAsked, [
    `${iso(storedTo - 48 * HOUR)}/${iso(storedTo - 24 * HOUR)}`,
    `${iso(storedTo - 24 * HOUR)}/${iso(storedTo)}`,
    `${iso(storedTo)}/${iso(storedTo + 24 * HOUR)}`,
  ]);
  assert.deepEqual(
    earlier.pages.map((p) => p.offsets?.map((o) => o.offset?.to)),
    [[], [], [iso(storedTo + 24 * HOUR)]],
    'a backfill window moved the cursor back',
  );

  windowsAsked.length = 0;
  const later = harness(routedClient(routes), {
    env: REPORT_ENV,
    backfill: true,
    since: iso(storedTo + 5 * HOUR),
    offsets: [stored],
  });
  await syncReports(later.s);
  assert.deepEqual(windowsAsked, [`${iso(storedTo)}/${iso(storedTo + 24 * HOUR)}`], 'windows were skipped');
});

test('a report file that breaks mid-download rejects instead of hanging', { timeout: 5000 }, async () => {
  const broken = new Readable({
    read() {
      this.push('id,name\n1,a\n');
      this.destroy(new Error('other side closed'));
    },
  });
  await assert.rejects(parseCsv(broken), /other side closed/);
  assert.deepEqual(await parseCsv(Readable.from(['\ufeffid,name\n1,a\n', '2,b\n'])), [
    { id: '1', name: 'a' },
    { id: '2', name: 'b' },
  ]);
});

test('FRESHCHAT_REPORT_EVENTS: an unknown event is a setting error listing the known ones', () => {
  const { freshchat: settings } = loadSettings(
    { freshchat: freshchatSettings },
    { env: { FRESHCHAT_REPORT_EVENTS: 'Conversation-Created,Conversation-Creatd' } },
  );
  assert.throws(
    () => new FreshchatSource({ settings, baseUrl: 'http://x/v2', apiKey: 'k', log: quiet }),
    (error: Error) =>
      error instanceof ConfigError &&
      /FRESHCHAT_REPORT_EVENTS/.test(error.message) &&
      /Conversation-Creatd/.test(error.message) &&
      /CSAT-Score/.test(error.hint ?? ''),
  );
});

test('the emit window keeps order, holds at most its size in flight, and hands the first failure on', async () => {
  const committed: number[] = [];
  let inFlight = 0;
  let most = 0;
  const release: (() => void)[] = [];
  const runtime = {
    emit: (page: SourcePage) =>
      new Promise<void>((resolve, reject) => {
        inFlight++;
        most = Math.max(most, inFlight);
        release.push(() => {
          inFlight--;
          const n = Number(page.records[0]?.value.n);
          if (n === 5) reject(new Error('fatal at 5'));
          else {
            committed.push(n);
            resolve();
          }
        });
      }),
  } as unknown as SourceContext;
  const window = new EmitWindow(runtime, 2);
  const page = (n: number): SourcePage => ({ records: [{ kind: 'k', value: { n } }] });
  const pump = setInterval(() => release.shift()?.(), 1);
  try {
    for (let n = 1; n <= 4; n++) await window.emit(page(n));
    await window.drain();
    assert.deepEqual(committed, [1, 2, 3, 4]);
    assert.equal(most, 2);
    await window.emit(page(5));
    await assert.rejects(async () => {
      for (let n = 6; n <= 20; n++) await window.emit(page(n));
    }, /fatal at 5/);
    await assert.rejects(window.drain(), /fatal at 5/);
  } finally {
    clearInterval(pump);
  }
});

test('paging: a 404 on a page the previous one promised is an error, not the end of the list', async () => {
  const pages = { 1: { x: [1, 2], pagination: { total_pages: 3 } } };
  const client = {
    get: async (_e: string, _p: string, q: { page: number }) => (pages as Record<number, unknown>)[q.page],
  } as unknown as FreshchatClient;
  await assert.rejects(async () => {
    for await (const _ of listPages(client, { endpoint: 'x', path: '/x', key: 'x', pageSize: 2 })) {
      // walk
    }
  }, FreshchatUnavailableError);
});
