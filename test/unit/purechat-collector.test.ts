/**
 * The collector's pure parts: protocol v1 validation (every problem named by index and field),
 * the records of the three topics with enrichment and PII, address truncation, the per-client
 * rate limit and the origin rule.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpError } from '../../producers/http/errors.ts';
import { clientAddress, rateKey, truncateIp } from '../../producers/purechat/address.ts';
import { originAllowed } from '../../producers/purechat/collector.ts';
import { type CollectedEvent, collectEvents, type EventRules } from '../../producers/purechat/events.ts';
import { applyPii, applyPiiToObject } from '../../producers/purechat/pii.ts';
import { ClientRateLimit } from '../../producers/purechat/rate-limit.ts';
import { eventRecords } from '../../producers/purechat/records.ts';

const rules: EventRules = { maxEventBytes: 32 * 1024, maxEvents: 500, contract: 'evolve' };

function event(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: '1b4e28ba-2fa1-4d2b-883f-0016d3cca427',
    type: 'chat:start',
    widgetId: 'w-1',
    occurredAt: '2026-11-22T10:55:23.126Z',
    visitorId: 'v-1',
    sessionId: 's-1',
    pageUrl: 'https://example.com/pricing',
    referrer: null,
    args: { name: 'Joe Doe', email: 'Joe@Example.com ', question: 'Hi' },
    ...over,
  };
}

function refusal(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof HttpError, `expected an HttpError, got ${error}`);
    return error;
  }
  assert.fail('expected a refusal');
}

const collect = (body: unknown, r: EventRules = rules) =>
  collectEvents(body, Buffer.byteLength(JSON.stringify(body) ?? ''), r);

test('a valid request yields its events with the time parsed', () => {
  const [e] = collect({ events: [event()] });
  assert.equal(e?.type, 'chat:start');
  assert.equal(e?.occurredMs, Date.parse('2026-11-22T10:55:23.126Z'));
  assert.deepEqual(e?.extra, {});
});

test('wrong top-level shapes are 400 INVALID_BODY naming the problem', () => {
  for (const body of [null, [], 'x', 3, {}, { events: {} }, { events: 'a' }, { events: [] }]) {
    const error = refusal(() => collect(body));
    assert.equal(error.status, 400, JSON.stringify(body));
    assert.equal(error.code, 'INVALID_BODY');
  }
});

test('every bad event is named by index, field and problem; nothing is accepted', () => {
  const body = {
    events: [
      event(),
      event({ id: 'not-a-uuid', occurredAt: 'yesterday' }),
      event({ visitorId: undefined, sessionId: 7, args: [1] }),
      'text',
      event({ occurredAt: '1999-12-31T23:59:59Z', pageUrl: 5 }),
    ],
  };
  const error = refusal(() => collect(body));
  assert.equal(error.status, 400);
  assert.equal(error.code, 'INVALID_EVENTS');
  const problems = (error.details as { events: { index: number; field: string }[] }).events;
  assert.deepEqual(
    problems.map((p) => `${p.index}:${p.field}`),
    ['1:id', '1:occurredAt', '2:visitorId', '2:sessionId', '2:args', '3:', '4:occurredAt', '4:pageUrl'],
  );
});

test('limits: too many events, an event too large (413)', () => {
  const many = refusal(() => collect({ events: [event(), event()] }, { ...rules, maxEvents: 1 }));
  assert.deepEqual([many.status, many.code], [413, 'TOO_MANY_EVENTS']);
  const big = event({ args: { question: 'x'.repeat(40_000) } });
  const large = refusal(() => collect({ events: [event(), big] }));
  assert.deepEqual([large.status, large.code], [413, 'EVENT_TOO_LARGE']);
  assert.equal((large.details as { index: number }).index, 1);
});

test('unknown widget ids alone are 403; mixed with other problems 400', () => {
  const allowed = { ...rules, widgetIds: new Set(['w-1']) };
  const only = refusal(() => collect({ events: [event({ widgetId: 'w-2' })] }, allowed));
  assert.deepEqual([only.status, only.code], [403, 'WIDGET_NOT_ALLOWED']);
  const mixed = refusal(() => collect({ events: [event({ widgetId: 'w-2', id: 'x' })] }, allowed));
  assert.deepEqual([mixed.status, mixed.code], [400, 'INVALID_EVENTS']);
});

test('extra fields follow the contract: evolve keeps, discard drops, freeze refuses', () => {
  const body = { events: [event({ abTest: 'b' })] };
  assert.deepEqual(collect(body)[0]?.extra, { abTest: 'b' });
  assert.deepEqual(collect(body, { ...rules, contract: 'discard' })[0]?.extra, {});
  const frozen = refusal(() => collect(body, { ...rules, contract: 'freeze' }));
  assert.equal((frozen.details as { events: { field: string }[] }).events[0]?.field, 'abTest');
});

test('records: events enriched, state events also to visitors and widget settings, PII hashed', () => {
  const events = collect({
    events: [
      event(),
      event({
        id: '1b4e28ba-2fa1-4d2b-883f-0016d3cca428',
        type: 'visitor:state',
        args: {
          'visitor.name': 'Joe',
          'visitor.email': 'joe@example.com',
          'visitor.phoneNumber': '602-555-1234',
          'visitor.tier': 'gold',
        },
      }),
      event({
        id: '1b4e28ba-2fa1-4d2b-883f-0016d3cca429',
        type: 'widget:state',
        args: { 'chatbox.position': 'bottomLeft', 'chatbox.expanded': false, operatorsAvailable: true },
      }),
    ],
  }) as CollectedEvent[];
  const pii = { email: 'hash' as const, phone: 'drop' as const, hashKey: 'k'.repeat(32) };
  const records = eventRecords(events, { receivedMs: 1000, userAgent: 'UA', clientIp: '203.0.113.0' }, pii);
  assert.deepEqual(
    records.map((r) => r.kind),
    [
      'purechat.events',
      'purechat.events',
      'purechat.visitors',
      'purechat.events',
      'purechat.widget_settings',
    ],
  );
  const first = records[0]?.value ?? {};
  assert.equal(
    first.visitor_email,
    applyPii(pii, 'email', 'joe@example.com'),
    'hash of the normalized address',
  );
  assert.match(String(first.visitor_email), /^[0-9a-f]{64}$/);
  assert.equal(first.received_time, 1000);
  assert.equal(first.client_ip, '203.0.113.0');
  assert.doesNotMatch(String(first.args), /Joe@Example/);
  const visitor = records[2]?.value ?? {};
  assert.equal(visitor.name, 'Joe');
  assert.equal(visitor.phone, null);
  assert.equal(visitor.extra, '{"tier":"gold"}');
  const widget = records[4]?.value ?? {};
  assert.deepEqual(
    [widget.position, widget.expanded, widget.operators_available],
    ['bottomLeft', false, true],
  );
});

test('addresses are truncated to /24 and /48', () => {
  assert.equal(truncateIp('203.0.113.77'), '203.0.113.0');
  assert.equal(truncateIp('::ffff:198.51.100.9'), '198.51.100.0');
  assert.equal(truncateIp('2001:db8:85a3:1234::1'), '2001:db8:85a3::');
  assert.equal(truncateIp('2001:db8::1'), '2001:db8:0::');
  assert.equal(truncateIp('::1'), '0:0:0::');
  assert.equal(truncateIp('nonsense'), null);
});

test('the rate limit allows a burst, then refuses with a wait, then refills', () => {
  const limit = new ClientRateLimit(600); // 10/s, burst 60
  let allowed = 0;
  for (let i = 0; i < 100; i++) if (limit.take('a', 0).allowed) allowed++;
  assert.equal(allowed, 60);
  const refused = limit.take('a', 0);
  assert.deepEqual(refused, { allowed: false, retryAfterSeconds: 1 });
  assert.ok(limit.take('b', 0).allowed, 'clients are limited separately');
  assert.ok(limit.take('a', 1000).allowed, 'a second later there are tokens again');
  assert.ok(new ClientRateLimit(0).take('a').allowed, '0 turns it off');
});

test('origins: no header passes, the list or * allows, unset means same origin only', () => {
  assert.ok(originAllowed(undefined, []));
  assert.ok(originAllowed('https://a.com', ['https://a.com']));
  assert.ok(!originAllowed('https://b.com', ['https://a.com']));
  assert.ok(originAllowed('https://b.com', ['*']));
  assert.ok(originAllowed('http://127.0.0.1:8090', [], '127.0.0.1:8090'));
  assert.ok(!originAllowed('http://evil.com', [], '127.0.0.1:8090'));
});

test('evolve keeps extra fields as text, with usable names, a few per event and a bounded total', () => {
  const evolve = { ...rules, extraNames: new Set<string>(), maxExtraNames: 2 };
  const [e] = collect({ events: [event({ plan: 1, tags: ['a'] })] }, evolve);
  assert.deepEqual(e?.extra, { plan: '1', tags: '["a"]' }, 'a field has one type whatever clients send');
  const third = refusal(() => collect({ events: [event({ tier: 'x' })] }, evolve));
  assert.match(JSON.stringify(third.details), /fields beyond protocol v1 were added already/);
  const badName = refusal(() =>
    collect({ events: [event({ 'a-b': 1 })] }, { ...rules, extraNames: new Set() }),
  );
  assert.match(JSON.stringify(badName.details), /not a usable field name/);
  const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}`, i]));
  const tooMany = refusal(() => collect({ events: [event(many)] }, { ...rules, extraNames: new Set() }));
  assert.match(JSON.stringify(tooMany.details), /at most 16 fields/);
});

test('occurredAt must name a real instant between 2000 and 2999', () => {
  for (const bad of [
    '2026-02-30T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-01-01T24:00:00Z',
    '2000-01-01T00:00:00+14:00',
  ])
    assert.equal(
      refusal(() => collect({ events: [event({ occurredAt: bad })] })).code,
      'INVALID_EVENTS',
      bad,
    );
  for (const good of ['2024-02-29T12:00:00Z', '2026-11-22T10:55:23.126+01:00', '2026-11-22T10:55Z'])
    assert.equal(collect({ events: [event({ occurredAt: good })] }).length, 1, good);
});

test('problems never quote text values (they may be personal data)', () => {
  const error = refusal(() =>
    collect({ events: [event({ args: 'joe@example.com', sessionId: 'x'.repeat(200) })] }),
  );
  assert.doesNotMatch(JSON.stringify(error.details), /joe@example/);
  assert.match(JSON.stringify(error.details), /a string of 15 characters/);
});

test('PII keys are found by name at any depth, and non-text values under them are dropped', () => {
  const policy = { email: 'drop' as const, phone: 'hash' as const, hashKey: 'k'.repeat(32) };
  const out = applyPiiToObject(policy, {
    visitorEmail: 'a@b.c',
    contact: { 'e-mail': 'x@y.z', mobile: '+1 602 555 1234', list: [{ email: 'q@r.s' }] },
    email: { nested: 'a@b.c' },
    note: 'keep me',
  });
  assert.deepEqual(JSON.parse(JSON.stringify(out)), {
    visitorEmail: null,
    contact: { 'e-mail': null, mobile: applyPii(policy, 'phone', '16025551234'), list: [{ email: null }] },
    email: null,
    note: 'keep me',
  });
});

test('client addresses: the right-most forwarded entry, IPv6 limited per /64', () => {
  assert.equal(clientAddress('10.0.0.1', '1.2.3.4, 203.0.113.7', true), '203.0.113.7');
  assert.equal(clientAddress('10.0.0.1', '1.2.3.4', false), '10.0.0.1');
  assert.equal(rateKey('2001:db8:1:2:aaaa::1'), rateKey('2001:db8:1:2:bbbb::9'));
  assert.notEqual(rateKey('2001:db8:1:2::1'), rateKey('2001:db8:1:3::1'));
  assert.equal(rateKey('198.51.100.7'), '198.51.100.7');
});
