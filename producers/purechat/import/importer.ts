/**
 * The Pure Chat import: settings and flags → read options, the scan of every file before
 * anything is written, and the run — a SourceRunner (transactions, offsets) driving the
 * `purechat-import` source once, or for --dry-run the same source with nothing written.
 */
import { Registry } from 'prom-client';
import { UsageError } from '../../../core/errors.ts';
import type { Logger } from '../../../core/log.ts';
import { kindOf } from '../../../schemas/catalog.ts';
import { SourceRunner } from '../../runtime/runner.ts';
import type { SourceContext } from '../../source.ts';
import { piiHashKeyOf } from '../config.ts';
import type { PiiPolicy } from '../pii.ts';
import { IMPORT_FORMATS, type ImportFormat, type PurechatImportConfig } from './config.ts';
import { type ExportFile, type FileOptions, scanFile } from './files.ts';
import { parseMapping } from './mapping.ts';
import {
  type ImportSourceOptions,
  type ImportStats,
  PurechatImportSource,
  SOURCE_NAME,
  TRANSCRIPTS_KIND,
} from './source.ts';
import { parseTime, type TimeOptions } from './times.ts';

export interface ImportFlags {
  format?: string;
  mapping?: string;
}

export interface ImportPlan {
  read: FileOptions;
  times: TimeOptions;
  pii: PiiPolicy;
}

/** Settings and flags → how files are read; bad values are UsageErrors or ConfigErrors naming them. */
export function importPlan(config: PurechatImportConfig, flags: ImportFlags): ImportPlan {
  const settings = config.purechatImport;
  const format = (flags.format ?? settings.format) as ImportFormat;
  if (!IMPORT_FORMATS.includes(format))
    throw new UsageError(`--format must be one of ${IMPORT_FORMATS.join(', ')}, got "${flags.format}"`);
  const setting = flags.mapping !== undefined ? '--mapping' : 'PURECHAT_IMPORT_MAPPING';
  const mapping = parseMapping(flags.mapping ?? settings.mapping, setting);
  const times: TimeOptions = { timeZone: settings.timeZone, dateOrder: settings.dateOrder };
  const pii: PiiPolicy = {
    email: config.purechat.piiEmail,
    phone: config.purechat.piiPhone,
    hashKey: piiHashKeyOf(config),
  };
  const isTime = (value: string) => typeof parseTime(value, times) === 'number';
  return { read: { format, delimiter: settings.csvDelimiter, mapping, setting, isTime }, times, pii };
}

/**
 * Scans every file (usage or setting errors before anything is written). Once `signal` is
 * aborted it stops between rows with a ScanInterrupted (exit 130).
 */
export async function scanFiles(
  paths: string[],
  plan: ImportPlan,
  signal?: AbortSignal,
): Promise<ExportFile[]> {
  const files: ExportFile[] = [];
  for (const path of paths) files.push(await scanFile(path, plan.read, signal));
  return files;
}

export interface ImporterOptions {
  config: PurechatImportConfig;
  log: Logger;
  plan: ImportPlan;
  files: ExportFile[];
  onBadRow?: ImportSourceOptions['onBadRow'];
  onProgress?: ImportSourceOptions['onProgress'];
  /** Stops after the page in hand (SIGINT). */
  signal?: AbortSignal;
}

function sourceOf(options: ImporterOptions): PurechatImportSource {
  const { plan, files, config } = options;
  return new PurechatImportSource({
    files,
    read: plan.read,
    times: plan.times,
    pii: plan.pii,
    pageSize: config.purechatImport.pageSize,
    onBadRow: options.onBadRow,
    onProgress: options.onProgress,
    signal: options.signal,
  });
}

export class PurechatImporter {
  readonly runner: SourceRunner;
  readonly source: PurechatImportSource;

  constructor(options: ImporterOptions) {
    this.runner = new SourceRunner({
      config: options.config,
      name: SOURCE_NAME,
      kinds: [kindOf(TRANSCRIPTS_KIND)],
      // Records are built field for field from the schema: anything else is a bug, refused.
      contract: 'freeze',
      log: options.log,
      metrics: new Registry(),
    });
    this.source = sourceOf(options);
  }

  /** Topics, the transactional producer, the committed offsets. */
  start(): Promise<void> {
    return this.runner.start();
  }

  /** Imports every file; resolves once all pages are committed. */
  async run(): Promise<ImportStats> {
    await this.runner.runPass(this.source);
    return this.source.stats;
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }
}

/** --dry-run: the same reading, validation and grouping; nothing is written or remembered. */
export async function dryRun(options: ImporterOptions): Promise<ImportStats> {
  const source = sourceOf(options);
  const ctx: SourceContext = {
    offset: () => undefined,
    offsets: () => [],
    emit: async () => undefined,
    signal: options.signal ?? new AbortController().signal,
    log: options.log,
  };
  await source.poll(ctx);
  return source.stats;
}
