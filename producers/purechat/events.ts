/**
 * Protocol v1 of the collector (docs/PURECHAT.md), as a pure function: a parsed request body
 * → the events it holds, or one HttpError naming every problem. A request is all or nothing,
 * so every event is checked before any is accepted, and each problem is reported as
 * `{index, field, problem}`.
 */
import type { ContractMode } from '../../schemas/evolution.ts';
import { HttpError } from '../http/errors.ts';

export interface CollectedEvent {
  id: string;
  type: string;
  widgetId: string;
  occurredAt: string;
  /** occurredAt as epoch milliseconds. */
  occurredMs: number;
  visitorId: string;
  sessionId: string;
  pageUrl: string | null;
  referrer: string | null;
  args: Record<string, unknown> | null;
  /** Fields beyond protocol v1 as text (kept under PURECHAT_CONTRACT=evolve, else empty). */
  extra: Record<string, string | null>;
}

export interface EventProblem {
  index: number;
  field: string;
  problem: string;
}

export interface EventRules {
  maxEventBytes: number;
  maxEvents: number;
  /** Accepted widget ids; undefined: any. */
  widgetIds?: ReadonlySet<string>;
  contract: ContractMode;
  /**
   * Under `evolve`: names of fields beyond protocol v1 accepted so far (each becomes a schema
   * field). A new name is refused once there are `maxExtraNames` of them, so anonymous clients
   * cannot grow the schema without bound.
   */
  extraNames?: Set<string>;
  maxExtraNames?: number;
}

/** Most fields beyond protocol v1 on one event (under `evolve`). */
export const MAX_EXTRA_FIELDS_PER_EVENT = 16;
const EXTRA_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TYPE = /^[A-Za-z0-9_.:-]{1,64}$/;
const ISO_DATE_TIME = /^(\d{4})-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;
const MAX_ID = 128;
const EARLIEST = Date.UTC(2000, 0, 1);
const LATEST = Date.UTC(3000, 0, 1);
const MAX_URL = 4096;
const KNOWN = new Set([
  'id',
  'type',
  'widgetId',
  'occurredAt',
  'visitorId',
  'sessionId',
  'pageUrl',
  'referrer',
  'args',
]);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** What a value is, without its content when that is text (it may be personal data). */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value).slice(0, 20)}`;
}

const DATE_PARTS = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/;
const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/** Epoch ms of an ISO-8601 date-time that names a real instant (no 30 February, no 24:00), else NaN. */
export function strictDateTime(text: string): number {
  if (!ISO_DATE_TIME.test(text)) return Number.NaN;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return ms;
  const m = DATE_PARTS.exec(text) as RegExpExecArray;
  const [y, mo, d, h, mi] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])];
  const real = mo >= 1 && mo <= 12 && d >= 1 && h <= 23 && mi <= 59 && (d <= 28 || d <= daysIn(y, mo));
  return real ? ms : Number.NaN;
}

/** Checks one event; pushes its problems and returns it when it has none. */
function checkEvent(
  raw: unknown,
  index: number,
  rules: EventRules,
  problems: EventProblem[],
): CollectedEvent | undefined {
  const before = problems.length;
  const problem = (field: string, text: string) => problems.push({ index, field, problem: text });
  if (!isObject(raw)) {
    problem('', `an event must be an object, got ${describe(raw)}`);
    return undefined;
  }
  const text = (field: string, max: number, rule?: RegExp, ruleText?: string): string => {
    const v = raw[field];
    if (v === undefined) problem(field, 'is missing');
    else if (typeof v !== 'string') problem(field, `must be a string, got ${describe(v)}`);
    else if (v.length === 0) problem(field, 'is empty');
    else if (v.length > max) problem(field, `is longer than ${max} characters`);
    else if (rule && !rule.test(v)) problem(field, ruleText ?? 'has an invalid format');
    else return v;
    return '';
  };
  const optionalText = (field: string): string | null => {
    const v = raw[field];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string') problem(field, `must be a string or null, got ${describe(v)}`);
    else if (v.length > MAX_URL) problem(field, `is longer than ${MAX_URL} characters`);
    else return v;
    return null;
  };

  const id = text('id', 36, UUID, 'must be a UUID');
  const type = text('type', 64, TYPE, 'must be 1-64 characters of A-Z a-z 0-9 _ . : -');
  const widgetId = text('widgetId', MAX_ID);
  if (widgetId && rules.widgetIds && !rules.widgetIds.has(widgetId))
    problem('widgetId', 'is not an allowed widget id (PURECHAT_WIDGET_IDS)');
  const occurredAt = text('occurredAt', 40, ISO_DATE_TIME, 'must be an ISO-8601 date-time with a time zone');
  const occurredMs = occurredAt ? strictDateTime(occurredAt) : Number.NaN;
  if (occurredAt && ISO_DATE_TIME.test(occurredAt)) {
    if (Number.isNaN(occurredMs)) problem('occurredAt', 'is not a real date-time');
    else if (occurredMs < EARLIEST || occurredMs >= LATEST)
      problem('occurredAt', 'must be between the years 2000 and 2999');
  }
  const visitorId = text('visitorId', MAX_ID);
  const sessionId = text('sessionId', MAX_ID);
  const pageUrl = optionalText('pageUrl');
  const referrer = optionalText('referrer');
  let args: Record<string, unknown> | null = null;
  if (raw.args !== undefined && raw.args !== null) {
    if (isObject(raw.args)) args = raw.args;
    else problem('args', `must be an object or null, got ${describe(raw.args)}`);
  }
  const extra = extraFields(raw, rules, problem);
  if (problems.length > before) return undefined;
  return { id, type, widgetId, occurredAt, occurredMs, visitorId, sessionId, pageUrl, referrer, args, extra };
}

/**
 * The fields beyond protocol v1, by the contract: `discard` drops them, `freeze` refuses each,
 * `evolve` keeps them as text (so a field's type never changes between clients: no schema
 * conflict), with a usable name, a few per event and a bounded number of names overall.
 */
function extraFields(
  raw: Record<string, unknown>,
  rules: EventRules,
  problem: (field: string, text: string) => void,
): Record<string, string | null> {
  const extra: Record<string, string | null> = {};
  if (rules.contract === 'discard') return extra;
  let count = 0;
  for (const key of Object.keys(raw)) {
    if (KNOWN.has(key)) continue;
    if (rules.contract === 'freeze') {
      problem(key, 'is not a field of protocol v1 (PURECHAT_CONTRACT=freeze)');
      continue;
    }
    if (++count > MAX_EXTRA_FIELDS_PER_EVENT) {
      problem(
        key,
        `is one field too many: at most ${MAX_EXTRA_FIELDS_PER_EVENT} fields beyond protocol v1 per event`,
      );
      break;
    }
    if (!EXTRA_NAME.test(key)) {
      problem(key, 'is not a usable field name (a letter, then letters, digits or _; at most 64)');
      continue;
    }
    const known = rules.extraNames;
    if (known && !known.has(key) && known.size >= (rules.maxExtraNames ?? 64)) {
      problem(
        key,
        `is a new field, but ${known.size} fields beyond protocol v1 were added already (the limit)`,
      );
      continue;
    }
    known?.add(key); // counted at once: one request cannot take more than the limit either
    const value = raw[key];
    extra[key] =
      value === null || value === undefined
        ? null
        : typeof value === 'string'
          ? value
          : JSON.stringify(value);
  }
  return extra;
}

function eventTooLarge(events: unknown[], bodyBytes: number, max: number): number {
  if (bodyBytes <= max) return -1; // no event can be larger than the whole body
  return events.findIndex((e) => Buffer.byteLength(JSON.stringify(e) ?? '') > max);
}

/** The events of a parsed request body, or an HttpError (400 / 403 / 413) naming what is wrong. */
export function collectEvents(body: unknown, bodyBytes: number, rules: EventRules): CollectedEvent[] {
  if (!isObject(body))
    throw new HttpError(
      400,
      'INVALID_BODY',
      `The body must be an object {"events": [...]}, got ${describe(body)}`,
    );
  const events = body.events;
  if (!Array.isArray(events))
    throw new HttpError(
      400,
      'INVALID_BODY',
      events === undefined
        ? 'The body has no "events" array'
        : `"events" must be an array, got ${describe(events)}`,
      { field: 'events' },
    );
  if (events.length === 0) throw new HttpError(400, 'INVALID_BODY', '"events" is empty', { field: 'events' });
  if (events.length > rules.maxEvents)
    throw new HttpError(
      413,
      'TOO_MANY_EVENTS',
      `${events.length} events in one request; the limit is ${rules.maxEvents}`,
      {
        limit: rules.maxEvents,
        events: events.length,
      },
    );
  const large = eventTooLarge(events, bodyBytes, rules.maxEventBytes);
  if (large >= 0)
    throw new HttpError(
      413,
      'EVENT_TOO_LARGE',
      `Event ${large} is larger than ${rules.maxEventBytes} bytes`,
      {
        index: large,
        limit: rules.maxEventBytes,
      },
    );
  const problems: EventProblem[] = [];
  const valid: CollectedEvent[] = [];
  events.forEach((raw, index) => {
    const event = checkEvent(raw, index, rules, problems);
    if (event) valid.push(event);
  });
  if (problems.length === 0) return valid;
  const onlyWidgets = problems.every(
    (p) => p.field === 'widgetId' && p.problem.startsWith('is not an allowed'),
  );
  const shown = problems.slice(0, 100);
  const summary = `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${new Set(problems.map((p) => p.index)).size} of ${events.length} events`;
  throw onlyWidgets
    ? new HttpError(403, 'WIDGET_NOT_ALLOWED', `Widget id not allowed: ${summary}`, { events: shown })
    : new HttpError(400, 'INVALID_EVENTS', `Invalid events, nothing was accepted: ${summary}`, {
        events: shown,
        ...(problems.length > shown.length ? { more: problems.length - shown.length } : {}),
      });
}
