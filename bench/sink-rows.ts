/**
 * The rows both sink benches measure, and their ratios: the sink as users run it, and its
 * floors. A floor is bench/children/sink-floor.ts — kafkajs →
 * one streaming RowBinary INSERT of key and Avro bytes, nothing else — spawned and timed as the
 * sink is, from spawn until ClickHouse counts every record; split over `processes` processes, it
 * tests whether using both cores helps. Its table is made before the clock starts (the sink
 * makes its own in its time). A lower bound on a kafkajs sink's time here: a target it misses,
 * a sink built on kafkajs in one process misses too.
 */

import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Config } from '../cli/settings.ts';
import { quoteIdent, tableName } from '../consumers/sinks/clickhouse/schema.ts';
import { PROJECT_ROOT } from '../core/settings.ts';
import { rssOf, spawnSink } from '../test/helpers/sink-process.ts';
import { type Child, cpuMeter, cpuText, killGroup, servicePids, spawnNode } from './processes.ts';
import type { BenchRow } from './types.ts';

/** The larger memory budget a second sink row runs with (CHATSTREAM_SINK_MEMORY_BYTES). */
export const BIG_BUDGET = 256 * 1024 * 1024;

/**
 * The sink as users run it (its own process, default settings) on `topic`, from spawn until
 * ClickHouse counts `records` rows in `table`: the row, with its peak RSS and the CPU of the
 * sink, ClickHouse and Kafka. The sink has exited and ClickHouse's merges of its parts are done
 * (or 60 s passed) when this returns, so the next row does not share the machine with them.
 * With `memoryBytes`, the sink runs with that budget, as a group of its own into a fresh table.
 */
export async function sinkRow(
  config: Config,
  ch: ClickHouseClient,
  topic: string,
  records: number,
  count: (table: string) => Promise<number>,
  benchmark: string,
  memoryBytes?: number,
): Promise<BenchRow> {
  const services = await servicePids(config);
  // Another budget is another run of the same records: a group of its own, into a fresh table.
  if (memoryBytes !== undefined) await dropSinkTables(ch, config, topic);
  const budget = memoryBytes ?? config.sink.memoryBytes;
  const child = spawnSink(
    'clickhouse',
    topic,
    memoryBytes === undefined ? `${topic}_sink` : `${topic}_sink_${memoryBytes}`,
    memoryBytes === undefined
      ? process.env
      : { ...process.env, CHATSTREAM_SINK_MEMORY_BYTES: String(memoryBytes) },
  );
  let exit: number | string | null | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = code ?? signal;
      resolve();
    });
    child.once('error', (error) => {
      exit = error.message;
      resolve();
    });
  });
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssOf(child.pid as number));
  }, 100);
  const meter = cpuMeter({ sink: child.pid, ...services });
  const started = process.hrtime.bigint();
  let seconds: number;
  let cpu: ReturnType<typeof meter>;
  try {
    for (let landed = await count(topic); landed < records; landed = await count(topic)) {
      if (exit !== undefined) throw new Error(`the sink exited (${exit}) with ${landed} of ${records} rows`);
      if (process.hrtime.bigint() - started > BigInt(FLOOR_TIMEOUT_MS) * 1_000_000n)
        throw new Error(`the sink wrote ${landed} of ${records} rows in ${FLOOR_TIMEOUT_MS / 1000} s`);
      await sleep(100);
    }
    seconds = Number(process.hrtime.bigint() - started) / 1e9;
    cpu = meter();
  } finally {
    clearInterval(sampler);
    child.kill('SIGTERM');
    const gone = await Promise.race([exited.then(() => true), sleep(30_000, false, { ref: false })]);
    if (!gone) child.kill('SIGKILL');
  }
  await settleMerges(ch);
  return {
    role: 'measured',
    benchmark,
    records,
    seconds,
    note: `RowBinary, peak RSS ${Math.round(peak / 1048576)} MiB (memory budget ${Math.round(budget / 1048576)} MiB); CPU ${cpuText(cpu.sink)}, ClickHouse ${cpuText(cpu.clickhouse)}, Kafka ${cpuText(cpu.kafka)}`,
  };
}

/** Active parts of a table (how many the inserts left, before merges end). */
async function partsOf(ch: ClickHouseClient, db: string, table: string): Promise<number> {
  const result = await ch.query({
    query: `SELECT count() AS c FROM system.parts WHERE database = '${db}' AND table = '${table}' AND active`,
    format: 'JSONEachRow',
  });
  const [row] = (await result.json()) as { c: string }[];
  return Number(row?.c ?? 0);
}

/** Waits (at most 60 s) until ClickHouse merges no parts. */
/**
 * Every sink row of a bench, in order: the sink with its defaults; the floors (bytes, then
 * transcoded into a copy of the sink's table, in one and two processes; bytes in two processes
 * too with `bytesInTwo`); the sink again with the larger memory budget. The sink's table is
 * left holding the records (the larger budget's run).
 */
export async function sinkRows(
  config: Config,
  ch: ClickHouseClient,
  topic: string,
  records: number,
  count: (table: string) => Promise<number>,
  label: string,
  bytesInTwo = false,
): Promise<BenchRow[]> {
  const rows = [await sinkRow(config, ch, topic, records, count, label)];
  rows.push(await sinkFloor(config, ch, topic, records, count));
  // Each record transcoded into a copy of the sink's table as it arrives: a sink that encodes
  // on consume and streams one insert, before offsets, commits and dead letters.
  rows.push(await sinkFloor(config, ch, topic, records, count, 1, true));
  rows.push(await sinkFloor(config, ch, topic, records, count, 2, true));
  // Both cores, so one consumer's thread does not bound it.
  if (bytesInTwo) rows.push(await sinkFloor(config, ch, topic, records, count, 2));
  // Larger fetches, so larger inserts.
  rows.push(
    await sinkRow(
      config,
      ch,
      topic,
      records,
      count,
      `${label}, ${BIG_BUDGET >> 20} MiB memory budget`,
      BIG_BUDGET,
    ),
  );
  return rows;
}

/** Drops the table (and its views) an earlier sink row wrote the topic into. */
async function dropSinkTables(ch: ClickHouseClient, config: Config, topic: string): Promise<void> {
  const db = quoteIdent(config.clickhouse.database);
  const table = tableName(topic);
  for (const name of [`${table}_dedup`, table])
    await ch.command({ query: `DROP TABLE IF EXISTS ${db}.${quoteIdent(name)}` });
}

async function settleMerges(ch: ClickHouseClient): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const result = await ch.query({ query: 'SELECT count() AS c FROM system.merges', format: 'JSONEachRow' });
    const [row] = (await result.json()) as { c: string }[];
    if (Number(row?.c ?? 0) === 0) return;
    await sleep(250);
  }
}

/** A sink or floor still counting after this is a failure. */
const FLOOR_TIMEOUT_MS = 300_000;
/** Rows a block of the floor's INSERT (ClickHouse writes a part per block as the data streams). */
const BLOCK_ROWS = 131_072;

/** What a floor process prints when its insert is done (bench/children/sink-floor.ts). */
interface FloorReport {
  rows: number;
  cpuSeconds: number;
  mainThreadCpuSeconds: number;
  milestones: {
    subscribed?: number;
    joined?: number;
    firstBatch?: number;
    allRead?: number;
    inserted?: number;
  };
}

async function report(child: Child): Promise<FloorReport> {
  const code = await child.exited;
  if (code !== 0) throw new Error(`a floor process exited ${code}: ${child.stderr().slice(-500)}`);
  const line = child.stdout().trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as FloorReport;
}

/**
 * One floor row: `processes` floor processes, each with every processes-th partition of the
 * topic and its own INSERT into one table, timed from spawn until ClickHouse counts `records`.
 */
export async function sinkFloor(
  config: Config,
  ch: ClickHouseClient,
  topic: string,
  records: number,
  count: (table: string) => Promise<number>,
  processes = 1,
  transcode = false,
): Promise<BenchRow> {
  const table = `${topic}_floor${processes}${transcode ? 't' : ''}`;
  const db = config.clickhouse.database;
  const services = await servicePids(config);
  const children: Child[] = [];
  try {
    await ch.command({
      query: transcode
        ? `CREATE TABLE ${db}.${table} AS ${db}.${quoteIdent(tableName(topic))}`
        : `CREATE TABLE ${db}.${table} (key String, value String) ENGINE = MergeTree ORDER BY tuple()`,
    });
    for (let index = 0; index < processes; index++)
      children.push(
        spawnNode([
          join(PROJECT_ROOT, 'bench', 'children', 'sink-floor.ts'),
          JSON.stringify({
            topic,
            group: `${topic}_floor${processes}_${index}`,
            table: `${db}.${table}`,
            processes,
            index,
            blockRows: BLOCK_ROWS,
            transcode,
          }),
        ]),
      );
    const started = process.hrtime.bigint();
    const meter = cpuMeter(services);
    const reporting = Promise.all(children.map(report));
    let done = false;
    reporting.then(
      () => {
        done = true;
      },
      () => {
        done = true;
      },
    );
    // Until every row is counted, or every floor process has ended (then the check below).
    for (let landed = await count(table); landed < records && !done; landed = await count(table)) {
      if (process.hrtime.bigint() - started > BigInt(FLOOR_TIMEOUT_MS) * 1_000_000n)
        throw new Error(`the floor wrote ${landed} of ${records} rows in ${FLOOR_TIMEOUT_MS / 1000} s`);
      await sleep(100);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const { clickhouse, kafka } = meter();
    const reports = await Promise.race([
      reporting,
      sleep(FLOOR_TIMEOUT_MS, undefined, { ref: false }).then(() => {
        throw new Error(`a floor process did not exit within ${FLOOR_TIMEOUT_MS / 1000} s of its insert`);
      }),
    ]);
    const parts = await partsOf(ch, db, table);
    const landed = await count(table);
    const rows = reports.reduce((sum, r) => sum + r.rows, 0);
    if (landed !== records || rows !== records)
      throw new Error(`the floor read ${rows} and ClickHouse counts ${landed}, not the topic's ${records}`);
    const sum = (f: (r: FloorReport) => number) => reports.reduce((total, r) => total + f(r), 0);
    const latest = (key: keyof FloorReport['milestones']) =>
      (Math.max(...reports.map((r) => r.milestones[key] ?? Number.NaN)) / 1000).toFixed(1);
    return {
      role: 'measured',
      benchmark: `(f) floor${transcode ? ' + transcoding' : ''}${
        processes === 1 ? ': kafkajs → one RowBinary INSERT' : `, ${processes} processes, an INSERT each`
      }`,
      records,
      seconds,
      note: [
        transcode
          ? `rows transcoded as they arrive into a copy of the sink's table (${parts} parts), no offsets or commits`
          : `key + Avro bytes as 2 String columns (no sort key, ${parts} parts), no decoding, offsets or commits`,
        `CPU ${cpuText(sum((r) => r.cpuSeconds))} (main thread${processes > 1 ? 's' : ''} ${cpuText(sum((r) => r.mainThreadCpuSeconds))}), ClickHouse ${cpuText(clickhouse)}, Kafka ${cpuText(kafka)}`,
        `subscribed ${latest('subscribed')} s, joined ${latest('joined')} s, first batch ${latest('firstBatch')} s, all read ${latest('allRead')} s, inserted ${latest('inserted')} s after spawn`,
      ].join('; '),
    };
  } finally {
    await Promise.all(children.map((child) => killGroup(child)));
    await ch.command({ query: `DROP TABLE IF EXISTS ${db}.${table}` }).catch(() => {});
  }
}

/**
 * Appends the issue's two ratios — share of the count-only consumer (a), multiple of
 * ClickHouse's Kafka engine (c) — to the notes of the measured rows (the sink and the floors).
 */
export function addRatios(rows: BenchRow[]): void {
  const rate = (row: BenchRow | undefined) => (row && row.seconds > 0 ? row.records / row.seconds : 0);
  const a = rate(rows.find((r) => r.role === 'a'));
  const c = rate(rows.find((r) => r.role === 'c'));
  for (const row of rows) {
    if (row.role !== 'measured') continue;
    const ratios = [
      a ? `${Math.round((100 * rate(row)) / a)}% of (a)` : undefined,
      c ? `${(rate(row) / c).toFixed(2)} × (c)` : undefined,
    ].filter(Boolean);
    row.note = [ratios.join(', '), row.note].filter(Boolean).join('; ');
  }
}
