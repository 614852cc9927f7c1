/**
 * The dashboard's time range: a preset (`1h` … `30d`, ending now) or `from`/`to` instants, checked
 * and rendered as ClickHouse literals on the server (18.16 has no query parameters; the browser
 * never sends SQL). Pure, so it is unit-tested.
 */

export const PRESETS: Record<string, number> = {
  '1h': 3_600_000,
  '6h': 6 * 3_600_000,
  '24h': 24 * 3_600_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
};
export const DEFAULT_PRESET = '24h';
const MAX_SPAN_MS = 400 * 86_400_000;
/** What ClickHouse 18.16's DateTime holds. */
const MIN_MS = 0;
const MAX_MS = Date.UTC(2105, 11, 31, 23, 59, 59);

export interface TimeRange {
  from: number;
  to: number;
  /** The preset it came from, if any. */
  preset?: string;
}

export class RangeError400 extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

function instant(field: string, raw: string): number {
  const ms = /^\d+$/.test(raw) ? Number(raw) * 1000 : Date.parse(raw);
  if (!Number.isFinite(ms))
    throw new RangeError400(
      field,
      `"${raw}" is not a time: give ISO 8601 (2025-06-01T08:00:00Z) or Unix seconds`,
    );
  if (ms < MIN_MS || ms > MAX_MS) throw new RangeError400(field, `${raw} is outside 1970 … 2105`);
  return ms;
}

/**
 * The range a request asks for. `now` is rounded down to `roundMs` so that every viewer in the
 * same few seconds asks the same question (and shares one cached answer).
 */
export function parseRange(query: URLSearchParams, now: number, roundMs = 1000): TimeRange {
  const from = query.get('from');
  const to = query.get('to');
  const preset = query.get('range');
  if (from !== null || to !== null) {
    if (preset !== null) throw new RangeError400('range', 'give either range or from/to, not both');
    if (from === null || to === null)
      throw new RangeError400(from === null ? 'from' : 'to', 'from and to go together');
    const range = { from: instant('from', from), to: instant('to', to) };
    if (range.from >= range.to) throw new RangeError400('from', 'from must be before to');
    if (range.to - range.from > MAX_SPAN_MS) throw new RangeError400('to', 'a range spans at most 400 days');
    // Seconds past a 10 s step ask nothing new (the panels cover whole hours anyway).
    return { from: roundDown(range.from, CUSTOM_STEP_MS), to: roundDown(range.to, CUSTOM_STEP_MS) };
  }
  const name = preset ?? DEFAULT_PRESET;
  const span = PRESETS[name];
  if (span === undefined)
    throw new RangeError400('range', `unknown range "${name}"; one of ${Object.keys(PRESETS).join(', ')}`);
  const end = Math.floor(now / Math.max(1, roundMs)) * Math.max(1, roundMs);
  return { from: end - span, to: end, preset: name };
}

const HOUR_MS = 3_600_000;
/** Custom from/to are rounded down to this step. */
export const CUSTOM_STEP_MS = 10_000;
const roundDown = (ms: number, step: number) => Math.floor(ms / step) * step;

/**
 * The range the panels answer for: whole hours, from the start of `from`'s hour to the last
 * second of `to`'s hour. The hourly views cannot be cut inside an hour, so every panel (stat
 * tiles, tables over exact times too) covers these same hours; the per-day charts whole days.
 */
export function alignToHours(range: TimeRange): TimeRange {
  return {
    ...range,
    from: roundDown(range.from, HOUR_MS),
    to: roundDown(range.to, HOUR_MS) + HOUR_MS - 1000,
  };
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `toDateTime('YYYY-MM-DD hh:mm:ss', 'UTC')` — built from a number only, so nothing can be injected. */
export function dateTimeLiteral(ms: number): string {
  if (!Number.isFinite(ms)) throw new Error(`not a time: ${ms}`);
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const text = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return `toDateTime('${text}', 'UTC')`;
}
