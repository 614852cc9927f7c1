/**
 * Export times → epoch milliseconds. Accepts ISO-8601 (`2024-03-05T14:03:00Z`,
 * `2024-03-05 14:03`), slash dates (`03/05/2024 2:03 PM`, month or day first per the
 * setting), `Mar 5, 2024 2:03 PM`, and epoch numbers (below 1e11: seconds). A time without a
 * zone is read in the configured time zone. Pure.
 */
import type { DateOrder } from './config.ts';

export interface TimeOptions {
  /** `UTC`, an IANA zone, or a fixed offset `±hh:mm`. */
  timeZone: string;
  dateOrder: DateOrder;
}

interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
}

const ZONE = String.raw`(Z|UTC|GMT|[+-]\d{2}:?\d{2})`;
const ISO = new RegExp(
  String.raw`^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*${ZONE}?$`,
  'i',
);
const SLASH = new RegExp(
  String.raw`^(\d{1,4})[/.](\d{1,2})[/.](\d{1,4}),?(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*([AP]\.?M\.?)?)?\s*${ZONE}?$`,
  'i',
);
const MONTH_NAMES = /\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b/i;

/** Offset of a fixed `±hh:mm` zone, in minutes; undefined for a named zone. */
function fixedOffsetMinutes(zone: string): number | undefined {
  if (/^(Z|UTC|GMT)$/i.test(zone)) return 0;
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
  if (!m) return undefined;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** How far a named zone is ahead of UTC at an instant, in milliseconds. */
function zoneOffsetMs(zone: string, instant: number): number {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, format);
  }
  const parts: Record<string, number> = {};
  for (const p of format.formatToParts(new Date(instant)))
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const asUtc = Date.UTC(
    parts.year ?? 1970,
    (parts.month ?? 1) - 1,
    parts.day ?? 1,
    parts.hour ?? 0,
    parts.minute ?? 0,
    parts.second ?? 0,
  );
  return asUtc - Math.floor(instant / 1000) * 1000;
}

/** A wall-clock time in a zone → epoch ms (a time in a DST gap moves forward, as clocks do). */
export function wallToEpoch(wall: Wall, zone: string): number {
  const utc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second, wall.ms);
  const fixed = fixedOffsetMinutes(zone);
  if (fixed !== undefined) return utc - fixed * 60_000;
  const first = zoneOffsetMs(zone, utc);
  const guess = utc - first;
  const second = zoneOffsetMs(zone, guess);
  if (second === first) return guess;
  // The first guess crossed a change of offset: the other offset fits, or the time is in the
  // gap of a spring-forward (then the guess, an hour later on the clock, is what clocks showed).
  const other = utc - second;
  return zoneOffsetMs(zone, other) === second ? other : guess;
}

function validWall(w: Wall): boolean {
  if (w.month < 1 || w.month > 12 || w.day < 1 || w.hour > 23 || w.minute > 59 || w.second > 59) return false;
  const check = new Date(Date.UTC(w.year, w.month - 1, w.day));
  return check.getUTCDate() === w.day && check.getUTCMonth() === w.month - 1;
}

const num = (s: string | undefined) => (s === undefined ? 0 : Number(s));
const fraction = (s: string | undefined) => (s ? Math.round(Number(`0.${s}`) * 1000) : 0);

function fromParts(wall: Wall, zone: string | undefined, options: TimeOptions): number | undefined {
  if (!validWall(wall)) return undefined;
  return wallToEpoch(wall, zone ?? options.timeZone);
}

function parseIso(m: RegExpExecArray, options: TimeOptions): number | undefined {
  const wall = {
    year: num(m[1]),
    month: num(m[2]),
    day: num(m[3]),
    hour: num(m[4]),
    minute: num(m[5]),
    second: num(m[6]),
    ms: fraction(m[7]),
  };
  return fromParts(wall, m[8], options);
}

function parseSlash(m: RegExpExecArray, options: TimeOptions): number | undefined {
  const [a, b, c] = [m[1] ?? '', m[2] ?? '', m[3] ?? ''];
  let year: number;
  let month: number;
  let day: number;
  if (a.length === 4) [year, month, day] = [Number(a), Number(b), Number(c)];
  else {
    year = c.length <= 2 ? 2000 + Number(c) - (Number(c) >= 70 ? 100 : 0) : Number(c);
    [month, day] = options.dateOrder === 'mdy' ? [Number(a), Number(b)] : [Number(b), Number(a)];
  }
  let hour = num(m[4]);
  const meridiem = m[8]?.toUpperCase().replaceAll('.', '');
  if (meridiem) {
    if (hour < 1 || hour > 12) return undefined;
    hour = (hour % 12) + (meridiem === 'PM' ? 12 : 0);
  }
  const wall = { year, month, day, hour, minute: num(m[5]), second: num(m[6]), ms: fraction(m[7]) };
  return fromParts(wall, m[9], options);
}

/** `Mar 5, 2024 2:03 PM` and the like, by the JavaScript date parser read as UTC wall time. */
function parseWords(text: string, options: TimeOptions): number | undefined {
  if (!MONTH_NAMES.test(text) || !/\b\d{4}\b/.test(text)) return undefined;
  const zoned = /(Z|UTC|GMT|[+-]\d{2}:?\d{2})$/i.test(text);
  const ms = Date.parse(zoned ? text : `${text} UTC`);
  if (Number.isNaN(ms)) return undefined;
  if (zoned) return ms;
  const d = new Date(ms);
  const wall = {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    ms: d.getUTCMilliseconds(),
  };
  return wallToEpoch(wall, options.timeZone);
}

/**
 * Epoch milliseconds of an export time; null when it is empty; undefined when it is not a
 * date (the caller reports it).
 */
export function parseTime(value: unknown, options: TimeOptions): number | null | undefined {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number')
    return Number.isFinite(value) ? Math.round(value < 1e11 ? value * 1000 : value) : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text === '') return null;
  if (/^\d+(\.\d+)?$/.test(text)) return parseTime(Number(text), options);
  const iso = ISO.exec(text);
  if (iso) return parseIso(iso, options);
  const slash = SLASH.exec(text);
  if (slash) return parseSlash(slash, options);
  return parseWords(text, options);
}
