/** Pure parts of the Freshchat poller: the answer table, Retry-After, pacing, report windows, shapes, paging. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FreshchatClient } from '../../producers/freshchat/client.ts';
import { decide, retryAfterMs } from '../../producers/freshchat/errors.ts';
import { EndpointUnavailable, listPages } from '../../producers/freshchat/paging.ts';
import { RateLimiter } from '../../producers/freshchat/rate-limit.ts';
import { normalizeConversation } from '../../producers/freshchat/resources/normalize.ts';
import { rowId, windows } from '../../producers/freshchat/resources/reports.ts';
import { contentHash } from '../../producers/freshchat/sync-context.ts';

test('each Freshchat status maps to one decision', () => {
  const table: [number, string][] = [
    [200, 'ok'],
    [202, 'ok'],
    [404, 'not_found'],
    [429, 'rate_limited'],
    [401, 'auth'],
    [403, 'auth'],
    [408, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
    [400, 'bad_request'],
    [422, 'bad_request'],
  ];
  for (const [status, decision] of table) assert.equal(decide(status), decision, String(status));
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
  assert.equal(rowId('E', 'a', 'b', 0, columns), rowId('E', 'a', 'b', 0, { conversation_id: 'c1' }));
  assert.notEqual(rowId('E', 'a', 'b', 0, columns), rowId('E', 'a', 'b', 1, columns));
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

test('paging: ends at total_pages, on a short page, or when the server answers the same page again', async () => {
  const collect = async (client: FreshchatClient) => {
    const seen: unknown[] = [];
    for await (const page of listPages(client, { endpoint: 'x', path: '/x', key: 'x', pageSize: 2 }))
      seen.push(...page.items);
    return seen;
  };
  const paged = {
    1: { x: [1, 2], pagination: { total_pages: 2 } },
    2: { x: [3, 4], pagination: { total_pages: 2 } },
    3: { x: [5, 6] },
  };
  assert.deepEqual(await collect(fakeClient(paged)), [1, 2, 3, 4]);
  const short = { 1: { x: [1, 2] }, 2: { x: [3] }, 3: { x: [9, 9] } };
  assert.deepEqual(await collect(fakeClient(short)), [1, 2, 3]);
  const ignoresPage = { 1: { x: [1, 2] }, 2: { x: [1, 2] }, 3: { x: [1, 2] } };
  assert.deepEqual(await collect(fakeClient(ignoresPage)), [1, 2]);
  await assert.rejects(collect(fakeClient({})), EndpointUnavailable);
});
