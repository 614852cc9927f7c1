/**
 * The Freshchat poller's pure parts, without servers: the answer table, Retry-After, pacing,
 * report windows, shapes, fingerprints, paging, the emit window and setting checks.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FreshchatClient } from '../../producers/freshchat/client.ts';
import {
  decide,
  FreshchatUnavailableError,
  RETRY_AFTER_CAP_MS,
  rateLimitWait,
  retryAfterMs,
} from '../../producers/freshchat/errors.ts';
import { EndpointUnavailable, listPages } from '../../producers/freshchat/paging.ts';
import { RateLimiter } from '../../producers/freshchat/rate-limit.ts';
import { normalizeConversation } from '../../producers/freshchat/resources/normalize.ts';
import { rowId, windows } from '../../producers/freshchat/resources/reports.ts';
import { contentHash, EmitWindow } from '../../producers/freshchat/sync-context.ts';
import type { SourceContext, SourcePage } from '../../producers/source.ts';

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
