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

/** Starts a CPU account of a process, ClickHouse and Kafka; `read()` says what each used since. */
export function cpuAccount(pid: number, services: (number | undefined)[]): { read: () => string } {
  const pids = [pid, ...services];
  const cpuOf = (p: number | undefined) => (p === undefined ? undefined : procStats(p)?.cpuSeconds);
  const before = pids.map(cpuOf);
  return {
    read: () => {
      const used = pids.map((p, i) => {
        const [now, then] = [cpuOf(p), before[i]];
        return now === undefined || then === undefined ? '?' : `${(now - then).toFixed(1)} s`;
      });
      return `CPU ${used[0]}, ClickHouse ${used[1]}, Kafka ${used[2]}`;
    },
  };
}

export async function sinkFloor(
  config: Config,
  ch: ClickHouseClient,
  topic: string,
  records: number,
  count: (table: string) => Promise<number>,
): Promise<BenchRow> {
  const table = `${topic}_floor`;
  const db = config.clickhouse.database;
  const services = await servicePids(config);
  await ch.command({
    query: `CREATE TABLE ${db}.${table} (key String, value String) ENGINE = MergeTree ORDER BY key`,
  });
  const child = spawnNode([
    join(PROJECT_ROOT, 'bench', 'children', 'sink-floor.ts'),
    JSON.stringify({ topic, group: `${topic}_floor`, table: `${db}.${table}`, records }),
  ]);
  let exit: number | string | undefined;
  void child.exited.then((code) => {
    exit = code;
  });
  const started = process.hrtime.bigint();
  const cpu = cpuAccount(child.pid, services);
  try {
    while ((await count(table)) < records) {
      if (exit !== undefined && exit !== 0)
        throw new Error(`floor exited ${exit}: ${child.stderr().slice(-500)}`);
      await sleep(100);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      benchmark: '(f) floor: kafkajs → one RowBinary INSERT',
      records,
      seconds,
      note: `key + Avro bytes as 2 String columns, no decoding, offsets or commits; ${cpu.read()}`,
    };
  } finally {
    await killGroup(child);
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
