/**
 * Streaming CSV reader (csv-parse): the header row resolved through the mapping, then one
 * RawRow per record with the line it starts on. A record csv-parse cannot read (a stray
 * quote) or whose field count differs from the header's comes out as a row with an error,
 * and reading goes on.
 */
import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { type CsvError, parse } from 'csv-parse';
import {
  type ColumnMap,
  type ExplicitMapping,
  MESSAGE_FIELDS,
  resolveColumns,
  TRANSCRIPT_FIELDS,
} from './mapping.ts';
import { append, messagesOf, present, type RawMessage, type RawRow } from './rows.ts';

export interface CsvReadOptions {
  delimiter: string;
  mapping: ExplicitMapping;
  /** The setting the mapping came from (for errors). */
  setting: string;
  /** The file as the user named it (for errors). */
  file: string;
  isTime: (value: string) => boolean;
  /** Sees every byte of the file (the content hash). */
  tap?: (chunk: Buffer) => void;
  /** Called with the header and its resolution. */
  onHeader?: (header: string[], columns: ColumnMap) => void;
}

/**
 * CRLF → LF before csv-parse, whose line count is off for CRLF inside quoted fields. A CR at
 * the end of a chunk waits for the next one.
 */
class CrlfToLf extends Transform {
  private held = false;
  private readonly tap?: (chunk: Buffer) => void;

  constructor(tap?: (chunk: Buffer) => void) {
    super();
    this.tap = tap;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.tap?.(chunk);
    let text = chunk.toString('latin1');
    if (this.held) text = `\r${text}`;
    this.held = text.endsWith('\r');
    if (this.held) text = text.slice(0, -1);
    done(null, Buffer.from(text.replaceAll('\r\n', '\n'), 'latin1'));
  }

  override _flush(done: TransformCallback): void {
    done(null, this.held ? Buffer.from('\r', 'latin1') : undefined);
  }
}

/** The delimiter of `auto`: whichever of , ; tab | the first line has most of. */
export function detectDelimiter(firstLine: string): string {
  let best = ',';
  let most = 0;
  for (const d of [',', ';', '\t', '|']) {
    const count = firstLine.split(d).length - 1;
    if (count > most) [best, most] = [d, count];
  }
  return best;
}

/** Line breaks inside a record's fields: its first line is its last line minus these. */
function countNewlines(fields: string[]): number {
  let n = 0;
  for (const f of fields) for (let i = f.indexOf('\n'); i >= 0; i = f.indexOf('\n', i + 1)) n++;
  return n;
}

function rowOf(record: string[], end: number, columns: ColumnMap, width: number, o: CsvReadOptions): RawRow {
  const line = end - countNewlines(record);
  const row: RawRow = { line, end, pos: line, fields: {}, messages: [] };
  const extra = record.slice(width).some((v) => v.trim() !== '');
  if (extra || record.length < width) {
    row.error = `has ${record.length} fields, the header has ${width}`;
    return row;
  }
  const cell = (index: number | undefined) => (index === undefined ? undefined : record[index]);
  for (const field of TRANSCRIPT_FIELDS) {
    const value = cell(columns[field]);
    if (value !== undefined) row.fields[field] = value;
  }
  const inline: RawMessage = { line, inline: true, fields: {} };
  for (const field of MESSAGE_FIELDS) {
    const value = cell(columns[field]);
    if (value !== undefined) inline.fields[field] = value;
  }
  if (Object.values(inline.fields).some(present)) row.messages.push(inline);
  const text = cell(columns.messages);
  if (text !== undefined) {
    const { messages, bad } = messagesOf(text, o.mapping, line, () => line, o.isTime);
    append(row.messages, messages);
    if (bad.length > 0) row.badMessages = bad;
  }
  return row;
}

/** The rows of a CSV export, in file order. Throws a ConfigError when the header does not map. */
export async function* readCsv(path: string, o: CsvReadOptions): AsyncGenerator<RawRow> {
  const skipped: RawRow[] = [];
  const parser = parse({
    bom: true,
    delimiter: o.delimiter,
    info: true,
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    on_skip: (error: CsvError | undefined) => {
      const line = (error as { lines?: number } | undefined)?.lines ?? 0;
      const message = `cannot read the row: ${error?.message ?? 'malformed CSV'}`;
      skipped.push({ line, end: line, pos: line, fields: {}, messages: [], error: message });
    },
  });
  const input = createReadStream(path);
  const lf = new CrlfToLf(o.tap);
  input.on('error', (error) => parser.destroy(error));
  input.pipe(lf).pipe(parser);
  let columns: ColumnMap | undefined;
  let width = 0;
  try {
    for await (const { record, info } of parser as AsyncIterable<{
      record: string[];
      info: { lines: number };
    }>) {
      if (skipped.length > 0) yield* skipped.splice(0);
      if (!columns) {
        const header = record.map((h) => h.trim());
        columns = resolveColumns(header, o.mapping, o.setting, o.file);
        width = header.length;
        o.onHeader?.(header, columns);
        continue;
      }
      // Rows of empty cells (spreadsheets write them at the end) are blank lines.
      if (record.some((v) => v.trim() !== '')) yield rowOf(record, info.lines, columns, width, o);
    }
    yield* skipped.splice(0);
  } finally {
    input.destroy();
  }
}
