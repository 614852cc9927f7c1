/**
 * What the connected ClickHouse server can store, by its version: DateTime64 (20.1+) and the
 * ranges of Date and DateTime (wider from 21.4), so values outside them are refused as bad
 * data before an insert, not wrapped around by the server.
 */
import type { Capabilities } from './schema.ts';

/** What a ClickHouse server of this version can store (DateTime64, the ranges of dates and times). */
export function detectCapabilities(version: string): Capabilities {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const atLeast = (m: number, n: number) => major > m || (major === m && minor >= n);
  // Ranges: 18.16's measured here; 21.4's widened ones from ClickHouse's documentation.
  const extended = atLeast(21, 4);
  return {
    version,
    dateTime64: atLeast(20, 1),
    dateDays: [0, extended ? 65_535 : 49_672],
    timeMs: extended
      ? [Date.UTC(1925, 0, 1), Date.UTC(2283, 10, 11, 23, 59, 59, 999)]
      : [0, Date.UTC(2105, 11, 31, 23, 59, 59, 999)],
  };
}
