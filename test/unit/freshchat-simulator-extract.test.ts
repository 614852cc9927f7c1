/**
 * The Freshchat simulator's Extract API end to end: POST a job, poll PENDING → COMPLETED,
 * download the CSVs (no auth, unguessable URL) and parse them (RFC 4180).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EXTRACT_EVENTS, FreshchatSimulator } from '../../producers/freshchat/simulator/index.ts';
import { quiet } from '../helpers/simulator.ts';

let sim: FreshchatSimulator;
before(async () => {
  sim = await FreshchatSimulator.start({ seed: 21, log: quiet, extract: { pendingPolls: 2 } });
});
after(() => sim.stop());

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(`${sim.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${sim.apiKey}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies, checked by the assertions
  return { status: response.status, body: (await response.json()) as any };
}

/** RFC 4180: quoted fields may hold commas, doubled quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '"' && text[i + 1] === '"') {
      field += '"';
      i++;
    } else if (quoted && c === '"') quoted = false;
    else if (quoted || (c !== '"' && c !== ',' && c !== '\r')) field += c;
    else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++; // the \n of \r\n
    }
  }
  return rows;
}

const WHOLE = { start: '2025-06-01T00:00:00.000Z', end: '2025-07-02T00:00:00.000Z' };

async function runJob(event: string, range = WHOLE) {
  const created = await api('POST', '/reports/raw/', { ...range, event, format: 'csv' });
  assert.equal(created.status, 202);
  const { id } = created.body;
  for (;;) {
    const polled = await api('GET', `/reports/raw/${id}`);
    assert.equal(polled.status, 200);
    if (polled.body.status === 'COMPLETED') return polled.body;
    assert.equal(polled.body.status, 'PENDING');
  }
}

test('POST → PENDING (pendingPolls) → COMPLETED with sub-report links; the CSV parses', async () => {
  const created = await api('POST', '/reports/raw', {
    ...WHOLE,
    event: 'Conversation-Created',
    format: 'csv',
  });
  assert.equal(created.status, 202);
  assert.deepEqual(created.body.link, { rel: 'extracts', href: `/reports/raw/${created.body.id}` });
  const id = created.body.id;
  assert.equal((await api('GET', `/reports/raw/${id}`)).body.status, 'PENDING');
  assert.equal((await api('GET', `/reports/raw/${id}`)).body.status, 'PENDING');
  const done = (await api('GET', `/reports/raw/${id}`)).body;
  assert.equal(done.status, 'COMPLETED');
  assert.equal(done.interval, '2025-06-01 00:00:00.0_2025-07-02 00:00:00.0');
  assert.equal(done.links.length, 31, 'one sub-report per 24 h');
  assert.deepEqual(
    {
      from: done.links[0].from,
      to: done.links[0].to,
      status: done.links[0].status,
      rel: done.links[0].link.rel,
    },
    { from: '2025-06-01T00:00:00Z', to: '2025-06-02T00:00:00Z', status: 'COMPLETED', rel: 'extracts' },
  );
  const rows: string[][] = [];
  let header: string[] | undefined;
  for (const link of done.links) {
    assert.match(link.link.href, /^http:\/\/127\.0\.0\.1:\d+\/.*[0-9a-f]{64}\.csv$/);
    const response = await fetch(link.link.href); // no Authorization: a signed URL
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/csv/);
    const [head, ...body] = parseCsv(await response.text());
    header = head;
    rows.push(...body);
  }
  assert.deepEqual(header, [
    'conversation_id',
    'freshchat_conversation_id',
    'created_at',
    'user_id',
    'channel_id',
    'channel_name',
    'first_message',
  ]);
  const snap = sim.snapshot();
  assert.equal(rows.length, snap.conversations.length);
  assert.deepEqual(new Set(rows.map((r) => r[0])), new Set(snap.conversations.map((c) => c.conversation_id)));
  const tricky = rows.find((r) => r[6]?.includes('\n'));
  assert.equal(tricky?.[6], 'Hi, I ordered the "Pro" plan,\nbut I was charged twice 😕');
  const times = rows.map((r) => r[2] as string);
  assert.deepEqual(times, [...times].sort());
});

test('every confirmed event completes with its own header; rows derive from the world', async () => {
  const snap = sim.snapshot();
  for (const event of EXTRACT_EVENTS) {
    const done = await runJob(event);
    const texts = await Promise.all(
      done.links.map(async (l: { link: { href: string } }) => (await fetch(l.link.href)).text()),
    );
    const parsed = texts.map(parseCsv);
    const header = parsed[0]?.[0];
    assert.ok(header && header.length >= 5, event);
    const rows = parsed.flatMap((p) => p.slice(1));
    assert.ok(
      rows.every((r) => r.length === header.length),
      `${event}: every row has every column`,
    );
    assert.ok(rows.length > 0, `${event} has rows`);
    if (event === 'Message-Sent')
      assert.equal(rows.length, snap.messages.filter((m) => m.actor_type === 'agent').length);
  }
});

test('bad jobs are 400 with the error body; unknown jobs 404; CSV URLs cannot be guessed', async () => {
  const base = { ...WHOLE, event: 'Conversation-Created', format: 'csv' };
  for (const body of [
    { ...base, format: 'json' },
    { ...base, event: 'Chat-Transcript' },
    { ...base, start: WHOLE.end, end: WHOLE.start },
    { ...base, start: 'yesterday' },
    { start: WHOLE.start, end: WHOLE.end, event: 'Conversation-Created' },
  ]) {
    const { status, body: error } = await api('POST', '/reports/raw', body);
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(error.code, 400);
  }
  assert.equal((await api('GET', '/reports/raw/00000000-0000-4000-8000-000000000000')).status, 404);
  const origin = sim.url.replace(/\/v2$/, '');
  assert.equal((await fetch(`${origin}/extract-files/${'0'.repeat(64)}.csv`)).status, 404);
});

test('rowsPerLink splits a sub-report; the interval separator is an option', async () => {
  const other = await FreshchatSimulator.start({
    seed: 21,
    log: quiet,
    extract: { pendingPolls: 0, rowsPerLink: 5, subReportHours: 24 * 40, intervalSeparator: ' ' },
  });
  try {
    const post = await fetch(`${other.url}/reports/raw`, {
      method: 'POST',
      headers: { authorization: `Bearer ${other.apiKey}` },
      body: JSON.stringify({ ...WHOLE, event: 'Conversation-Created', format: 'csv' }),
    });
    const { id } = (await post.json()) as { id: string };
    const job = (await (
      await fetch(`${other.url}/reports/raw/${id}`, { headers: { authorization: `Bearer ${other.apiKey}` } })
    ).json()) as { interval: string; links: { from: string }[] };
    assert.equal(job.interval, '2025-06-01 00:00:00.0 2025-07-02 00:00:00.0');
    assert.equal(job.links.length, Math.ceil(other.snapshot().conversations.length / 5));
    assert.ok(job.links.every((l) => l.from === '2025-06-01T00:00:00Z'));
  } finally {
    await other.stop();
  }
});

test('the single-link job form: {id, status, interval, link}', async () => {
  const other = await FreshchatSimulator.start({
    seed: 21,
    log: quiet,
    extract: { pendingPolls: 0, singleLink: true },
  });
  try {
    const auth = { authorization: `Bearer ${other.apiKey}` };
    const body = JSON.stringify({ ...WHOLE, event: 'Message-Sent', format: 'csv' });
    const { id } = (await (
      await fetch(`${other.url}/reports/raw`, { method: 'POST', headers: auth, body })
    ).json()) as {
      id: string;
    };
    const job = (await (await fetch(`${other.url}/reports/raw/${id}`, { headers: auth })).json()) as {
      status: string;
      link: { rel: string; href: string };
      links?: unknown;
    };
    assert.equal(job.status, 'COMPLETED');
    assert.equal(job.links, undefined);
    assert.equal(job.link.rel, 'extracts');
    const rows = parseCsv(await (await fetch(job.link.href)).text());
    assert.equal(rows.length - 1, other.snapshot().messages.filter((m) => m.actor_type === 'agent').length);
  } finally {
    await other.stop();
  }
});
