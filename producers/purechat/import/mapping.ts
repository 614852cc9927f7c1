/**
 * The column mapping: which CSV column or JSON key of an export holds each transcript field.
 * Explicit names come from PURECHAT_IMPORT_MAPPING or --mapping (JSON text or @file); every
 * field left out is guessed from common names. Names compare case-insensitively, ignoring
 * spaces and punctuation ("Transcript Id" = "transcript_id" = "transcriptId").
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../../core/errors.ts';

export const TRANSCRIPT_FIELDS = [
  'transcript_id',
  'widget_id',
  'started_time',
  'ended_time',
  'visitor_name',
  'visitor_email',
  'visitor_phone',
  'operator_name',
  'question',
] as const;
export const MESSAGE_FIELDS = ['time', 'author', 'author_type', 'text'] as const;

export type TranscriptField = (typeof TRANSCRIPT_FIELDS)[number];
export type MessageField = (typeof MESSAGE_FIELDS)[number];
/** Every mappable field; `messages` holds a transcript's message list (JSON) or chat text (CSV). */
export type Field = TranscriptField | MessageField | 'messages';
export const FIELDS: readonly Field[] = [...TRANSCRIPT_FIELDS, ...MESSAGE_FIELDS, 'messages'];

/** Explicit names: a string, or null for "the export has no such column" (not guessed). */
export type ExplicitMapping = Partial<Record<Field, string | null>>;

/** The names each field is guessed from, most specific first (compared normalized). */
export const DEFAULT_NAMES: Record<Field, readonly string[]> = {
  transcript_id: ['Transcript Id', 'Chat Id', 'Conversation Id', 'Transcript Number', 'Chat Number', 'Id'],
  widget_id: ['Widget Id', 'Widget Key', 'Widget', 'Chatbox Id'],
  started_time: [
    'Start Time',
    'Started Time',
    'Started At',
    'Started',
    'Start Date',
    'Chat Started',
    'Start',
  ],
  ended_time: ['End Time', 'Ended Time', 'Ended At', 'Ended', 'End Date', 'Chat Ended', 'End'],
  visitor_name: ['Visitor Name', 'Visitor.Name', 'Visitor', 'Customer Name', 'Customer', 'Name'],
  visitor_email: [
    'Visitor Email',
    'Visitor.Email',
    'Visitor Email Address',
    'Email',
    'Email Address',
    'Customer Email',
  ],
  visitor_phone: [
    'Visitor Phone',
    'Visitor.Phone',
    'Visitor.Phone Number',
    'Visitor Phone Number',
    'Phone',
    'Phone Number',
    'Customer Phone',
  ],
  operator_name: [
    'Operator Name',
    'Operator.Name',
    'Operator',
    'Operators',
    'Agent Name',
    'Agent',
    'Answered By',
  ],
  question: ['Question', 'Initial Question', 'First Question', 'Visitor Question'],
  time: ['Timestamp', 'Message Time', 'Time', 'Sent At', 'Sent', 'Date Time', 'Message Date', 'Date'],
  author: ['Author', 'Author Name', 'Sender', 'Sender Name', 'From', 'Name Of Sender'],
  author_type: ['Author Type', 'Sender Type', 'Author Role', 'Sender Role', 'Role', 'Type'],
  text: ['Text', 'Message', 'Message Text', 'Body', 'Content'],
  messages: ['Messages', 'Lines', 'Chat Lines', 'Transcript', 'Chat Transcript', 'Conversation'],
};

/** Lower case, letters and digits only. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
}

/**
 * Parses a mapping as given by `setting` (JSON text, or `@path` to a JSON file); unknown
 * fields and non-string names are ConfigErrors naming the setting.
 */
export function parseMapping(raw: string | undefined, setting: string): ExplicitMapping {
  if (raw === undefined || raw.trim() === '') return {};
  let text = raw.trim();
  if (text.startsWith('@')) {
    const path = text.slice(1);
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new ConfigError(
        setting,
        `cannot read the mapping file ${path} (${(error as NodeJS.ErrnoException).code})`,
      );
    }
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      setting,
      `the mapping is not valid JSON: ${(error as Error).message}`,
      'example: {"transcript_id": "Chat Id", "text": "Message"}',
    );
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new ConfigError(setting, 'the mapping must be a JSON object: our field → the export column');
  const known = new Set<string>(FIELDS);
  const out: ExplicitMapping = {};
  for (const [field, name] of Object.entries(data)) {
    if (!known.has(field))
      throw new ConfigError(
        setting,
        `unknown field "${field}" in the mapping`,
        `fields: ${FIELDS.join(', ')}`,
      );
    if (name !== null && (typeof name !== 'string' || name.trim() === ''))
      throw new ConfigError(setting, `the mapping of ${field} must be a column name or null`);
    out[field as Field] = name === null ? null : name.trim();
  }
  return out;
}

/** The candidate names of a field: the explicit one alone, none when null, else the guesses. */
export function candidates(mapping: ExplicitMapping, field: Field): readonly string[] {
  const explicit = mapping[field];
  if (explicit === null) return [];
  return explicit === undefined ? DEFAULT_NAMES[field] : [explicit];
}

/** The first candidate present among `names` (exact first, then normalized); its index. */
export function findName(names: readonly string[], wanted: readonly string[]): number {
  for (const want of wanted) {
    const exact = names.indexOf(want);
    if (exact >= 0) return exact;
    const norm = normalizeName(want);
    const loose = names.findIndex((n) => normalizeName(n) === norm);
    if (loose >= 0) return loose;
  }
  return -1;
}

/** A CSV header resolved: each field's column index (fields without one are left out). */
export type ColumnMap = Partial<Record<Field, number>>;

/**
 * Resolves a CSV header. An explicit name missing from the header, or no transcript id
 * column, is a ConfigError naming the setting and listing the columns.
 */
export function resolveColumns(
  header: readonly string[],
  mapping: ExplicitMapping,
  setting: string,
  file: string,
): ColumnMap {
  const columns: ColumnMap = {};
  const taken = new Set<number>();
  const list = header.map((h) => JSON.stringify(h)).join(', ');
  for (const field of FIELDS) {
    const explicit = mapping[field];
    if (explicit === null) continue;
    if (explicit !== undefined) {
      const index = findName(header, [explicit]);
      if (index < 0)
        throw new ConfigError(
          setting,
          `${file} has no column "${explicit}" (mapped to ${field})`,
          `its columns: ${list}`,
        );
      columns[field] = index;
      taken.add(index);
    }
  }
  for (const field of FIELDS) {
    if (mapping[field] !== undefined) continue;
    // A column serves one field: the first (most specific) guess that is still free wins.
    const free = header.map((h, i) => (taken.has(i) ? '\u0000' : h));
    const index = findName(free, DEFAULT_NAMES[field]);
    if (index < 0) continue;
    columns[field] = index;
    taken.add(index);
  }
  if (columns.transcript_id === undefined)
    throw new ConfigError(
      setting,
      `${file} has no transcript id column (looked for ${DEFAULT_NAMES.transcript_id.map((n) => `"${n}"`).join(', ')})`,
      `its columns: ${list}; map one, e.g. {"transcript_id": "<column>"}`,
    );
  return columns;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A key of a JSON object by name (exact, then normalized; `a.b` walks into `a`). */
function lookup(object: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(object, name)) return object[name];
  const keys = Object.keys(object);
  const index = findName(keys, [name]);
  if (index >= 0) return object[keys[index] as string];
  const dot = name.indexOf('.');
  if (dot > 0) {
    const inner = lookup(object, name.slice(0, dot));
    if (isPlainObject(inner)) return lookup(inner, name.slice(dot + 1));
  }
  return undefined;
}

/** The value of a field in a JSON object: the first candidate key holding a value other than an object. */
export function pick(object: Record<string, unknown>, names: readonly string[]): unknown {
  for (const name of names) {
    const value = lookup(object, name);
    if (value !== undefined && !isPlainObject(value)) return value;
  }
  return undefined;
}

/** How a resolved mapping reads, for --dry-run: field → column. */
export function describeColumns(header: readonly string[], columns: ColumnMap): string {
  return FIELDS.filter((f) => columns[f] !== undefined)
    .map((f) => `${f} ← "${header[columns[f] as number]}"`)
    .join(', ');
}
