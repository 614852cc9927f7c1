/**
 * `chatstream purechat import FILE…`: Pure Chat transcript exports (CSV or JSON) →
 * purechat.transcripts. Every file is scanned first (missing file: exit 2; a header the
 * mapping cannot read: exit 3; Ctrl-C: exit 130, nothing written), then imported page by page;
 * bad rows are reported on stderr by line and skipped; a summary line ends it. Importing the
 * same content with the same record settings again writes nothing; changed settings import it
 * again; an interrupted import (exit 130) resumes after its last committed page.
 */
import { once } from 'node:events';
import cliProgress from 'cli-progress';
import { EXIT, FatalError, UsageError } from '../../core/errors.ts';
import { type ExportFile, ScanInterrupted } from '../../producers/purechat/import/files.ts';
import {
  dryRun,
  type ImporterOptions,
  importPlan,
  PurechatImporter,
  scanFiles,
} from '../../producers/purechat/import/importer.ts';
import type { ImportStats } from '../../producers/purechat/import/source.ts';
import type { BadRow } from '../../producers/purechat/import/transcripts.ts';
import type { Command, Context } from '../command.ts';

/** After a stop, how long the page in hand may take before the runner's own stop cuts its retries. */
const STOP_GRACE_MS = 5000;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `purechat import: 3 files, 120 transcripts written, 2 bad rows, 1 file already imported`. */
export function summaryLine(stats: ImportStats, dry: boolean): string {
  const parts = [
    plural(stats.files, 'file'),
    `${plural(stats.transcripts, 'transcript')} ${dry ? 'to write' : 'written'}`,
    plural(stats.badRows, 'bad row'),
  ];
  if (stats.alreadyImported > 0) parts.push(`${plural(stats.alreadyImported, 'file')} already imported`);
  if (stats.resumed > 0) parts.push(`${plural(stats.resumed, 'file')} resumed`);
  return `purechat import${dry ? ' (dry run)' : ''}: ${parts.join(', ')}`;
}

interface Reporter {
  badRow(file: ExportFile, bad: BadRow): void;
  progress(stats: ImportStats): void;
  stop(): void;
}

/** Bad rows on stderr; on a terminal, above a progress bar of transcripts. */
function reporter(stream: NodeJS.WriteStream = process.stderr): Reporter {
  const line = (file: ExportFile, bad: BadRow) => `${file.path}:${bad.line}: ${bad.message}`;
  if (!stream.isTTY)
    return {
      badRow: (file, bad) => stream.write(`${line(file, bad)}\n`),
      progress: () => undefined,
      stop: () => undefined,
    };
  const bars = new cliProgress.MultiBar(
    {
      stream,
      format: ' {bar} {percentage}% | {value}/{total} transcripts | {file} | ETA {eta_formatted}',
      hideCursor: true,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  const bar = bars.create(1, 0, { file: '' });
  return {
    badRow: (file, bad) => bars.log(`${line(file, bad)}\n`),
    progress(stats) {
      bar.setTotal(Math.max(1, stats.total));
      bar.update(stats.transcripts, { file: stats.current ?? '' });
    },
    stop: () => bars.stop(),
  };
}

function stopSignal(): Promise<unknown> {
  return Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
}

async function runImport(ctx: Context): Promise<number> {
  const { config, log, args, flags } = ctx;
  if (args.length === 0)
    throw new UsageError(
      'purechat import needs at least one export file',
      'example: chatstream purechat import chats.csv',
    );
  const plan = importPlan(config, {
    format: typeof flags.format === 'string' ? flags.format : undefined,
    mapping: typeof flags.mapping === 'string' ? flags.mapping : undefined,
  });
  const dry = flags['dry-run'] === true;
  const stopping = new AbortController();
  let importer: PurechatImporter | undefined;
  let scanning = true;
  let running = false;
  void stopSignal().then(() => {
    log.info(scanning ? 'stopping the scan: nothing is written' : 'stopping: committing the page in hand');
    stopping.abort();
    // Still connecting, or (later) Kafka keeps failing: the runner's stop ends its retries.
    const stop = () =>
      importer?.stop().catch((error: unknown) => log.warn('stop failed', { error: String(error) }));
    if (!running) void stop();
    else setTimeout(stop, STOP_GRACE_MS).unref();
  });
  log.info('scanning the export files', { files: args.length });
  let files: ExportFile[];
  try {
    files = await scanFiles(args, plan, stopping.signal);
  } catch (error) {
    if (!(error instanceof ScanInterrupted)) throw error;
    ctx.out(error.message);
    return EXIT.interrupted;
  } finally {
    scanning = false;
  }
  const report = reporter();
  const options: ImporterOptions = {
    config,
    log: log.child('purechat.import'),
    plan,
    files,
    signal: stopping.signal,
    onBadRow: (file, bad) => report.badRow(file, bad),
    onProgress: (stats) => report.progress(stats),
  };
  let stats: ImportStats;
  try {
    if (dry) {
      for (const file of files)
        ctx.out(
          `${file.path}: ${file.format}, ${plural(file.lastPos.size, 'transcript')}${file.mapped ? `; ${file.mapped}` : ''}`,
        );
      stats = await dryRun(options);
    } else {
      importer = new PurechatImporter(options);
      try {
        await importer.start();
        running = true;
        stats = await importer.run();
      } catch (error) {
        // A fatal error (e.g. fenced) keeps its own exit code even when a stop was asked for.
        if (!stopping.signal.aborted || error instanceof FatalError) throw error;
        stats = { ...importer.source.stats, interrupted: true };
      } finally {
        await importer.stop();
      }
    }
  } finally {
    report.stop();
  }
  if (stats.interrupted) {
    ctx.out(`${summaryLine(stats, dry)} (interrupted)`);
    if (!dry) ctx.out('purechat import: run it again to continue after the last committed page');
    return EXIT.interrupted;
  }
  ctx.out(summaryLine(stats, dry));
  return EXIT.ok;
}

export const purechatImportCommand: Command = {
  path: ['purechat', 'import'],
  summary: 'Import Pure Chat transcript exports (CSV or JSON) into purechat.transcripts.',
  argsUsage: 'FILE...',
  details: [
    'CSV (a row per message with the transcript columns repeated, or a row per transcript) or JSON (an array of',
    'transcripts, or {"transcripts": [...]}, each with an optional message list; at most 256 MB a file, as JSON is',
    'read whole: split larger ones or export CSV). Columns are guessed from common names or mapped with --mapping /',
    'PURECHAT_IMPORT_MAPPING; times without a zone are read in PURECHAT_IMPORT_TIME_ZONE. Bad rows are reported as',
    'FILE:LINE on stderr and skipped (exit 0). PII follows PURECHAT_PII_EMAIL / _PHONE.',
    '',
    'Every file is scanned before anything is written; Ctrl-C during the scan stops it (exit 130, nothing written).',
    'Each page of transcripts is committed with how far into the file it got, under a key made of the SHA-256 of',
    "the file's content and a hash of the settings that shape its records: the format (--format /",
    'PURECHAT_IMPORT_FORMAT) and CSV delimiter (PURECHAT_IMPORT_CSV_DELIMITER) the file is read with (auto counts as',
    'what it detects), the mapping (--mapping / PURECHAT_IMPORT_MAPPING; a mapping @file by its content),',
    'PURECHAT_IMPORT_TIME_ZONE, PURECHAT_IMPORT_DATE_ORDER, PURECHAT_PII_EMAIL, PURECHAT_PII_PHONE and, when either',
    'is hash, PURECHAT_PII_HASH_KEY. A re-import writes nothing ("already imported") exactly when an earlier import',
    'of the same content with every one of those settings the same ran to the end; so does a file given twice in',
    "one run. The file's name and path and PURECHAT_IMPORT_PAGE_SIZE do not count. Change any of those settings and",
    'the file is imported again in full, under the same transcript ids. An interrupted import (exit 130) resumes',
    'after its last committed page when run again with the same settings; with other settings it starts over.',
  ].join('\n'),
  options: {
    mapping: {
      type: 'string',
      description: 'Field → column mapping, JSON or @file.json (overrides PURECHAT_IMPORT_MAPPING).',
    },
    format: { type: 'string', description: 'auto, csv or json (overrides PURECHAT_IMPORT_FORMAT).' },
    'dry-run': {
      type: 'boolean',
      description: 'Read, validate and report (bad rows, transcripts per file); write nothing to Kafka.',
    },
  },
  run: runImport,
};
