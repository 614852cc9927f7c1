/**
 * Export files: the scan before anything is written (the file exists, its format, its
 * content hash — with the settings, the key of its source offset —, the header resolves, and
 * where each transcript's last row is), and reading its rows for the import. A scan stops
 * between rows when its signal is aborted (Ctrl-C), with nothing written.
 *
 * CSV is read as a stream. JSON is parsed whole, so a JSON file is refused above
 * MAX_JSON_BYTES; the scan and the import each read it once, hold its bytes only until they
 * are hashed and decoded, and the import refuses it if it changed since the scan.
 */
import { createHash } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ChatstreamError, EXIT, UsageError } from '../../../core/errors.ts';
import type { ImportFormat } from './config.ts';
import { detectDelimiter, readCsv } from './csv.ts';
import { readJson } from './json.ts';
import { type ColumnMap, describeColumns, type ExplicitMapping } from './mapping.ts';
import { idOf, type RawRow } from './rows.ts';

export interface FileOptions {
  format: ImportFormat;
  /** `auto` or the character. */
  delimiter: string;
  mapping: ExplicitMapping;
  /** Where the mapping came from: PURECHAT_IMPORT_MAPPING or --mapping. */
  setting: string;
  isTime: (value: string) => boolean;
}

export interface ExportFile {
  /** As the user named it (messages). */
  path: string;
  /** Its base name (the records' source_file). */
  name: string;
  sha256: string;
  format: 'csv' | 'json';
  delimiter: string;
  /** CSV: how the header was mapped (for --dry-run). */
  mapped?: string;
  /** Position of the last row of each transcript id. */
  lastPos: Map<string, number>;
  rows: number;
}

/** The largest JSON export read (it is parsed whole, in memory); CSV has no limit. */
export const MAX_JSON_BYTES = 256 * 1024 * 1024;

/** JSON rows noted between two looks at the stop signal (the rows are made synchronously). */
const JSON_ROWS_PER_TURN = 1000;

/** Ctrl-C (SIGINT/SIGTERM) during the scan: nothing was written (exit 130). */
export class ScanInterrupted extends ChatstreamError {
  constructor() {
    super('purechat import: interrupted during the scan; nothing was written', {
      code: 'INTERRUPTED',
      exitCode: EXIT.interrupted,
    });
  }
}

function checkStop(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ScanInterrupted();
}

/** Lets the event loop run (a signal handler may abort), then looks at the signal. */
async function breathe(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return;
  await nextTurn();
  checkStop(signal);
}

/** Refuses what is not a readable file, naming it (exit 2). */
export async function checkReadable(path: string): Promise<void> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new UsageError(`${path} is not a file`);
    const handle = await open(path, 'r');
    await handle.close();
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'ENOENT'
        ? `no such file: ${path}`
        : `cannot read ${path} (${code ?? (error as Error).message})`,
      'usage: chatstream purechat import FILE...',
    );
  }
}

async function head(path: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(65_536), 0, 65_536, 0);
    return buffer
      .subarray(0, bytesRead)
      .toString('utf8')
      .replace(/^\uFEFF/, '');
  } finally {
    await handle.close();
  }
}

/** csv or json: by the extension, else by the first character. */
export function detectFormat(path: string, start: string): 'csv' | 'json' {
  const ext = extname(path).toLowerCase();
  if (['.csv', '.tsv', '.txt'].includes(ext)) return 'csv';
  if (ext === '.json') return 'json';
  return /^\s*[[{]/.test(start) ? 'json' : 'csv';
}

const MB = 1024 * 1024;

/** Refuses a JSON export over MAX_JSON_BYTES, naming it (exit 2). */
function checkJsonSize(path: string, size: number): void {
  if (size <= MAX_JSON_BYTES) return;
  throw new UsageError(
    `${path} is ${(size / MB).toFixed(1)} MB, over the ${MAX_JSON_BYTES / MB} MB limit for JSON exports (a JSON file is read whole into memory): split it into smaller JSON files, or export it as CSV`,
    'CSV exports are read as a stream, of any size',
  );
}

/**
 * A JSON export's text and the SHA-256 of its bytes, read once. The bytes are let go when
 * this returns, so while the text is parsed only the text is held, not the bytes too.
 */
async function readJsonText(path: string, signal?: AbortSignal): Promise<{ text: string; sha256: string }> {
  checkJsonSize(path, (await stat(path)).size);
  let bytes: Buffer;
  try {
    bytes = await readFile(path, { signal });
  } catch (error) {
    checkStop(signal);
    throw error;
  }
  checkJsonSize(path, bytes.length); // grown since the stat
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { text: bytes.toString('utf8'), sha256 };
}

/** A JSON export parsed (errors are thrown here), its rows made as they are iterated. */
async function loadJson(
  path: string,
  o: FileOptions,
  signal?: AbortSignal,
): Promise<{ sha256: string; rows: Iterable<RawRow> }> {
  const { text, sha256 } = await readJsonText(path, signal);
  await breathe(signal);
  return { sha256, rows: readJson(text, { ...o, file: path }) };
}

/**
 * Reads the whole file once: format, hash, header, and each transcript's last row. Throws
 * ScanInterrupted, between rows, once `signal` is aborted.
 */
export async function scanFile(path: string, o: FileOptions, signal?: AbortSignal): Promise<ExportFile> {
  checkStop(signal);
  await checkReadable(path);
  const start = await head(path);
  const format = o.format === 'auto' ? detectFormat(path, start) : o.format;
  const delimiter = o.delimiter === 'auto' ? detectDelimiter(start.split('\n', 1)[0] ?? '') : o.delimiter;
  const file: ExportFile = {
    path,
    name: basename(path),
    sha256: '',
    format,
    delimiter,
    lastPos: new Map(),
    rows: 0,
  };
  const note = (row: RawRow) => {
    file.rows++;
    const id = row.error ? undefined : idOf(row);
    if (id !== undefined) file.lastPos.set(id, row.pos);
  };
  if (format === 'json') {
    const { sha256, rows } = await loadJson(path, o, signal);
    await breathe(signal);
    file.sha256 = sha256;
    for (const row of rows) {
      note(row);
      if (file.rows % JSON_ROWS_PER_TURN === 0) await breathe(signal);
    }
  } else {
    const hash = createHash('sha256');
    const rows = readCsv(path, {
      ...o,
      delimiter,
      file: path,
      tap: (chunk) => hash.update(chunk),
      onHeader: (header: string[], columns: ColumnMap) => {
        file.mapped = describeColumns(header, columns);
      },
    });
    // Leaving the loop (a stop) closes the file.
    for await (const row of rows) {
      checkStop(signal);
      note(row);
    }
    file.sha256 = hash.digest('hex');
  }
  checkStop(signal);
  return file;
}

/** The rows of a scanned file, in order. A JSON file that changed since the scan is refused. */
export async function* rowsOf(file: ExportFile, o: FileOptions): AsyncGenerator<RawRow> {
  if (file.format === 'json') {
    const { sha256, rows } = await loadJson(file.path, o);
    if (sha256 !== file.sha256)
      throw new ChatstreamError(`${file.path} changed since it was scanned; nothing of it was written`, {
        code: 'FILE_CHANGED',
        exitCode: EXIT.usage,
        hint: 'run the import again once the file is complete',
      });
    yield* rows;
    return;
  }
  yield* readCsv(file.path, { ...o, delimiter: file.delimiter, file: file.path });
}
