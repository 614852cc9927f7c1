/**
 * Raw reports through the Extract API, per event type and time window: `POST /reports/raw`
 * {start, end, event, format: csv} → job id; poll `GET /reports/raw/{id}` until COMPLETED;
 * download each sub-report's CSV (`links[]`, or a single `link`) and stream-parse it, one
 * record per row. A window's rows and the event's cursor `{resource: reports, event}` →
 * `{from, to}` are one emit, so a window is written once. Windows end `reportLagMinutes`
 * before now; a first sync starts at FRESHCHAT_SINCE.
 *
 * A window is 'incomplete' (its cursor stays, later windows of the event wait for the next pass)
 * when the job FAILED or timed out, when a COMPLETED job has a sub-report that is not
 * SUCCESS/COMPLETED or lacks its href, or no link at all, and when a download breaks or stalls
 * (tried again up to 3 times first).
 *
 * A backfill (`--since`) never moves the `to` cursor backwards nor forward over windows it did
 * not extract: it extracts [since, stored to) without touching the cursor, then goes on from
 * the stored `to` as a sync does. A --since after the cursor starts at the cursor.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'csv-parse';
import type { FreshchatClient } from '../client.ts';
import { FreshchatUnavailableError } from '../errors.ts';
import { idText, type SyncContext } from '../sync-context.ts';

type Json = Record<string, unknown>;

interface Job {
  id?: unknown;
  status?: unknown;
  interval?: unknown;
  link?: { href?: unknown };
  links?: unknown;
}

/** One CSV of a completed job, with the interval it covers. */
export interface ReportLink {
  href: string;
  from: string;
  to: string;
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
    const stored = typeof cursor?.to === 'string' ? Date.parse(cursor.to) : Number.NaN;
    let done: 'done' | 'unavailable' | 'incomplete';
    if (Number.isNaN(stored)) done = await extractWindows(s, event, firstWindowStart(s), until, true);
    else {
      const since = Date.parse(s.since);
      done =
        s.backfill && since < stored
          ? await extractWindows(s, event, since, stored, false) // again, without touching the cursor
          : 'done';
      if (done === 'done') done = await extractWindows(s, event, stored, until, true);
    }
    if (done === 'unavailable') return s.unavailable('reports', '/reports/raw');
  }
}

/**
 * Extracts the windows of [from, until) in order; with `moveCursor` each window's rows commit
 * the event's cursor. Stops at the first window that is not done (a later one must not move the
 * cursor over it).
 */
async function extractWindows(
  s: SyncContext,
  event: string,
  from: number,
  until: number,
  moveCursor: boolean,
): Promise<'done' | 'unavailable' | 'incomplete'> {
  // [since, stored to) of a backfill ends at a time already extracted: its last window may be short.
  const partial = !moveCursor || s.settings.reportPartialWindows;
  for (const window of windows(from, until, s.settings.reportWindowHours, partial)) {
    if (s.runtime.signal.aborted) return 'incomplete';
    const done = await extractWindow(s, event, window.start, window.end, moveCursor);
    if (done === 'incomplete')
      s.progress.incomplete.reports = `${event} ${new Date(window.start).toISOString()} did not complete`;
    if (done !== 'done') return done;
  }
  return 'done';
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
  moveCursor: boolean,
): Promise<'done' | 'unavailable' | 'incomplete'> {
  const body = {
    start: new Date(start).toISOString(),
    end: new Date(end).toISOString(),
    event,
    format: 'csv',
  };
  const created = await s.client.post<Job>('reports', '/reports/raw', body);
  if (created === undefined) return 'unavailable';
  const id = idText(created.id);
  // A 202 `{code, status, message}` ("still being processed") carries no job yet.
  if (!id)
    throw new FreshchatUnavailableError(
      `the Extract API answered without a job id: ${JSON.stringify(created).slice(0, 200)}`,
    );
  const job = await waitForJob(s, id);
  if (!job) return 'incomplete';
  const links = reportLinks(job, body.start, body.end);
  if (typeof links === 'string') {
    s.log.warn('an Extract API job completed without usable files; it is requested again next pass', {
      event,
      job: id,
      reason: links,
    });
    return 'incomplete';
  }
  const records: { kind: string; value: Json }[] = [];
  for (const link of links) {
    const rows = await readCsvWithRetries(s, absolute(link.href, s.client));
    if (rows === undefined) return 'incomplete';
    const seen = new Map<string, number>();
    rows.forEach((columns, index) => {
      // The row's identity is its content (and how often the same content occurred before in
      // this file), not the window: a backfill that extracts a range again in other windows
      // gives the same rows the same ids.
      const content = JSON.stringify([event, columns]);
      const occurrence = seen.get(content) ?? 0;
      seen.set(content, occurrence + 1);
      records.push({
        kind: 'freshchat.report_rows',
        value: {
          row_id: rowId(event, columns, occurrence),
          report_id: id,
          event,
          interval_from: link.from,
          interval_to: link.to,
          row_number: index + 1,
          columns,
          extracted_time: new Date().toISOString(),
        },
      });
    });
  }
  await s.runtime.emit({
    records,
    offsets: moveCursor
      ? [{ partition: { resource: 'reports', event }, offset: { from: body.start, to: body.end } }]
      : [],
  });
  s.progress.records.reports = (s.progress.records.reports ?? 0) + records.length;
  return 'done';
}

const LINK_DONE = new Set(['SUCCESS', 'COMPLETED']);

/**
 * The files of a COMPLETED job: its `links[]` (each sub-report SUCCESS or COMPLETED — a sub-link
 * without a status is taken as done — with an href), else its single `link`. A string says why
 * the job cannot be used yet (a sub-report still pending or failed, an href missing, no link).
 */
export function reportLinks(job: Job, start: string, end: string): ReportLink[] | string {
  if (Array.isArray(job.links) && job.links.length > 0) {
    const out: ReportLink[] = [];
    for (const [i, raw] of job.links.entries()) {
      const sub = (raw && typeof raw === 'object' ? raw : {}) as Json;
      const status = sub.status === undefined ? undefined : String(sub.status).toUpperCase();
      if (status !== undefined && !LINK_DONE.has(status)) return `sub-report ${i + 1} is ${status}`;
      const href = (sub.link as { href?: unknown } | undefined)?.href;
      if (typeof href !== 'string' || href === '') return `sub-report ${i + 1} has no href`;
      out.push({ href, from: String(sub.from ?? start), to: String(sub.to ?? end) });
    }
    return out;
  }
  const href = job.link?.href;
  if (typeof href === 'string' && href !== '') return [{ href, from: start, to: end }];
  return 'the job has neither links nor a link';
}

const DOWNLOAD_ATTEMPTS = 3;

/** A CSV, downloaded again when the transfer breaks or stalls; undefined after the last attempt. */
async function readCsvWithRetries(
  s: SyncContext,
  url: string,
): Promise<Record<string, string>[] | undefined> {
  const where = url.replace(/\?.*/, '');
  for (let attempt = 1; ; attempt++) {
    try {
      return await parseCsv(await s.client.download(url), (error) =>
        s.log.warn('skipping a malformed report row', { url: where, error: error.message }),
      );
    } catch (error) {
      if (s.runtime.signal.aborted) throw error;
      s.log.warn('a report file could not be read', { url: where, attempt, error: (error as Error).message });
      // FreshchatUnavailableError: the download's own retries are used up, or the link expired (4xx).
      if (error instanceof FreshchatUnavailableError || attempt >= DOWNLOAD_ATTEMPTS) return undefined;
      await sleep(500 * attempt, undefined, { signal: s.runtime.signal });
    }
  }
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

/**
 * Stream-parses a CSV (header row → column names); rows as objects of strings. `pipeline`
 * forwards an error of the download (a reset, a body timeout) so it rejects instead of hanging.
 */
export async function parseCsv(
  stream: Readable,
  onSkip: (error: Error) => void = () => undefined,
): Promise<Record<string, string>[]> {
  const parser = parse({
    columns: true,
    bom: true,
    skip_empty_lines: true,
    relax_column_count: true,
    skip_records_with_error: true,
  });
  parser.on('skip', onSkip);
  const rows: Record<string, string>[] = [];
  await pipeline(stream, parser, async (source: AsyncIterable<unknown>) => {
    for await (const row of source) rows.push(row as Record<string, string>);
  });
  return rows;
}

/** A row's identity: the same row of the same window always has the same id. */
export function rowId(event: string, columns: Record<string, string>, occurrence: number): string {
  return createHash('sha256')
    .update(JSON.stringify([event, columns, occurrence]))
    .digest('hex')
    .slice(0, 32);
}
