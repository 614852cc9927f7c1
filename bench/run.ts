/**
 * `npm run bench [-- case…]`: runs every benchmark case on the local stack (brought up if it
 * is down, and taken down again afterwards) and prints one table. Each pipeline stage adds its
 * case under bench/cases and lists it here.
 */

import os from 'node:os';
import { loadConfig } from '../cli/settings.ts';
import { describeError } from '../core/errors.ts';
import { configureLogging, createLogger } from '../core/log.ts';
import { renderTable } from '../core/table.ts';
import { Stack } from '../stack/stack.ts';
import { avroEncode } from './cases/avro-encode.ts';
import { clickhouseBaseline } from './cases/clickhouse-baseline.ts';
import { dashboardQueries } from './cases/dashboard-queries.ts';
import { freshchatBackfill } from './cases/freshchat-backfill.ts';
import { freshchatWebhooks } from './cases/freshchat-webhooks.ts';
import { kafkaBaseline } from './cases/kafka-baseline.ts';
import { purechatCollector } from './cases/purechat-collector.ts';
import { sinkLatency } from './cases/sink-latency.ts';
import { sinkThroughput } from './cases/sink-throughput.ts';
import { sinkThroughputFreshchat } from './cases/sink-throughput-freshchat.ts';
import type { BenchCase, BenchRow } from './types.ts';

const cases: BenchCase[] = [
  kafkaBaseline,
  clickhouseBaseline,
  avroEncode,
  sinkThroughput,
  sinkThroughputFreshchat,
  sinkLatency,
  freshchatBackfill,
  freshchatWebhooks,
  purechatCollector,
  dashboardQueries,
];

const config = loadConfig();
configureLogging({
  level: config.log.level === 'info' ? 'warn' : config.log.level,
  format: config.log.format,
});
const stack = new Stack(config, createLogger('bench'));
const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !cases.some((c) => c.name === name));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${cases.map((c) => c.name).join(', ')}`);
  process.exit(2);
}

const loadAverage = () => (os.loadavg()[0] ?? 0).toFixed(1);
const loadBefore = loadAverage();
const startedHere = (await stack.status()).filter((s) => s.state === 'stopped').map((s) => s.name);
await stack.up();
const rows: BenchRow[] = [];
let failed = false;
try {
  for (const bench of cases.filter((c) => wanted.length === 0 || wanted.includes(c.name))) {
    try {
      rows.push(...(await bench.run(config)));
    } catch (error) {
      failed = true;
      console.error(`benchmark ${bench.name} failed: ${describeError(error)}`);
    }
  }
} finally {
  if (startedHere.length) await stack.down(startedHere);
}

console.log(
  renderTable(
    ['BENCHMARK', 'RECORDS', 'SECONDS', 'RECORDS/S', 'NOTE'],
    rows.map((r) => [
      r.benchmark,
      r.records,
      r.seconds.toFixed(2),
      Math.round(r.records / r.seconds).toLocaleString('en-US'),
      r.note ?? '',
    ]),
  ),
);
console.log(
  `\nmachine: ${os.availableParallelism()} cores, Node ${process.version}, load average (1 min) ${loadBefore} before, ${loadAverage()} after; one run, not an average.`,
);
process.exitCode = failed ? 1 : 0;
