/**
 * Collected events → the records of the three Pure Chat topics (pure): every event to
 * `purechat.events` (enriched with receive time, user agent and truncated client address, PII
 * handled per setting), and the snippet's state events also to `purechat.visitors`
 * (`visitor:state`) and `purechat.widget_settings` (`widget:state`), latest state per key.
 */
import type { SourceRecord } from '../source.ts';
import type { CollectedEvent } from './events.ts';
import { applyPii, applyPiiToObject, type PiiPolicy } from './pii.ts';

export const VISITOR_STATE = 'visitor:state';
export const WIDGET_STATE = 'widget:state';

export interface Enrichment {
  receivedMs: number;
  userAgent: string | null;
  /** Already truncated (truncateIp). */
  clientIp: string | null;
}

/** A scalar as text (numbers and booleans too); objects and arrays are not a value here. */
function text(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return null;
}

function bool(value: unknown): boolean | null {
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  return null;
}

function json(value: Record<string, unknown> | null): string | null {
  return value === null ? null : JSON.stringify(value);
}

function eventValue(e: CollectedEvent, en: Enrichment, pii: PiiPolicy): Record<string, unknown> {
  const a = e.args ?? {};
  return {
    ...(applyPiiToObject(pii, e.extra) as Record<string, unknown>),
    event_id: e.id,
    name: e.type,
    session_id: e.sessionId,
    visitor_id: e.visitorId,
    widget_id: e.widgetId,
    chatbox_id: text(a.chatboxId),
    transcript_id: text(a.transcriptId),
    visitor_name: text(a.name),
    visitor_first_name: text(a.firstName),
    visitor_last_name: text(a.lastName),
    visitor_email: applyPii(pii, 'email', text(a.email)),
    visitor_phone: applyPii(pii, 'phone', text(a.phoneNumber)),
    question: text(a.question),
    started_by_operator: bool(a.startedByOperator),
    occurred_time: e.occurredMs,
    received_time: en.receivedMs,
    page_url: e.pageUrl,
    referrer: e.referrer,
    user_agent: en.userAgent,
    client_ip: en.clientIp,
    args: json(e.args && applyPiiToObject(pii, e.args)),
  };
}

/** The state's keys without their `visitor.` / `chatbox.` prefix, and the ones not consumed. */
function unprefixed(args: Record<string, unknown>, prefix: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [key, value] of Object.entries(args))
    out.set(key.startsWith(prefix) ? key.slice(prefix.length) : key, value);
  return out;
}

function rest(keys: Map<string, unknown>, used: string[], pii: PiiPolicy): string | null {
  const left: Record<string, unknown> = {};
  for (const [key, value] of keys) if (!used.includes(key)) left[key] = value;
  return Object.keys(left).length > 0 ? JSON.stringify(applyPiiToObject(pii, left)) : null;
}

function common(e: CollectedEvent, en: Enrichment) {
  return {
    page_url: e.pageUrl,
    user_agent: en.userAgent,
    client_ip: en.clientIp,
    observed_time: e.occurredMs,
    received_time: en.receivedMs,
    event_id: e.id,
  };
}

const VISITOR_KEYS = ['name', 'firstName', 'lastName', 'email', 'phoneNumber', 'company', 'question'];

function visitorValue(e: CollectedEvent, en: Enrichment, pii: PiiPolicy): Record<string, unknown> {
  const k = unprefixed(e.args ?? {}, 'visitor.');
  return {
    visitor_id: e.visitorId,
    widget_id: e.widgetId,
    session_id: e.sessionId,
    name: text(k.get('name')),
    first_name: text(k.get('firstName')),
    last_name: text(k.get('lastName')),
    email: applyPii(pii, 'email', text(k.get('email'))),
    phone: applyPii(pii, 'phone', text(k.get('phoneNumber'))),
    company: text(k.get('company')),
    question: text(k.get('question')),
    extra: rest(k, VISITOR_KEYS, pii),
    ...common(e, en),
  };
}

const WIDGET_KEYS = [
  'position',
  'expanded',
  'visible',
  'showMinimizeButton',
  'unavailableBehavior',
  'enableTranscriptDownload',
  'operatorsAvailable',
];

function widgetValue(e: CollectedEvent, en: Enrichment, pii: PiiPolicy): Record<string, unknown> {
  const k = unprefixed(e.args ?? {}, 'chatbox.');
  return {
    widget_id: e.widgetId,
    position: text(k.get('position')),
    expanded: bool(k.get('expanded')),
    visible: bool(k.get('visible')),
    show_minimize_button: bool(k.get('showMinimizeButton')),
    unavailable_behavior: text(k.get('unavailableBehavior')),
    enable_transcript_download: bool(k.get('enableTranscriptDownload')),
    operators_available: bool(k.get('operatorsAvailable')),
    visitor_id: e.visitorId,
    extra: rest(k, WIDGET_KEYS, pii),
    ...common(e, en),
  };
}

export function eventRecords(events: CollectedEvent[], en: Enrichment, pii: PiiPolicy): SourceRecord[] {
  const records: SourceRecord[] = [];
  for (const e of events) {
    records.push({ kind: 'purechat.events', value: eventValue(e, en, pii) });
    if (e.type === VISITOR_STATE)
      records.push({ kind: 'purechat.visitors', value: visitorValue(e, en, pii) });
    else if (e.type === WIDGET_STATE)
      records.push({ kind: 'purechat.widget_settings', value: widgetValue(e, en, pii) });
  }
  return records;
}
