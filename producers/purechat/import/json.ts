/**
 * JSON reader: an array of transcripts, or an object holding one (`{"transcripts": […]}`),
 * each transcript with an optional message list. The whole file is parsed at once (files.ts
 * caps its size); a scan of the text finds the line of every list element, so errors name lines
 * as they do for CSV. The rows are then made one at a time from the parse, without the text.
 */
import { UsageError } from '../../../core/errors.ts';
import { candidates, type ExplicitMapping, normalizeName, pick, TRANSCRIPT_FIELDS } from './mapping.ts';
import { messagesOf, type RawRow } from './rows.ts';

export interface JsonReadOptions {
  mapping: ExplicitMapping;
  file: string;
  isTime: (value: string) => boolean;
}

type Path = (string | number)[];
const pathKey = (path: Path) => JSON.stringify(path);

interface Frame {
  array: boolean;
  path: Path;
  index: number;
  /** Arrays: the next element's line is still to be recorded. Objects: a key comes next. */
  expecting: boolean;
  key: string;
}

/** The line each list element starts on, by its path (e.g. ["transcripts",3,"messages",0]). */
export function elementLines(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  const stack: Frame[] = [];
  let line = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') line++;
    if (c === '\n' || c === ' ' || c === '\t' || c === '\r') continue;
    const top = stack.at(-1);
    if (top?.array && top.expecting && c !== ']') {
      lines.set(pathKey([...top.path, top.index]), line);
      top.expecting = false;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (top && !top.array && top.expecting) {
        top.key = JSON.parse(text.slice(i, j + 1)) as string;
        top.expecting = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      const path = top ? [...top.path, top.array ? top.index : top.key] : [];
      stack.push({ array: c === '[', path, index: 0, expecting: true, key: '' });
    } else if (c === '}' || c === ']') stack.pop();
    else if (c === ',' && top) {
      if (top.array) top.index++;
      top.expecting = true;
    }
  }
  return lines;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Where the transcripts are: the root list, or the `transcripts` list (else the one list) of the root object. */
function transcriptList(data: unknown, file: string): { list: unknown[]; path: Path } {
  if (Array.isArray(data)) return { list: data, path: [] };
  if (isObject(data)) {
    const lists = Object.keys(data).filter((k) => Array.isArray(data[k]));
    const key =
      lists.find((k) => normalizeName(k) === 'transcripts') ?? (lists.length === 1 ? lists[0] : undefined);
    if (key !== undefined) return { list: data[key] as unknown[], path: [key] };
  }
  throw new UsageError(
    `${file} is not a transcript export: expected a JSON array of transcripts or {"transcripts": [...]}`,
    'pass --format csv if it is CSV',
  );
}

/** Parses JSON text (a BOM is allowed); errors name the file. */
export function parseJsonFile(text: string, file: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new UsageError(
      `${file} is not valid JSON: ${(error as Error).message}`,
      'fix the file, or pass --format csv if it is CSV',
    );
  }
}

/** The key of `object` holding exactly `value` (to find the line of its elements). */
const keyHolding = (object: Record<string, unknown>, value: unknown) =>
  Object.keys(object).find((k) => object[k] === value);

/**
 * The rows of a JSON export: one per transcript, `pos` its 1-based index. The text is parsed
 * (errors are thrown here) and its element lines found before this returns; the rows are made
 * as they are iterated, and nothing keeps the text.
 */
export function readJson(text: string, o: JsonReadOptions): Iterable<RawRow> {
  const stripped = text.replace(/^\uFEFF/, '');
  const { list, path } = transcriptList(parseJsonFile(stripped, o.file), o.file);
  return jsonRows(list, path, elementLines(stripped), o);
}

function* jsonRows(
  list: unknown[],
  path: Path,
  lines: Map<string, number>,
  o: JsonReadOptions,
): Generator<RawRow> {
  for (let index = 0; index < list.length; index++) {
    const item = list[index];
    const at = [...path, index];
    const line = lines.get(pathKey(at)) ?? 1;
    const row: RawRow = { line, end: line, pos: index + 1, fields: {}, messages: [] };
    if (!isObject(item)) {
      row.error = `transcript ${index + 1} is not an object`;
      yield row;
      continue;
    }
    for (const field of TRANSCRIPT_FIELDS) {
      const value = pick(item, candidates(o.mapping, field));
      if (value !== undefined) row.fields[field] = value;
    }
    const value = pick(item, candidates(o.mapping, 'messages'));
    const key = keyHolding(item, value);
    const lineOf = (i: number) => (key === undefined ? line : (lines.get(pathKey([...at, key, i])) ?? line));
    const { messages, bad } = messagesOf(value, o.mapping, line, lineOf, o.isTime);
    row.messages = messages;
    row.end = messages.reduce((end, m) => Math.max(end, m.line), line);
    if (bad.length > 0) row.badMessages = bad;
    yield row;
  }
}
