/**
 * The chatstream snippet in the browser world of test/helpers/snippet-env.ts, part 2: delivery —
 * retries and back-off, what each refusal does, two tabs, a full storage, consent, the queue
 * across reloads, and beacons on pagehide.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BARE_API,
  emit,
  env,
  ids,
  memStorage,
  QUEUED,
  queuedIn,
  type Reply,
  refusal,
  SNIPPET,
  START_JOE,
  stubFirst,
} from '../helpers/snippet-env.ts';

test('408 / 429 / 5xx / network errors keep and retry (back-off or Retry-After); other 4xx drop', async () => {
  const e = env();
  const replies: (Reply | 'network')[] = ['network', 'network', { status: 429 }, { status: 408 }];
  e.state.respond = () => replies.shift() ?? { status: 200 };
  await stubFirst(e);
  await e.clock.advance(30_000);
  const start = e.requests[0]?.at ?? 0;
  const times = e.requests.map((r) => r.at - start);
  assert.deepEqual(times, [0, 1000, 3000, 7000, 15000]);
  assert.deepEqual(ids(e.requests[4]?.events), ids(e.requests[0]?.events)); // the same ids again
  assert.equal(e.run('chatstream.pending()'), 0);
  e.state.respond = () => ({ status: 503, headers: { 'Retry-After': '5' }, body: { error: { code: 'X' } } });
  e.run('PCDemo.expand()');
  await e.clock.advance(1000);
  assert.equal(e.requests.length, 6);
  assert.equal(e.run('chatstream.pending()'), 2);
  await e.clock.advance(3000);
  assert.equal(e.requests.length, 6); // not before the 5 s
  e.state.respond = () => ({ status: 200, body: { accepted: 2 } });
  await e.clock.advance(2000);
  assert.equal(e.requests.length, 7);
  assert.equal(e.run('chatstream.pending()'), 0);
  // Any other 4xx: dropped (it would never be accepted), with a warning naming the error code;
  // the widget:state dropped with it is sent again at the next poll (and dropped again).
  e.state.respond = () => ({ status: 400, body: { error: { code: 'INVALID_EVENTS', message: 'bad' } } });
  e.run('PCDemo.collapse()');
  await e.clock.advance(10_000);
  assert.deepEqual(ids(e.requests[8]?.events), ids(e.ofType('widget:state').slice(-1)));
  assert.equal(e.requests.length, 9);
  assert.equal(e.run('chatstream.pending()'), 0);
  assert.ok(e.warnings.some((w) => w.includes('400') && w.includes('INVALID_EVENTS')));
});

test('a state event dropped by a 4xx is sent again at the next poll, once until a 2xx', async () => {
  const e = env();
  e.state.respond = () => refusal(415, 'UNSUPPORTED_MEDIA_TYPE');
  await stubFirst(e);
  await e.clock.advance(1000); // dropped: chatbox:ready and both states
  await e.clock.advance(3000); // the poll records the states again; dropped again
  await e.clock.advance(10_000); // not at every poll: the collector refuses everything
  const batches = e.requests.map((r) => r.events.map((x) => x.type));
  assert.deepEqual(batches, [
    ['chatbox:ready', 'visitor:state', 'widget:state'],
    ['visitor:state', 'widget:state'],
  ]);
  assert.ok(e.warnings.some((w) => w.includes('refused 3 events (415 UNSUPPORTED_MEDIA_TYPE); dropped')));
});

test("two tabs: one key per event, neither loses the other's; a tab sends its own events and old ones", async () => {
  const local = memStorage();
  const a = env({ local });
  const b = env({ local });
  for (const tab of [a, b]) tab.run(BARE_API, SNIPPET);
  // Tab b records while tab a is between reading the queue and writing it.
  local.onQueueWrite = () => b.run(emit('chat:start'));
  a.run(emit('chat:end'));
  assert.equal(a.run('chatstream.pending()'), 2);
  assert.deepEqual(
    queuedIn(local)
      .map((x) => x.type)
      .sort(),
    ['chat:end', 'chat:start'],
  );
  const end = queuedIn(local).find((x) => x.type === 'chat:end');
  assert.equal(local.getItem(`${QUEUED}${end?.id}`), JSON.stringify(end));
  // Tab b records while tab a's 2xx arrives: a forgets only what it sent, and sends only its own.
  a.state.respond = () => {
    local.onQueueWrite = () => b.run(emit('email:send'));
    return { status: 200 };
  };
  await a.clock.advance(1000);
  assert.deepEqual(a.types(), ['chat:end']);
  assert.deepEqual(ids(queuedIn(local)).length, 2);
  await b.clock.advance(1000);
  assert.deepEqual(b.types(), ['chat:start', 'email:send']);
  assert.equal(a.run('chatstream.pending()'), 0);
  // Tab b records and closes before sending: the next page view sends it once it is 10 s old.
  b.state.respond = () => 'network';
  b.run(emit('chat:start'));
  await b.clock.advance(1000);
  const c = env({ local });
  c.run(SNIPPET);
  await c.clock.advance(9000);
  assert.equal(c.requests.length, 0);
  await c.clock.advance(3000);
  assert.deepEqual(ids(c.sent()), ids(b.requests.at(-1)?.events));
  assert.equal(c.run('chatstream.pending()'), 0);
});

test('400 INVALID_EVENTS drops only the events it names; the others are sent again at once', async () => {
  const e = env();
  e.run(BARE_API, SNIPPET);
  for (const type of ['chat:start', 'email:send', 'chat:end']) e.run(emit(type));
  const problems = [1, 1].map((index) => ({ index, field: 'args', problem: 'is not an object' }));
  const replies = [refusal(400, 'INVALID_EVENTS', { events: problems })];
  e.state.respond = () => replies.shift() ?? { status: 200 };
  await e.clock.advance(1000);
  const batches = e.requests.map((r) => r.events.map((x) => x.type));
  assert.deepEqual(batches, [
    ['chat:start', 'email:send', 'chat:end'],
    ['chat:start', 'chat:end'],
  ]);
  assert.equal(e.requests[1]?.at, e.requests[0]?.at);
  assert.equal(e.run('chatstream.pending()'), 0);
  assert.ok(e.warnings.some((w) => w.includes('refused 1 events (400 INVALID_EVENTS); dropped')));
});

test('413 halves the batch for the next tries, down to 1; an event refused alone is dropped', async () => {
  const e = env({ settings: { maxBatch: 8 } });
  e.run(BARE_API, SNIPPET);
  for (let i = 0; i < 7; i++) e.run(emit('chat:start', `{ n: ${i} }`));
  e.run(emit('email:send')); // refused in any batch
  e.state.respond = (r) => {
    if (r.events.some((x) => x.type === 'email:send')) return refusal(413, 'EVENT_TOO_LARGE', { index: 0 });
    return r.events.length > 2 ? refusal(413, 'TOO_MANY_EVENTS') : { status: 200 };
  };
  await e.clock.advance(1000);
  assert.deepEqual(
    e.requests.map((r) => r.events.length),
    [8, 4, 2, 2, 2, 2, 1, 1],
  );
  const ok = e.requests.filter((r) => r.events.length <= 2 && r.events.every((x) => x.type === 'chat:start'));
  assert.deepEqual(
    ok.flatMap((r) => r.events.map((x) => x.args?.n)),
    [0, 1, 2, 3, 4, 5, 6],
  );
  assert.equal(e.run('chatstream.pending()'), 0);
  assert.ok(e.warnings.some((w) => w.includes('refused 1 events (413 EVENT_TOO_LARGE); dropped')));
});

test('403 keeps the events and tries again in 10 minutes', async () => {
  const e = env();
  e.run(BARE_API, SNIPPET);
  e.run(emit('chat:start'));
  e.state.respond = () => refusal(403, 'ORIGIN_NOT_ALLOWED');
  await e.clock.advance(1000);
  assert.equal(e.run('chatstream.pending()'), 1);
  assert.ok(e.warnings.some((w) => w.includes('(403 ORIGIN_NOT_ALLOWED); kept')));
  e.run(emit('chat:end'));
  await e.clock.advance(9 * 60_000);
  assert.equal(e.requests.length, 1);
  e.state.respond = () => ({ status: 200 });
  await e.clock.advance(60_000);
  assert.deepEqual(e.types(), ['chat:start', 'chat:start', 'chat:end']);
  assert.equal(e.run('chatstream.pending()'), 0);
});

test('a request unanswered in 30 s is aborted and sent again after the back-off', async () => {
  const e = env();
  e.run(BARE_API, SNIPPET);
  e.run(emit('chat:start'));
  e.state.respond = () => 'hang';
  await e.clock.advance(1000);
  e.state.respond = () => ({ status: 200 });
  await e.clock.advance(29_000);
  assert.equal(e.requests.length, 1);
  assert.equal(e.requests[0]?.init.signal?.aborted, false);
  await e.clock.advance(1000);
  assert.equal(e.requests[0]?.init.signal?.aborted, true);
  await e.clock.advance(2000);
  assert.equal(e.requests.length, 2);
  assert.deepEqual(ids(e.requests[1]?.events), ids(e.requests[0]?.events));
  assert.equal(e.run('chatstream.pending()'), 0);
});

test('a full localStorage: the event waits in memory, later ones are stored, sent ones leave the storage', async () => {
  const local = memStorage();
  const e = env({ local });
  e.run(BARE_API, SNIPPET);
  e.run(emit('chat:start'));
  local.full = true;
  e.run(emit('chat:end')); // kept in memory for this page
  local.full = false;
  assert.equal(e.run('chatstream.pending()'), 2);
  assert.equal(await e.run('chatstream.flush()'), 0);
  assert.deepEqual(e.types(), ['chat:start', 'chat:end']);
  e.run(emit('email:send')); // stored again
  const reload = env({ local });
  reload.run(SNIPPET);
  assert.equal(reload.run('chatstream.pending()'), 1);
  await reload.run('chatstream.flush()');
  assert.deepEqual(reload.types(), ['email:send']);
});

test('requireConsent: nothing stored or sent before consent(true); consent(false) forgets everything', async () => {
  const e = env({ settings: { requireConsent: true } });
  await stubFirst(e);
  e.run(START_JOE);
  await e.clock.advance(5000);
  assert.equal(e.requests.length, 0);
  assert.equal(e.local.map.size + e.session.map.size, 0);
  assert.equal(e.run('chatstream.pending()'), 0);
  e.run('chatstream.consent(true)');
  await e.run('chatstream.flush()');
  assert.deepEqual(e.types(), ['visitor:state', 'widget:state']);
  assert.equal(e.ofType('visitor:state')[0]?.args?.['visitor.name'], 'Joe Doe');
  e.run('chatstream.consent(false)');
  assert.equal(e.local.map.size + e.session.map.size, 0);
  e.run('PCDemo.endChat({})');
  await e.clock.advance(5000);
  assert.equal(e.requests.length, 1);
});

test('the queue survives a reload and is sent in batches of maxBatch (flush)', async () => {
  const e = env();
  e.state.respond = () => 'network';
  await stubFirst(e);
  await e.clock.advance(1000);
  const queued = ids(e.queued());
  assert.equal(queued.length, 3);
  const reload = env({ local: e.local, session: e.session, settings: { maxBatch: 2 } });
  reload.run(SNIPPET); // no Pure Chat at all on this page
  assert.equal(reload.run('chatstream.pending()'), 3);
  assert.equal(await reload.run('chatstream.flush()'), 0);
  const sizes = reload.requests.map((r) => r.events.length);
  assert.deepEqual(sizes, [2, 1]);
  assert.deepEqual(ids(reload.sent()), queued);
});

test('an old single-array queue is moved to one key per event; at most 1000 events (oldest dropped)', async () => {
  const local = memStorage();
  const day = Date.parse('2026-11-21T10:00:00.000Z');
  const at = (i: number) => new Date(day + i * 1000).toISOString();
  const old = Array.from({ length: 1000 }, (_, i) => ({
    id: `old-${i}`,
    type: 'chat:start',
    occurredAt: at(i),
  }));
  local.setItem('chatstream.queue', JSON.stringify(old));
  const e = env({ local });
  e.state.respond = () => 'network';
  await stubFirst(e);
  assert.equal(local.getItem('chatstream.queue'), null);
  const queue = e.queued();
  assert.equal(queue.length, 1000);
  assert.equal(queue[0]?.id, 'old-3');
  const newest = queue.slice(-3).map((x) => x.type);
  assert.deepEqual(newest, ['chatbox:ready', 'visitor:state', 'widget:state']);
  assert.ok(e.warnings.some((w) => w.includes('queue full')));
  assert.equal(local.map.size, 1001); // the events and the visitor id
});

test('pagehide / hidden send by beacon what no beacon of this page sent yet, and keep it until a 2xx', async () => {
  const e = env();
  e.run(BARE_API, SNIPPET);
  for (let i = 0; i < 33; i++) e.run(emit('chat:start', `{ n: ${i} }`));
  e.fire('pagehide');
  assert.equal(e.beacons[0]?.url, 'https://collect.example.com/v1/events');
  assert.deepEqual(
    e.beacons.map((b) => b.events.length),
    [20, 13],
  );
  const beaconed = () => e.beacons.flatMap((b) => b.events.map((x) => x.args?.n ?? x.type));
  assert.deepEqual(beaconed(), [...Array(33).keys()]);
  (e.ctx.document as { visibilityState: string }).visibilityState = 'hidden';
  e.fire('document:visibilitychange');
  assert.equal(e.beacons.length, 2); // nothing new
  e.run(emit('chat:end'), emit('email:send'));
  e.fire('document:visibilitychange');
  assert.deepEqual(beaconed().slice(33), ['chat:end', 'email:send']);
  assert.equal(e.run('chatstream.pending()'), 35); // kept
  assert.equal(await e.run('chatstream.flush()'), 0);
  assert.equal(e.sent().length, 35);
});
