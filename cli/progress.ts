/**
 * Progress of a Freshchat backfill or sync: a bar on a terminal (cli-progress) with records,
 * records/s, pages and — when the API told us the totals — an ETA; nothing on a pipe (the
 * structured logs say it there).
 */
import cliProgress from 'cli-progress';
import type { Progress } from '../producers/freshchat/sync-context.ts';

export interface ProgressView {
  update(progress: Progress): void;
  stop(): void;
}

export function progressView(stream: NodeJS.WriteStream = process.stderr): ProgressView {
  if (!stream.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: ' {bar} {percentage}% | {records} records | {rate} rec/s | {pages} pages | ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 20,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = Date.now();
  bar.start(1, 0, { records: 0, rate: 0, pages: 0 });
  return {
    update(progress) {
      const records = Object.values(progress.records).reduce((a, b) => a + b, 0);
      // Users are the one list with a known total; their conversations make most of the work.
      const total = progress.totals.users ?? 0;
      const done = Math.min(progress.records.users ?? 0, total);
      const seconds = Math.max(0.001, (Date.now() - started) / 1000);
      bar.setTotal(Math.max(1, total));
      bar.update(total > 0 ? done : 0, {
        records,
        rate: Math.round(records / seconds),
        pages: progress.pages,
      });
    },
    stop() {
      bar.stop();
    },
  };
}
