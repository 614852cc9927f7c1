/**
 * Raw reports against a fake client and runtime (test/helpers/freshchat-harness.ts): sub-report
 * statuses, job ids, broken downloads, backfill windows, and the report-event setting.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { loadSettings } from '../../core/config.ts';
import { ConfigError } from '../../core/errors.ts';
import type { FreshchatClient } from '../../producers/freshchat/client.ts';
import { freshchatSettings } from '../../producers/freshchat/config.ts';
import { FreshchatUnavailableError } from '../../producers/freshchat/errors.ts';
import { parseCsv, reportLinks, syncReports } from '../../producers/freshchat/resources/reports.ts';
import { FreshchatSource } from '../../producers/freshchat/source.ts';
import type { SourceOffset, SourcePartition } from '../../producers/source.ts';
import { harness, quiet, routedClient, written } from '../helpers/freshchat-harness.ts';

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
