/** A benchmark case: runs against the live local stack and returns its table rows. */
import type { Config } from '../cli/settings.ts';

export interface BenchRow {
  benchmark: string;
  records: number;
  seconds: number;
  /** Extra facts for the row (e.g. "200 B values, acks=all"). */
  note?: string;
  /**
   * Its part in a case's ratios (bench/sink-rows.ts): a ceiling, (a) or (c), or a row measured
   * against them.
   */
  role?: 'a' | 'c' | 'measured';
}

export interface BenchCase {
  name: string;
  run(config: Config): Promise<BenchRow[]>;
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  const started = process.hrtime.bigint();
  const result = await fn();
  return { result, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}
