/**
 * The `purechat-import` source: scanned export files → pages of purechat.transcripts records.
 * Each file's source partition is `{file: <sha256 of its content>, settings: <hash of the
 * settings that shape its records>}`; every page commits `{line, done}` (JSON also `item`, its
 * transcript index) with its records, at a point where no transcript is half read. A file whose
 * offset says done is "already imported" and writes nothing; an interrupted one resumes after
 * the last committed row. Changing a setting that changes the records (the mapping, format,
 * delimiter, time zone, date order or PII handling) makes it a new partition: imported again.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../runtime/offsets.ts';
import type { Source, SourceContext, SourceOffset, SourcePage, SourcePartition } from '../../source.ts';
import type { PiiPolicy } from '../pii.ts';
import { type ExportFile, type FileOptions, rowsOf } from './files.ts';
import { append, idOf, type RawRow } from './rows.ts';
import type { TimeOptions } from './times.ts';
import {
  type BadRow,
  type CleanRow,
  Grouper,
  type Transcript,
  transcriptRecord,
  validateRow,
} from './transcripts.ts';

export const SOURCE_NAME = 'purechat-import';
export const TRANSCRIPTS_KIND = 'purechat.transcripts';
/** Pages handed to the runtime and not yet committed, at most. */
const IN_FLIGHT = 4;

export interface ImportStats {
  files: number;
  /** Transcripts committed (or, in a dry run, that would be written). */
  transcripts: number;
  badRows: number;
  alreadyImported: number;
  resumed: number;
  /** Transcripts of the files being imported, from the scan (for a progress bar). */
  total: number;
  /** The file being read. */
  current?: string;
  /** Stopped before every file was done (run it again to continue). */
  interrupted: boolean;
}

export interface ImportSourceOptions {
  files: ExportFile[];
  read: FileOptions;
  times: TimeOptions;
  pii: PiiPolicy;
  pageSize: number;
  onBadRow?: (file: ExportFile, bad: BadRow) => void;
  onProgress?: (stats: ImportStats) => void;
  /**
   * Stops the import after the page in hand, like the runtime's own signal. The command uses
   * it so that the last page is handed over before the runner is stopped.
   */
  signal?: AbortSignal;
}

/** Everything besides a file's bytes that decides the records made of it. */
export interface RecordSettings {
  read: Pick<FileOptions, 'mapping'>;
  times: TimeOptions;
  pii: PiiPolicy;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * A hash of every setting that changes the records of `file`: its format and (CSV) delimiter
 * as the scan resolved them (`auto` and the delimiter it finds are the same records), the
 * mapping as parsed (a mapping file counts by its content), the time zone and date order, and
 * the PII modes with the hash key when one is hashed (the key enters only as its own hash).
 * Not in it: the page size (only where pages end) and the file's name or path.
 */
export function settingsHash(file: Pick<ExportFile, 'format' | 'delimiter'>, s: RecordSettings): string {
  const hashing = s.pii.email === 'hash' || s.pii.phone === 'hash';
  return sha256(
    canonicalJson({
      v: 1,
      format: file.format,
      delimiter: file.format === 'csv' ? file.delimiter : null,
      mapping: s.read.mapping,
      timeZone: s.times.timeZone,
      dateOrder: s.times.dateOrder,
      pii: {
        email: s.pii.email,
        phone: s.pii.phone,
        key: hashing && s.pii.hashKey ? sha256(`chatstream purechat pii key\n${s.pii.hashKey}`) : null,
      },
    }),
  );
}

/** The source partition of a file's offsets: its content and the settings its records are made with. */
export function partitionOf(file: ExportFile, s: RecordSettings): SourcePartition {
  return { file: file.sha256, settings: settingsHash(file, s) };
}

interface Cursor {
  line: number;
  item?: number;
  done: boolean;
}

/** Offsets as committed, read defensively (a foreign or older shape counts as "from the start"). */
function cursorOf(offset: SourceOffset | undefined): Partial<Cursor> {
  if (!offset) return {};
  return {
    line: typeof offset.line === 'number' ? offset.line : undefined,
    item: typeof offset.item === 'number' ? offset.item : undefined,
    done: offset.done === true,
  };
}

export class PurechatImportSource implements Source {
  readonly name = SOURCE_NAME;
  readonly stats: ImportStats;
  private readonly options: ImportSourceOptions;

  constructor(options: ImportSourceOptions) {
    this.options = options;
    this.stats = {
      files: options.files.length,
      transcripts: 0,
      badRows: 0,
      alreadyImported: 0,
      resumed: 0,
      total: 0,
      interrupted: false,
    };
  }

  private stopped(ctx: SourceContext): boolean {
    if (ctx.signal.aborted || this.options.signal?.aborted) this.stats.interrupted = true;
    return this.stats.interrupted;
  }

  async poll(ctx: SourceContext): Promise<void> {
    const seen = new Set<string>();
    const plan: { file: ExportFile; partition: SourcePartition; committed: Partial<Cursor> }[] = [];
    for (const file of this.options.files) {
      const partition = partitionOf(file, this.options);
      const key = canonicalJson(partition);
      const committed = cursorOf(ctx.offset(partition));
      if (committed.done || seen.has(key)) {
        this.stats.alreadyImported++;
        ctx.log.info('already imported with these settings; skipping it', { file: file.path, ...partition });
        continue;
      }
      seen.add(key);
      plan.push({ file, partition, committed });
      this.stats.total += remaining(file, (file.format === 'json' ? committed.item : committed.line) ?? 0);
    }
    this.options.onProgress?.(this.stats);
    for (const { file, partition, committed } of plan) {
      if (this.stopped(ctx)) return;
      await this.importFile(file, partition, committed, ctx);
    }
    this.stats.current = undefined;
    this.options.onProgress?.(this.stats);
  }

  private async importFile(
    file: ExportFile,
    partition: SourcePartition,
    committed: Partial<Cursor>,
    ctx: SourceContext,
  ): Promise<void> {
    const json = file.format === 'json';
    const after = (json ? committed.item : committed.line) ?? 0;
    if (after > 0) {
      this.stats.resumed++;
      ctx.log.info('resuming an interrupted import', {
        file: file.path,
        after: `${json ? 'item' : 'line'} ${after}`,
      });
    }
    this.stats.current = file.path;
    const pages = new FilePages(file, partition, ctx, this.options, this.stats, {
      line: committed.line ?? 0,
      item: after,
    });
    let finished = true;
    for await (const row of rowsOf(file, this.options.read)) {
      if (row.pos <= after) continue;
      if (this.stopped(ctx)) {
        finished = false;
        break;
      }
      const { clean, bad } = validateRow(row, this.options.times);
      for (const b of bad) {
        this.stats.badRows++;
        this.options.onBadRow?.(file, b);
      }
      await pages.add(row, clean);
    }
    await pages.finish(finished);
    // Transcripts whose every row was bad were counted in the total; they will not come.
    if (finished) this.stats.total -= remaining(file, after) - pages.transcripts;
    this.options.onProgress?.(this.stats);
  }
}

/** Transcripts of a file after a committed position. */
function remaining(file: ExportFile, after: number): number {
  let n = 0;
  for (const pos of file.lastPos.values()) if (pos > after) n++;
  return n;
}

/**
 * The pages of one file: complete transcripts are collected up to the last point where none
 * is half read (the only place an offset may point to), and handed to the runtime in pages;
 * at most IN_FLIGHT pages wait for their commit.
 */
class FilePages {
  /** Transcripts handed on. */
  transcripts = 0;
  private readonly grouper: Grouper;
  private readonly inFlight: Promise<void>[] = [];
  /** Complete transcripts up to `cursor`, the last idle point. */
  private ready: Transcript[] = [];
  private cursor: Cursor;
  /** Completed after the last idle point (only when transcripts' rows interleave). */
  private pending: Transcript[] = [];
  private last: Cursor;

  private readonly file: ExportFile;
  private readonly partition: SourcePartition;
  private readonly ctx: SourceContext;
  private readonly options: ImportSourceOptions;
  private readonly stats: ImportStats;

  constructor(
    file: ExportFile,
    partition: SourcePartition,
    ctx: SourceContext,
    options: ImportSourceOptions,
    stats: ImportStats,
    from: { line: number; item: number },
  ) {
    this.file = file;
    this.partition = partition;
    this.ctx = ctx;
    this.options = options;
    this.stats = stats;
    this.grouper = new Grouper(file.lastPos);
    this.cursor = this.at(from.line, from.item);
    this.last = this.cursor;
  }

  private at(line: number, item: number): Cursor {
    return this.file.format === 'json' ? { line, item, done: false } : { line, done: false };
  }

  async add(row: RawRow, clean: CleanRow | undefined): Promise<void> {
    append(this.pending, this.grouper.add(row.error ? undefined : idOf(row), row.pos, clean));
    this.last = this.at(row.end, row.pos);
    if (!this.grouper.idle) return;
    append(this.ready, this.pending);
    this.pending = [];
    this.cursor = this.last;
    if (this.ready.length >= this.options.pageSize) await this.emit(false);
  }

  /** The end of the file (done), or a stop: what is complete up to the last idle point. */
  async finish(done: boolean): Promise<void> {
    if (done) {
      append(this.ready, this.pending);
      append(this.ready, this.grouper.drain());
      this.pending = [];
      this.cursor = this.last;
      await this.emit(true);
    } else if (this.ready.length > 0) await this.emit(false);
    await Promise.all(this.inFlight);
  }

  private async emit(done: boolean): Promise<void> {
    const transcripts = this.ready;
    this.ready = [];
    this.transcripts += transcripts.length;
    const { file, options, stats } = this;
    const offset = { ...this.cursor, done };
    const page: SourcePage = {
      records: transcripts.map((t) => ({
        kind: TRANSCRIPTS_KIND,
        value: transcriptRecord(t, file.name, options.pii),
      })),
      offsets: [{ partition: this.partition, offset }],
    };
    const committing = this.ctx.emit(page).then(() => {
      stats.transcripts += transcripts.length;
      this.ctx.log.debug('page committed', { file: file.path, transcripts: transcripts.length, ...offset });
      options.onProgress?.(stats);
    });
    committing.catch(() => undefined); // awaited in order, below or in finish()
    this.inFlight.push(committing);
    if (this.inFlight.length > IN_FLIGHT) await this.inFlight.shift();
  }
}
