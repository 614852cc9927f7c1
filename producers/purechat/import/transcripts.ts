/**
 * Rows → transcripts: validation (each error names the line and the field), grouping the rows
 * of a transcript (a CSV row per message repeats the transcript columns; they may even be
 * interleaved with other transcripts' rows), and the record for purechat.transcripts with the
 * PII policy applied. Pure.
 */
import { applyPii, type PiiPolicy } from '../pii.ts';
import { TRANSCRIPT_FIELDS, type TranscriptField } from './mapping.ts';
import { append, idOf, present, type RawMessage, type RawRow } from './rows.ts';
import { parseTime, type TimeOptions } from './times.ts';

export interface BadRow {
  line: number;
  message: string;
}

export interface Message {
  time: number | null;
  author: string | null;
  author_type: string | null;
  text: string | null;
}

type TranscriptValues = { [F in TranscriptField]?: string | number | null };

/** One row's contribution to its transcript, validated. */
export interface CleanRow {
  id: string;
  fields: TranscriptValues;
  messages: Message[];
}

const TIME_FIELDS = new Set<string>(['started_time', 'ended_time']);

/** Text of a value: trimmed, empty → null; lists joined with ", "; objects as JSON. */
export function textOf(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value.trim() === '' ? null : value.trim();
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) {
    const items = value.map(textOf).filter((v): v is string => v !== null);
    return items.length > 0 ? items.join(', ') : null;
  }
  return JSON.stringify(value);
}

const AUTHOR_TYPES: Record<string, string> = {
  visitor: 'visitor',
  customer: 'visitor',
  guest: 'visitor',
  user: 'visitor',
  contact: 'visitor',
  client: 'visitor',
  operator: 'operator',
  agent: 'operator',
  staff: 'operator',
  admin: 'operator',
  employee: 'operator',
  system: 'system',
  bot: 'system',
  automated: 'system',
  automatic: 'system',
};

/** visitor | operator | system when the export's word means one of them; else the word, lower case. */
export function authorTypeOf(value: unknown): string | null {
  const text = textOf(value)?.toLowerCase() ?? null;
  return text === null ? null : (AUTHOR_TYPES[text] ?? text);
}

function timeError(field: string, value: unknown): string {
  return `${field} ${JSON.stringify(value)} is not a date`;
}

function cleanMessage(m: RawMessage, times: TimeOptions): { message?: Message; error?: string } {
  if (!Object.values(m.fields).some(present)) return {};
  const time = parseTime(m.fields.time, times);
  if (time === undefined) return { error: timeError('time', m.fields.time) };
  return {
    message: {
      time,
      author: textOf(m.fields.author),
      author_type: authorTypeOf(m.fields.author_type),
      text: textOf(m.fields.text),
    },
  };
}

/**
 * Validates a row. A row with a bad transcript field (or, in a CSV row per message, a bad
 * message) is left out whole; a bad message of a JSON list only drops that message.
 */
export function validateRow(row: RawRow, times: TimeOptions): { clean?: CleanRow; bad: BadRow[] } {
  const bad: BadRow[] = [...(row.badMessages ?? [])];
  if (row.error) return { bad: [{ line: row.line, message: row.error }, ...bad] };
  const rowErrors: string[] = [];
  const id = idOf(row);
  if (id === undefined) rowErrors.push('transcript_id is missing');
  const fields: TranscriptValues = {};
  for (const field of TRANSCRIPT_FIELDS) {
    const raw = row.fields[field];
    if (!TIME_FIELDS.has(field)) fields[field] = field === 'transcript_id' ? (id ?? null) : textOf(raw);
    else {
      const ms = parseTime(raw, times);
      if (ms === undefined) rowErrors.push(timeError(field, raw));
      fields[field] = ms ?? null;
    }
  }
  const messages: Message[] = [];
  for (const m of row.messages) {
    const { message, error } = cleanMessage(m, times);
    if (error && m.inline) rowErrors.push(error);
    else if (error) bad.push({ line: m.line, message: error });
    if (message) messages.push(message);
  }
  if (rowErrors.length > 0 || id === undefined)
    return { bad: [{ line: row.line, message: rowErrors.join('; ') }, ...bad] };
  return { clean: { id, fields, messages }, bad };
}

/** A transcript being put together from its rows. */
export interface Transcript {
  id: string;
  fields: TranscriptValues;
  messages: Message[];
}

/**
 * Groups rows into transcripts. `lastPos` (from the scan) is the position of each id's last
 * row: a transcript is complete there. `idle` is true when no transcript is half read — only
 * there may an offset be committed, so a resumed import never sees half a transcript.
 */
export class Grouper {
  private readonly open = new Map<string, Transcript>();
  private readonly lastPos: ReadonlyMap<string, number>;

  constructor(lastPos: ReadonlyMap<string, number>) {
    this.lastPos = lastPos;
  }

  get idle(): boolean {
    return this.open.size === 0;
  }

  /** A row of transcript `id` was read (`clean` unless it was bad); returns what it completes. */
  add(id: string | undefined, pos: number, clean?: CleanRow): Transcript[] {
    if (id === undefined) return [];
    let t = this.open.get(id);
    if (clean) {
      if (!t) {
        t = { id, fields: {}, messages: [] };
        this.open.set(id, t);
      }
      for (const [field, value] of Object.entries(clean.fields) as [
        TranscriptField,
        string | number | null,
      ][])
        if ((t.fields[field] ?? null) === null && value !== null) t.fields[field] = value;
      append(t.messages, clean.messages);
    }
    if (!t || pos < (this.lastPos.get(id) ?? pos)) return [];
    this.open.delete(id);
    return [t];
  }

  /** End of the file: whatever is still open (nothing, when the scan saw the same rows). */
  drain(): Transcript[] {
    const rest = [...this.open.values()];
    this.open.clear();
    return rest;
  }
}

/** The first and last message time, by a loop: `Math.min(...times)` overflows the stack past ~120k. */
export function span(messages: readonly Message[]): { first: number | null; last: number | null } {
  let first: number | null = null;
  let last: number | null = null;
  for (const { time } of messages) {
    if (time === null) continue;
    if (first === null || time < first) first = time;
    if (last === null || time > last) last = time;
  }
  return { first, last };
}

/** Who wrote it, when the export does not say: the visitor's or the operator's name. */
function inferAuthorType(m: Message, visitor: string | null, operator: string | null): string | null {
  if (m.author_type !== null || m.author === null) return m.author_type;
  const author = m.author.toLowerCase();
  if (visitor !== null && author === visitor.toLowerCase()) return 'visitor';
  if (
    operator
      ?.toLowerCase()
      .split(/\s*,\s*/)
      .includes(author)
  )
    return 'operator';
  return null;
}

/**
 * The purechat.transcripts record, field for field as the Avro schema names them; times in
 * epoch ms. Without a start or end column, the first and last message times stand in.
 */
export function transcriptRecord(t: Transcript, sourceFile: string, pii: PiiPolicy): Record<string, unknown> {
  const f = t.fields;
  const { first, last } = span(t.messages);
  const visitor = (f.visitor_name as string | null | undefined) ?? null;
  const operator = (f.operator_name as string | null | undefined) ?? null;
  return {
    transcript_id: t.id,
    widget_id: f.widget_id ?? null,
    started_time: f.started_time ?? first,
    ended_time: f.ended_time ?? last,
    visitor_name: visitor,
    visitor_email: applyPii(pii, 'email', f.visitor_email ?? null),
    visitor_phone: applyPii(pii, 'phone', f.visitor_phone ?? null),
    operator_name: operator,
    question: f.question ?? null,
    messages: t.messages.map((m) => ({ ...m, author_type: inferAuthorType(m, visitor, operator) })),
    source_file: sourceFile,
  };
}
