/**
 * Extract API jobs (SOURCES.md 1.5): POST /reports/raw creates a job, GET /reports/raw/{id}
 * answers PENDING for `pendingPolls` polls and then COMPLETED with one link per sub-report
 * (`subReportHours` long, split further past `rowsPerLink` rows). The CSVs are made at
 * completion and served, without auth like a signed URL, at an unguessable path.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { apiErrors } from './envelope.ts';
import { type Cell, COLUMNS, EXTRACT_EVENTS, type ExtractEvent, toCsv } from './extract-csv.ts';
import { extractRows, type Row } from './extract-rows.ts';
import { Rng } from './random.ts';
import { HOUR, iso, parseTime } from './time.ts';
import type { ExtractOptions } from './types.ts';
import type { World } from './world.ts';

/** Where the CSV files are served; the token after it is what makes the URL unguessable. */
export const FILES_PATH = '/extract-files/';

interface SubReport {
  from: string;
  to: string;
  status: 'COMPLETED';
  link: { rel: 'extracts'; href: string };
}

interface Job {
  id: string;
  start: number;
  end: number;
  event: ExtractEvent;
  polls: number;
  links?: SubReport[];
}

/** `2020-09-14 00:01:00.0`, the form of the job's `interval`. */
const intervalTime = (ms: number): string =>
  iso(ms)
    .replace('T', ' ')
    .replace(/\.(\d)\d\dZ$/, '.$1');
/** `2020-09-14T00:01:00Z`, the form of a sub-report's `from` and `to`. */
const linkTime = (ms: number): string => iso(ms).replace(/\.\d{3}Z$/, 'Z');

export class ExtractJobs {
  readonly #world: World;
  readonly #seed: number;
  readonly #options: Required<ExtractOptions>;
  readonly #rng: Rng;
  readonly #secret = randomBytes(32);
  readonly #jobs = new Map<string, Job>();
  readonly #files = new Map<string, string>();

  constructor(world: World, seed: number, options: Required<ExtractOptions>) {
    this.#world = world;
    this.#seed = seed;
    this.#options = options;
    this.#rng = Rng.derive(seed, 'extract');
  }

  /** POST body `{start, end, event, format: "csv"}`, all required; returns the job reference. */
  create(body: unknown): { status: number; body: unknown } {
    const b = (body ?? {}) as Record<string, unknown>;
    for (const field of ['start', 'end', 'event', 'format'])
      if (typeof b[field] !== 'string') throw apiErrors.badRequest(`${field} is required`);
    if (b.format !== 'csv') throw apiErrors.badRequest('format must be csv');
    if (!EXTRACT_EVENTS.includes(b.event as ExtractEvent))
      throw apiErrors.badRequest(`event must be one of ${EXTRACT_EVENTS.join(', ')}`);
    const start = parseTime(b.start as string);
    const end = parseTime(b.end as string);
    if (start === undefined || end === undefined)
      throw apiErrors.badRequest('start and end must be ISO-8601 times');
    if (start >= end) throw apiErrors.badRequest('start must be before end');
    const id = this.#rng.uuid();
    this.#jobs.set(id, { id, start, end, event: b.event as ExtractEvent, polls: 0 });
    return {
      status: this.#options.createStatus,
      body: { id, link: { rel: 'extracts', href: `/reports/raw/${id}` } },
    };
  }

  /** One poll of a job; `origin` is the simulator's http://host:port for the CSV links. */
  poll(id: string, origin: string): Record<string, unknown> {
    const job = this.#jobs.get(id);
    if (!job) throw apiErrors.reportNotFound();
    job.polls += 1;
    const interval = `${intervalTime(job.start)}${this.#options.intervalSeparator}${intervalTime(job.end)}`;
    if (job.polls <= this.#options.pendingPolls) return { id, status: 'PENDING', interval };
    job.links ??= this.#complete(job, origin);
    if (this.#options.singleLink) return { id, status: 'COMPLETED', interval, link: job.links[0]?.link };
    return { id, status: 'COMPLETED', interval, links: job.links };
  }

  /** A CSV by the token in its URL, or undefined. */
  file(token: string): string | undefined {
    return this.#files.get(token);
  }

  #complete(job: Job, origin: string): SubReport[] {
    const span = this.#options.singleLink ? job.end - job.start : this.#options.subReportHours * HOUR;
    const all = extractRows(this.#world, this.#seed, job.event, job.start, job.end);
    const links: SubReport[] = [];
    let next = 0;
    for (let from = job.start; from < job.end; from += span) {
      const to = Math.min(from + span, job.end);
      const rows: Cell[][] = [];
      while (next < all.length && (all[next] as Row).time < to) rows.push((all[next++] as Row).cells);
      const size = this.#options.singleLink ? Math.max(1, rows.length) : this.#options.rowsPerLink;
      for (let i = 0; i === 0 || i < rows.length; i += size) {
        const token = createHmac('sha256', this.#secret).update(`${job.id}:${links.length}`).digest('hex');
        this.#files.set(token, toCsv(COLUMNS[job.event], rows.slice(i, i + size)));
        links.push({
          from: linkTime(from),
          to: linkTime(to),
          status: 'COMPLETED',
          link: { rel: 'extracts', href: `${origin}${FILES_PATH}${token}.csv` },
        });
      }
    }
    return links;
  }
}
