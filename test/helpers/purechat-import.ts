/**
 * What the Pure Chat transcript import tests share: the fixtures and their expected records, and
 * a run of the import source over files against an in-memory offset store.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../cli/settings.ts';
import { createLogger } from '../../core/log.ts';
import type { ExportFile } from '../../producers/purechat/import/files.ts';
import { type ImportPlan, importPlan } from '../../producers/purechat/import/importer.ts';
import { type ImportStats, PurechatImportSource } from '../../producers/purechat/import/source.ts';
import type { TimeOptions } from '../../producers/purechat/import/times.ts';
import type { SourceOffset, SourcePage } from '../../producers/source.ts';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'purechat');
export const EXPECTED = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as Record<
  string,
  { badRows: string[]; transcripts: Record<string, unknown>[] }
>;
export const UTC: TimeOptions = { timeZone: 'UTC', dateOrder: 'mdy' };
export const iso = (ms: number | null | undefined) =>
  typeof ms === 'number' ? new Date(ms).toISOString() : ms;

export function planOf(env: NodeJS.ProcessEnv = {}, flags = {}): ImportPlan {
  return importPlan(loadConfig({ env }), flags);
}

/** Expected record → the record as written: ISO times to epoch ms, source_file added. */
export function asRecord(t: Record<string, unknown>, file: string): Record<string, unknown> {
  const ms = (v: unknown) => (typeof v === 'string' ? Date.parse(v) : v);
  const messages = (t.messages as Record<string, unknown>[]).map((m) => ({ ...m, time: ms(m.time) }));
  return {
    ...t,
    started_time: ms(t.started_time),
    ended_time: ms(t.ended_time),
    messages,
    source_file: file,
  };
}

export interface Run {
  pages: SourcePage[];
  bad: string[];
  stats: ImportStats;
}

/** Runs the source over files against an in-memory offset store; `stopAfter` pages, then a stop. */
export async function runSource(
  files: ExportFile[],
  plan: ImportPlan,
  store = new Map<string, SourceOffset>(),
  options: { pageSize?: number; stopAfter?: number } = {},
): Promise<Run> {
  const run: Run = { pages: [], bad: [], stats: {} as ImportStats };
  const stop = new AbortController();
  const source = new PurechatImportSource({
    files,
    ...plan,
    pageSize: options.pageSize ?? 500,
    signal: stop.signal,
    onBadRow: (file, b) => run.bad.push(`${file.name}:${b.line}: ${b.message}`),
  });
  await source.poll({
    offset: (p) => store.get(JSON.stringify(p)),
    offsets: () => [],
    signal: new AbortController().signal,
    log: createLogger('test'),
    emit: async (page) => {
      run.pages.push(page);
      for (const o of page.offsets ?? []) if (o.offset) store.set(JSON.stringify(o.partition), o.offset);
      if (run.pages.length === options.stopAfter) stop.abort();
    },
  });
  run.stats = source.stats;
  return run;
}

export const records = (run: Run) => run.pages.flatMap((p) => p.records.map((r) => r.value));
