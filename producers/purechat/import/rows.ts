/**
 * What the CSV and JSON readers hand on: rows of raw values by our field names, with the line
 * they came from, and the message lists inside them (a JSON list of message objects, or a
 * chat written out as text, one `[time] Author: text` line per message). Pure.
 */
import {
  candidates,
  type ExplicitMapping,
  MESSAGE_FIELDS,
  type MessageField,
  pick,
  type TranscriptField,
} from './mapping.ts';

export interface RawMessage {
  line: number;
  /** Part of its row (a CSV row per message): a bad message makes the whole row bad. */
  inline: boolean;
  fields: Partial<Record<MessageField, unknown>>;
}

/** One CSV record, or one JSON transcript. */
export interface RawRow {
  /** The line it starts on, and the line it ends on (CSV fields may hold line breaks). */
  line: number;
  end: number;
  /** Increasing position in the file: the line for CSV, the transcript's index for JSON. */
  pos: number;
  fields: Partial<Record<TranscriptField, unknown>>;
  messages: RawMessage[];
  /** The row could not be read at all (a CSV syntax error, a JSON element that is no object). */
  error?: string;
  /** Messages that could not be read (not objects); reported, the rest of the row stands. */
  badMessages?: { line: number; message: string }[];
}

/**
 * Appends `items` to `into` one by one: `into.push(...items)` passes every item as an argument
 * on the stack and throws a RangeError past ~120k of them (a transcript's messages can be more).
 */
export function append<T>(into: T[], items: readonly T[]): void {
  for (const item of items) into.push(item);
}

/** Whether a value holds something: not null, not blank. */
export function present(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  return typeof value !== 'string' || value.trim() !== '';
}

/** The transcript id as text (numbers become strings), or undefined when missing. */
export function idOf(row: RawRow): string | undefined {
  const raw = row.fields.transcript_id;
  if (!present(raw)) return undefined;
  return (typeof raw === 'string' ? raw : JSON.stringify(raw)).trim();
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The message fields of a JSON message object. */
export function messageFields(
  object: Record<string, unknown>,
  mapping: ExplicitMapping,
): RawMessage['fields'] {
  const fields: RawMessage['fields'] = {};
  for (const field of MESSAGE_FIELDS) {
    const value = pick(object, candidates(mapping, field));
    if (value !== undefined) fields[field] = value;
  }
  return fields;
}

const TEXT_LINE = /^\s*(?:[[(]([^\])]{1,40})[\])]\s*)?(?:([^:[\]()]{1,60}?):\s+)?(.*)$/;

/**
 * A chat written out as text: `[2024-03-05 14:03] Jane: Hello`, `Jane: Hello` or just
 * `Hello`, one message a line; a line with neither time nor author continues the message
 * before it. A bracketed prefix that is not a date (`[2:03 PM]`) stays at the start of the text.
 */
export function textMessages(text: string, line: number, isTime: (value: string) => boolean): RawMessage[] {
  const out: RawMessage[] = [];
  for (const raw of text.split(/\r?\n/)) {
    if (raw.trim() === '') continue;
    const m = TEXT_LINE.exec(raw);
    let time = m?.[1];
    let body = m?.[3] ?? raw;
    const author = m?.[2]?.trim();
    if (time !== undefined && !isTime(time)) {
      body = `[${time}] ${body}`;
      time = undefined;
    }
    const previous = out.at(-1);
    if (time === undefined && author === undefined && previous) {
      previous.fields.text = `${String(previous.fields.text ?? '')}\n${body.trim()}`;
      continue;
    }
    const fields: RawMessage['fields'] = { text: body.trim() };
    if (time !== undefined) fields.time = time;
    if (author !== undefined) fields.author = author;
    out.push({ line, inline: false, fields });
  }
  return out;
}

/**
 * The messages of a `messages` value: a list of message objects (or of text lines), JSON text
 * of such a list, or chat text. `lineOf(i)` is the line of the list's i-th element.
 */
export function messagesOf(
  value: unknown,
  mapping: ExplicitMapping,
  line: number,
  lineOf: (index: number) => number,
  isTime: (value: string) => boolean,
): { messages: RawMessage[]; bad: { line: number; message: string }[] } {
  const bad: { line: number; message: string }[] = [];
  if (!present(value)) return { messages: [], bad };
  if (typeof value === 'string') {
    const text = value.trim();
    if (text.startsWith('[')) {
      try {
        const list = JSON.parse(text) as unknown;
        if (Array.isArray(list)) return messagesOf(list, mapping, line, () => line, isTime);
      } catch {
        // not JSON after all: chat text that happens to start with a bracket
      }
    }
    return { messages: textMessages(text, line, isTime), bad };
  }
  if (!Array.isArray(value)) return { messages: [], bad: [{ line, message: 'messages is not a list' }] };
  const messages: RawMessage[] = [];
  value.forEach((item, index) => {
    const at = lineOf(index);
    if (isObject(item)) messages.push({ line: at, inline: false, fields: messageFields(item, mapping) });
    else if (typeof item === 'string') append(messages, textMessages(item, at, isTime));
    else if (item !== null) bad.push({ line: at, message: `message ${index + 1} is not an object` });
  });
  return { messages, bad };
}
