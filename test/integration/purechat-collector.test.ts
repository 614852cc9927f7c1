/**
 * `chatstream purechat collect` on the real stack: valid events land in the three topics with
 * the right fields; every kind of bad input gets its own 4xx with a JSON body, the collector
 * stays up, nothing of a refused request reaches the good topics and its body is in the
 * bad-rows topic; CORS, the rate limit, the snippet, metrics, and a drain on SIGTERM.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { configOf, recordsOf } from '../helpers/freshchat.ts';
import {
  type CollectorProcess,
  getStatus,
  makeEvent,
  post,
  purechatEnv,
  startCollectorProcess,
  WIDGET_ID,
} from '../helpers/purechat.ts';
import { type TopicRecord, topicRecords } from '../helpers/topic-records.ts';

let env: NodeJS.ProcessEnv;
let collector: CollectorProcess;
/** Ids of the events answered 200: exactly these may be in purechat.events. */
const accepted = new Set<string>();

before(async () => {
  env = {
    ...(await purechatEnv()),
    PURECHAT_WIDGET_IDS: `${WIDGET_ID},other-widget`,
    PURECHAT_ALLOWED_ORIGINS: 'https://shop.example.com',
    PURECHAT_RATE_LIMIT_PER_MINUTE: '600',
    PURECHAT_TRUST_PROXY: 'true',
    PURECHAT_PII_PHONE: 'drop',
  };
  collector = await startCollectorProcess(env);
});

after(async () => {
  await collector?.proc.stop();
});

async function postValid(events: Record<string, unknown>[], headers?: Record<string, string>) {
  const answer = await post(collector.url, JSON.stringify({ events }), headers);
  assert.equal(answer.status, 200, answer.text);
  for (const e of events) accepted.add(String(e.id));
  return answer.json();
}

test('valid events: 200 once Kafka has them, with every field in the three topics', async () => {
  const chat = makeEvent({
    type: 'chat:end',
    args: {
      chatboxId: 7,
      name: 'Joe Doe',
      email: 'joe@example.com',
      phoneNumber: '6025551234',
      question: 'Hi',
      transcriptId: 'tr-1',
      startedByOperator: false,
    },
  });
  const visitor = makeEvent({
    type: 'visitor:state',
    visitorId: 'visitor-9',
    args: { 'visitor.name': 'Joe Doe', 'visitor.email': 'joe@example.com', 'visitor.company': 'Acme' },
  });
  const widget = makeEvent({
    type: 'widget:state',
    args: { 'chatbox.position': 'bottomLeft', 'chatbox.expanded': true, operatorsAvailable: false },
  });
  const result = await postValid([chat, visitor, widget], {
    'content-type': 'text/plain;charset=UTF-8',
    origin: 'https://shop.example.com',
    'user-agent': 'TestBrowser/1.0',
    'x-forwarded-for': '198.51.100.1, 203.0.113.77', // the right-most entry is our proxy's
  });
  assert.deepEqual(result, { accepted: 3, duplicates: 0 });

  const events = await recordsOf(env, 'purechat.events');
  const end = events.find((r) => r.value?.event_id === chat.id)?.value;
  assert.ok(end, 'chat:end is in purechat.events');
  assert.equal(end.name, 'chat:end');
  assert.equal(end.chatbox_id, '7');
  assert.equal(end.transcript_id, 'tr-1');
  assert.equal(end.visitor_email, 'joe@example.com');
  assert.equal(end.visitor_phone, null, 'PURECHAT_PII_PHONE=drop');
  assert.equal(end.started_by_operator, false);
  assert.equal(end.user_agent, 'TestBrowser/1.0');
  assert.equal(end.client_ip, '203.0.113.0');
  assert.equal(end.page_url, 'https://example.com/pricing');
  assert.doesNotMatch(String(end.args), /6025551234/, 'the phone is dropped from args too');

  const visitors = await recordsOf(env, 'purechat.visitors');
  assert.deepEqual(
    visitors.map((r) => [r.key, r.value?.name, r.value?.email, r.value?.company]),
    [['visitor-9', 'Joe Doe', 'joe@example.com', 'Acme']],
  );
  const widgets = await recordsOf(env, 'purechat.widget_settings');
  assert.deepEqual(
    widgets.map((r) => [r.key, r.value?.position, r.value?.expanded, r.value?.operators_available]),
    [[WIDGET_ID, 'bottomLeft', true, false]],
  );
});

test('the same events sent again are answered 200 without being written twice', async () => {
  const events = [makeEvent(), makeEvent()];
  await postValid(events);
  const again = await post(collector.url, JSON.stringify({ events }));
  assert.deepEqual(again.json(), { accepted: 0, duplicates: 2 });
});

const deep = `${'['.repeat(200)}${']'.repeat(200)}`;
const big = (n: number) => makeEvent({ args: { question: 'x'.repeat(n) } });

/** [name, body, headers, status, code, reaches the bad-rows topic] */
const CORPUS: [string, string | Buffer, Record<string, string>, number, string, boolean][] = [
  ['malformed JSON', '{"events": [', {}, 400, 'MALFORMED_JSON', true],
  ['empty body', '', {}, 400, 'EMPTY_BODY', true],
  ['top level is an array', '[]', {}, 400, 'INVALID_BODY', true],
  ['top level is a string', '"events"', {}, 400, 'INVALID_BODY', true],
  ['events is an object', '{"events": {}}', {}, 400, 'INVALID_BODY', true],
  ['events is a number', '{"events": 5}', {}, 400, 'INVALID_BODY', true],
  ['an event of 40 KB', JSON.stringify({ events: [big(40_000)] }), {}, 413, 'EVENT_TOO_LARGE', true],
  ['a request of 600 KB', JSON.stringify({ events: [big(600_000)] }), {}, 413, 'PAYLOAD_TOO_LARGE', false],
  [
    '501 events',
    JSON.stringify({ events: Array.from({ length: 501 }, () => makeEvent()) }),
    {},
    413,
    'TOO_MANY_EVENTS',
    true,
  ],
  [
    'a disallowed origin',
    JSON.stringify({ events: [makeEvent()] }),
    { origin: 'https://evil.example' },
    403,
    'ORIGIN_NOT_ALLOWED',
    false,
  ],
  [
    'an unknown widget id',
    JSON.stringify({ events: [makeEvent({ widgetId: 'nope' })] }),
    {},
    403,
    'WIDGET_NOT_ALLOWED',
    true,
  ],
  [
    'wrong types',
    JSON.stringify({ events: [makeEvent({ type: 5, args: 'text', occurredAt: 1700000000 })] }),
    {},
    400,
    'INVALID_EVENTS',
    true,
  ],
  [
    'missing fields',
    JSON.stringify({ events: [makeEvent(), makeEvent({ id: undefined, sessionId: undefined })] }),
    {},
    400,
    'INVALID_EVENTS',
    true,
  ],
  [
    'invalid UTF-8',
    Buffer.from([0x7b, 0x22, 0x65, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
    {},
    400,
    'INVALID_UTF8',
    true,
  ],
  ['deeply nested JSON', `{"events": ${deep}}`, {}, 400, 'TOO_DEEP', true],
  ['a __proto__ key', `{"events": [{"__proto__": {"polluted": true}}]}`, {}, 400, 'FORBIDDEN_KEY', true],
  [
    'a constructor.prototype key',
    `{"events": [], "constructor": {"prototype": {"x": 1}}}`,
    {},
    400,
    'FORBIDDEN_KEY',
    true,
  ],
  [
    'a form body',
    'events=1',
    { 'content-type': 'application/x-www-form-urlencoded' },
    415,
    'UNSUPPORTED_MEDIA_TYPE',
    true,
  ],
];

test('bad input: its own 4xx and JSON body, the collector stays up, bad rows kept, good topics untouched', async () => {
  await postValid([makeEvent()]);
  let badRows = 0;
  for (const [name, body, headers, status, code, badRow] of CORPUS) {
    const answer = await post(collector.url, body, { 'content-type': 'application/json', ...headers });
    assert.equal(answer.status, status, `${name}: ${answer.text}`);
    assert.equal(answer.json().error?.code, code, `${name}: ${answer.text}`);
    assert.ok(answer.json().error?.message, `${name}: the body explains`);
    assert.equal(await getStatus(`${collector.url}/healthz`), 200, `${name}: the collector is still up`);
    if (badRow) badRows++;
  }
  const invalid = await post(
    collector.url,
    JSON.stringify({
      events: [makeEvent({ args: { phoneNumber: '6025559999' } }), makeEvent({ id: 'x', visitorId: 3 })],
    }),
  );
  assert.deepEqual((invalid.json().error?.details as { events?: unknown[] } | undefined)?.events, [
    { index: 1, field: 'id', problem: 'must be a UUID' },
    { index: 1, field: 'visitorId', problem: 'must be a string, got number 3' },
  ]);
  badRows++;
  await postValid([makeEvent()]);

  const ids = (await recordsOf(env, 'purechat.events')).map((r) => String(r.value?.event_id));
  assert.deepEqual(new Set(ids), accepted, 'purechat.events holds exactly the accepted events');
  assert.equal(ids.length, accepted.size, 'each once');
  // Bad rows are written in the background: wait for them.
  let rows: TopicRecord[] = [];
  for (let i = 0; i < 40 && rows.length < badRows; i++) {
    if (i > 0) await sleep(250);
    rows = await topicRecords(configOf(env), `${env.CHATSTREAM_KAFKA_TOPIC_PREFIX}purechat.bad_rows`, {
      decode: false,
    });
  }
  assert.equal(rows.length, badRows, 'one bad row per refused body');
  assert.ok(
    rows.every((r) => r.headers['dlq.reason']?.match(/^4\d\d [A-Z0-9_]+: /)),
    'each with its reason',
  );
  // PURECHAT_PII_PHONE=drop: a body that is not JSON is kept as its size and hash only, and a
  // JSON body has its phone numbers dropped.
  const values = rows.map((r) => {
    try {
      return JSON.parse(r.raw?.toString('utf8') ?? 'null');
    } catch {
      return null; // cut at 64 KiB
    }
  });
  assert.ok(values.some((v) => v?.unparsed === true && v.bytes === 9 && /^[0-9a-f]{64}$/.test(v.sha256)));
  assert.ok(
    values.some((v) => JSON.stringify(v).includes('"id":"x"')),
    'JSON bad rows keep their content',
  );
  assert.ok(!rows.some((r) => r.raw?.includes('6025559999')), 'but not the phone number');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('CORS: allowed origins get the headers and a pre-flight; others a 403', async () => {
  const ok = await request(`${collector.url}/v1/events`, {
    method: 'OPTIONS',
    headers: { origin: 'https://shop.example.com', 'access-control-request-method': 'POST' },
  });
  await ok.body.text();
  assert.equal(ok.statusCode, 204);
  assert.equal(ok.headers['access-control-allow-origin'], 'https://shop.example.com');
  const refused = await request(`${collector.url}/v1/events`, {
    method: 'OPTIONS',
    headers: { origin: 'https://evil.example' },
  });
  await refused.body.text();
  assert.equal(refused.statusCode, 403);
});

test('a client over its rate gets 429 with Retry-After; others are not affected', async () => {
  const body = JSON.stringify({ events: [makeEvent({ id: '00000000-0000-4000-8000-000000000000' })] });
  const statuses: number[] = [];
  let retryAfter: unknown;
  for (let i = 0; i < 80; i++) {
    const answer = await post(collector.url, body, {
      'content-type': 'application/json',
      'x-forwarded-for': '198.51.100.7',
    });
    statuses.push(answer.status);
    if (answer.status === 429) retryAfter = answer.headers['retry-after'];
  }
  accepted.add('00000000-0000-4000-8000-000000000000');
  assert.ok(statuses.includes(429), 'the limit was reached');
  assert.ok(
    statuses.slice(0, 50).every((s) => s === 200),
    'the burst is allowed',
  );
  assert.ok(Number(retryAfter) >= 1);
  const other = await post(collector.url, body, {
    'content-type': 'application/json',
    'x-forwarded-for': '198.51.100.8',
  });
  assert.equal(other.status, 200);
});

test('the snippet is served minified; /metrics counts requests', async () => {
  const snippet = await request(`${collector.url}/v1/snippet.js`);
  const text = await snippet.body.text();
  assert.equal(snippet.statusCode, 200);
  assert.match(String(snippet.headers['content-type']), /javascript/);
  assert.ok(text.length > 500 && text.length < 12_000, `snippet is ${text.length} bytes`);
  assert.match(text, /purechatApi/);
  const metrics = await (await request(`${collector.url}/metrics`)).body.text();
  assert.match(metrics, /chatstream_purechat_requests_total\{status="400"\} \d+/);
  assert.match(metrics, /chatstream_purechat_events_total\{outcome="duplicate"\} [1-9]/);
});

test('SIGTERM drains: requests in flight are answered, and what was answered 200 is in Kafka', async () => {
  const batches = Array.from({ length: 20 }, () => [makeEvent(), makeEvent()]);
  const answers = batches.map((events) =>
    post(collector.url, JSON.stringify({ events }), {
      'content-type': 'application/json',
      'x-forwarded-for': '192.0.2.1',
    }).then(
      (a) => a.status,
      () => 0, // not connected before the listener closed
    ),
  );
  await new Promise((resolve) => setTimeout(resolve, 5));
  const code = await collector.proc.stop('SIGTERM');
  const statuses = await Promise.all(answers);
  assert.equal(code, 0, collector.proc.stderr());
  assert.ok(
    statuses.every((s) => s === 200 || s === 0 || s === 503),
    `statuses: ${statuses}`,
  );
  assert.ok(statuses.includes(200), 'requests in flight were answered');
  statuses.forEach((s, i) => {
    if (s === 200) for (const e of batches[i] ?? []) accepted.add(String(e.id));
  });
  const ids = new Set((await recordsOf(env, 'purechat.events')).map((r) => String(r.value?.event_id)));
  for (const id of accepted) assert.ok(ids.has(id), `${id} was answered 200 but is not in Kafka`);
});
