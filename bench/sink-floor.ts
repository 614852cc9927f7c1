/**
 * The sink benches' floor row: bench/children/sink-floor.ts (kafkajs → one streaming RowBinary
 * INSERT, nothing else) spawned and timed as the sink is, from spawn until ClickHouse counts
 * every record. Its table is made before the clock starts (the sink makes its own in its time).
 * A lower bound on any kafkajs sink's time here: a target it misses, no such sink meets.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Config } from '../cli/settings.ts';
import { createLogger } from '../core/log.ts';
import { PROJECT_ROOT } from '../core/settings.ts';
import { Stack } from '../stack/stack.ts';
import { killGroup, procStats, spawnNode } from './processes.ts';
import type { BenchRow } from './types.ts';

/** The pids of the stack's ClickHouse and Kafka (2 cores share them with what is measured). */
export async function servicePids(config: Config): Promise<(number | undefined)[]> {
  const services = await new Stack(config, createLogger('bench')).status(['clickhouse', 'kafka']);
  return ['clickhouse', 'kafka'].map((name) => services.find((s) => s.name === name)?.pid);
}

/** Starts a CPU account of the processes, ClickHouse and Kafka; `read()` says what each used since. */
export function cpuAccount(pids: number[], services: (number | undefined)[]): { read: () => string } {
  const cpuOf = (p: number | undefined) => (p === undefined ? undefined : procStats(p)?.cpuSeconds);
  const all = [...pids, ...services];
  const before = all.map(cpuOf);
  return {
    read: () => {
      const used = all.map((p, i) => {
        const [now, then] = [cpuOf(p), before[i]];
        return now === undefined || then === undefined ? undefined : now - then;
      });
      const own = used.slice(0, pids.length);
      const [clickhouse, kafka] = used.slice(pids.length);
      const s = (v: number | undefined) => (v === undefined ? '?' : `${v.toFixed(1)} s`);
      const total = own.some((v) => v === undefined) ? undefined : own.reduce((a = 0, b = 0) => a + b, 0);
      return `CPU ${s(total)}, ClickHouse ${s(clickhouse)}, Kafka ${s(kafka)}`;
    },
  };
}

export async function sinkFloor(
  config: Config,
  ch: ClickHouseClient,
  topic: string,
  records: number,
  count: (table: string) => Promise<number>,
  { partitions = 6, processes = 1 } = {},
): Promise<BenchRow> {
  const table = `${topic}_floor`;
  const db = config.clickhouse.database;
  const services = await servicePids(config);
  await ch.command({
    query: `CREATE TABLE ${db}.${table} (key String, value String) ENGINE = MergeTree ORDER BY key`,
  });
  const children = Array.from({ length: processes }, (_, i) =>
    spawnNode([
      join(PROJECT_ROOT, 'bench', 'children', 'sink-floor.ts'),
      JSON.stringify({
        topic,
        group: `${topic}_floor_${processes}_${i}`,
        table: `${db}.${table}`,
        partitions: Array.from({ length: partitions }, (_, p) => p).filter((p) => p % processes === i),
      }),
    ]),
  );
  const exits = new Map<number, number | string>();
  for (const child of children) void child.exited.then((code) => exits.set(child.pid, code));
  const started = process.hrtime.bigint();
  const cpu = cpuAccount(
    children.map((child) => child.pid),
    services,
  );
  try {
    while ((await count(table)) < records) {
      for (const child of children) {
        const exit = exits.get(child.pid);
        if (exit !== undefined && exit !== 0)
          throw new Error(`floor exited ${exit}: ${child.stderr().slice(-500)}`);
      }
      await sleep(100);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      benchmark:
        processes === 1
          ? '(f) floor: kafkajs → one RowBinary INSERT'
          : `(f) floor, ${processes} processes, an INSERT each`,
      records,
      seconds,
      note: `key + Avro bytes as 2 String columns, no decoding, offsets or commits; ${cpu.read()}`,
    };
  } finally {
    await Promise.all(children.map((child) => killGroup(child)));
    await ch.command({ query: `DROP TABLE IF EXISTS ${db}.${table}` });
  }
}

/**
 * Appends the two ratios — share of the count-only consumer (a), multiple of
 * ClickHouse's Kafka engine (c) — to the notes of the sink row and the floor row.
 */
export function addRatios(rows: BenchRow[]): void {
  const rate = (row: BenchRow | undefined) => (row && row.seconds > 0 ? row.records / row.seconds : 0);
  const a = rate(rows.find((r) => r.benchmark.startsWith('(a)')));
  const c = rate(rows.find((r) => r.benchmark.startsWith('(c)')));
  for (const row of rows) {
    if (!row.benchmark.startsWith('chatstream sink') && !row.benchmark.startsWith('(f)')) continue;
    const ratios = [
      a ? `${Math.round((100 * rate(row)) / a)}% of (a)` : undefined,
      c ? `${(rate(row) / c).toFixed(2)} × (c)` : undefined,
    ].filter(Boolean);
    row.note = [ratios.join(', '), row.note].filter(Boolean).join('; ');
  }
}
