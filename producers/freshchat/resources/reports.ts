/**
 * Raw reports through the Extract API, per event type and time window: `POST /reports/raw`
 * {start, end, event, format: csv} → job id; poll `GET /reports/raw/{id}` until COMPLETED;
 * download each sub-report's CSV (`links[]`, or a single `link`) and stream-parse it, one
 * record per row. A window's rows and the event's cursor `{resource: reports, event}` →
 * `{from, to}` are one emit, so a window is written once. Windows end `reportLagMinutes`
 * before now; a first sync starts at FRESHCHAT_SINCE.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'csv-parse';
import type { FreshchatClient } from '../client.ts';
import type { SyncContext } from '../sync-context.ts';

type Json = Record<string, unknown>;

interface Job {
  id?: unknown;
  status?: unknown;
  interval?: unknown;
  link?: { href?: unknown };
  links?: { from?: unknown; to?: unknown; status?: unknown; link?: { href?: unknown } }[];
}

const HOUR = 3_600_000;

/**
 * The windows still to extract for an event: [start, end) steps of windowHours from `from`,
 * ending by `until`. Only whole windows, unless `partial`: then the window in progress too
 * (cut at `until`), and the next pass goes on from there.
 */
export function windows(
  from: number,
  until: number,
  windowHours: number,
  partial: boolean,
): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  const step = windowHours * HOUR;
  for (let start = from; start < until; start += step) {
    if (start + step > until && !partial) break;
    out.push({ start, end: Math.min(until, start + step) });
  }
  return out;
}

export async function syncReports(s: SyncContext): Promise<void> {
  const until = Date.now() - s.settings.reportLagMinutes * 60_000;
  for (const event of s.settings.reportEvents) {
    const cursor = s.runtime.offset({ resource: 'reports', event });
    const from = typeof cursor?.to === 'string' && !s.backfill ? Date.parse(cursor.to) : firstWindowStart(s);
    for (const window of windows(
      from,
      until,
      s.settings.reportWindowHours,
      s.settings.reportPartialWindows,
    )) {
      if (s.runtime.signal.aborted) return;
      const done = await extractWindow(s, event, window.start, window.end);
      if (done === 'unavailable') return s.unavailable('reports', '/reports/raw');
      if (done === 'incomplete') {
        s.progress.incomplete.reports = `${event} ${new Date(window.start).toISOString()} did not complete`;
        break; // later windows wait: the cursor must not jump over this one
      }
    }
  }
}

/** A backfill starts at --since; a first sync at FRESHCHAT_SINCE, but no more than the lookback. */
function firstWindowStart(s: SyncContext): number {
  const since = Date.parse(s.since);
  if (s.backfill) return since;
  return Math.max(since, Date.now() - s.settings.reportLookbackDays * 24 * HOUR);
}

async function extractWindow(
  s: SyncContext,
  event: string,
  start: number,
  end: number,
): Promise<'done' | 'unavailable' | 'incomplete'> {
  const body = {
    start: new Date(start).toISOString(),
    end: new Date(end).toISOString(),
    event,
    format: 'csv',
  };
  const created = await s.client.post<Job>('reports', '/reports/raw', body);
  if (created === undefined) return 'unavailable';
  const id = typeof created.id === 'string' ? created.id : undefined;
  if (!id)
    throw new Error(`the Extract API answered without a job id: ${JSON.stringify(created).slice(0, 200)}`);
  const job = await waitForJob(s, id);
  if (!job) return 'incomplete';
  const links = job.links?.length
    ? job.links.map((l) => ({ href: l.link?.href, from: l.from, to: l.to }))
    : [{ href: job.link?.href, from: body.start, to: body.end }];
  const records: { kind: string; value: Json }[] = [];
  for (const link of links) {
    if (typeof link.href !== 'string') continue;
    const rows = await readCsv(s.client, absolute(link.href, s.client), s.log);
    rows.forEach((columns, index) => {
      const interval = { from: String(link.from ?? body.start), to: String(link.to ?? body.end) };
      records.push({
        kind: 'freshchat.report_rows',
        value: {
          row_id: rowId(event, interval.from, interval.to, index, columns),
          report_id: id,
          event,
          interval_from: interval.from,
          interval_to: interval.to,
          row_number: index + 1,
          columns,
          extracted_time: new Date().toISOString(),
        },
      });
    });
  }
  await s.runtime.emit({
    records,
    offsets: [{ partition: { resource: 'reports', event }, offset: { from: body.start, to: body.end } }],
  });
  s.progress.records.reports = (s.progress.records.reports ?? 0) + records.length;
  return 'done';
}

/** Polls the job until COMPLETED (undefined when it FAILED or took longer than the timeout). */
async function waitForJob(s: SyncContext, id: string): Promise<Job | undefined> {
  const deadline = Date.now() + s.settings.reportTimeoutMinutes * 60_000;
  while (Date.now() < deadline && !s.runtime.signal.aborted) {
    const job = await s.client.get<Job>('report_job', `/reports/raw/${encodeURIComponent(id)}`);
    const status = String(job?.status ?? '').toUpperCase();
    if (status === 'COMPLETED') return job;
    if (status === 'FAILED' || job === undefined) {
      s.log.warn('an Extract API job failed; it is requested again next pass', { job: id, status });
      return undefined;
    }
    await sleep(s.settings.reportPollIntervalMs, undefined, { signal: s.runtime.signal }).catch(
      () => undefined,
    );
  }
  return undefined;
}

/** Report hrefs are absolute signed URLs; a relative one is taken against the API base. */
function absolute(href: string, client: FreshchatClient): string {
  return /^https?:\/\//.test(href) ? href : new URL(href, `${client.origin}/`).toString();
}

/** Stream-parses a CSV file (header row → column names); rows as objects of strings. */
async function readCsv(
  client: FreshchatClient,
  url: string,
  log: SyncContext['log'],
): Promise<Record<string, string>[]> {
  const stream = await client.download(url);
  const parser = stream.pipe(
    parse({
      columns: true,
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      skip_records_with_error: true,
    }),
  );
  parser.on('skip', (error: Error) =>
    log.warn('skipping a malformed report row', { url: url.replace(/\?.*/, ''), error: error.message }),
  );
  const rows: Record<string, string>[] = [];
  for await (const row of parser) rows.push(row as Record<string, string>);
  return rows;
}

/** A row's identity: the same row of the same window always has the same id. */
export function rowId(
  event: string,
  from: string,
  to: string,
  index: number,
  columns: Record<string, string>,
): string {
  return createHash('sha256')
    .update(JSON.stringify([event, from, to, index, columns]))
    .digest('hex')
    .slice(0, 32);
}
