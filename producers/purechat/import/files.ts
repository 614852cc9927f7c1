/**
 * Export files: the scan before anything is written (the file exists, its format, its
 * content hash — the key of its source offset —, the header resolves, and where each
 * transcript's last row is), and reading its rows for the import.
 */
import { createHash } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { UsageError } from '../../../core/errors.ts';
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

/** Reads the whole file once: format, hash, header, and each transcript's last row. */
export async function scanFile(path: string, o: FileOptions): Promise<ExportFile> {
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
  const hash = createHash('sha256');
  const note = (row: RawRow) => {
    file.rows++;
    const id = row.error ? undefined : idOf(row);
    if (id !== undefined) file.lastPos.set(id, row.pos);
  };
  if (format === 'json') {
    const bytes = await readFile(path);
    hash.update(bytes);
    for (const row of readJson(bytes.toString('utf8'), { ...o, file: path })) note(row);
  } else {
    const rows = readCsv(path, {
      ...o,
      delimiter,
      file: path,
      tap: (chunk) => hash.update(chunk),
      onHeader: (header: string[], columns: ColumnMap) => {
        file.mapped = describeColumns(header, columns);
      },
    });
    for await (const row of rows) note(row);
  }
  file.sha256 = hash.digest('hex');
  return file;
}

/** The rows of a scanned file, in order. */
export async function* rowsOf(file: ExportFile, o: FileOptions): AsyncGenerator<RawRow> {
  if (file.format === 'json') {
    yield* readJson(await readFile(file.path, 'utf8'), { ...o, file: file.path });
    return;
  }
  yield* readCsv(file.path, { ...o, delimiter: file.delimiter, file: file.path });
}
