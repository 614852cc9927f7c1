/**
 * The sink runner on the real local stack, in-process: a runner per test (stopped by
 * `stopRunners`), a ClickHouse client to read what landed, the dead letters of a topic.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Config, loadConfig } from '../../cli/settings.ts';
import { SinkRunner } from '../../consumers/runner.ts';
import type { Sink } from '../../consumers/sink.ts';
import { createClickHouseClient } from '../../consumers/sinks/clickhouse/connection.ts';
import { clickhouseSink } from '../../consumers/sinks/clickhouse/index.ts';
import { quoteIdent, tableName } from '../../consumers/sinks/clickhouse/schema.ts';
import type { ChatstreamError } from '../../core/errors.ts';
import { createLogger } from '../../core/log.ts';
import { withAdmin } from '../../kafka/client.ts';
import { uniqueName } from './names.ts';
import { topicRecords } from './topic-records.ts';

export const base = loadConfig();
export const log = createLogger('test.sink-runner');
export const SCHEMA = {
  type: 'record',
  name: 'Item',
  namespace: 'runner',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'n', type: 'long' },
  ],
};
export const items = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({ id: `i-${from + i}`, n: from + i }));

export function configFor(overrides: Partial<Config['sink']> = {}, top: Partial<Config> = {}): Config {
  return {
    ...base,
    ...top,
    sink: {
      ...base.sink,
      batchMaxWaitMs: 200,
      retryInitialMs: 50,
      retryMaxMs: 300,
      deadLetterTopic: uniqueName('dlq'),
      ...overrides,
    },
  };
}

export const runners: SinkRunner[] = [];
export const clickhouse = createClickHouseClient(base);
/** Stops every runner still running and closes the client (the test file's `after`). */
export async function stopRunners(): Promise<void> {
  for (const runner of runners) await runner.stop().catch(() => {});
  await clickhouse.close();
}

export interface Started {
  runner: SinkRunner;
  fatal: ChatstreamError[];
}

export async function start(
  config: Config,
  topic: string,
  group: string,
  sink?: Sink,
  extra: object = {},
): Promise<Started> {
  const fatal: ChatstreamError[] = [];
  const runner = new SinkRunner({
    config,
    sink: sink ?? clickhouseSink.create({ config, log }),
    log,
    topics: [topic],
    group,
    onFatal: (error: ChatstreamError) => fatal.push(error),
    ...extra,
  });
  runners.push(runner);
  await runner.start();
  return { runner, fatal };
}

export async function stop(runner: SinkRunner): Promise<void> {
  runners.splice(runners.indexOf(runner), 1);
  await runner.stop();
}

export async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(200);
  }
  assert.fail(`timed out waiting for ${what}`);
}

export async function committed(config: Config, group: string, topic: string): Promise<number> {
  return withAdmin(config, async (admin) => {
    const [entry] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return (entry?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  });
}

export async function visible(topic: string): Promise<number> {
  try {
    const result = await clickhouse.query({
      query: `SELECT count() AS c FROM ${quoteIdent(base.clickhouse.database)}.${quoteIdent(`${tableName(topic)}_dedup`)}`,
      format: 'JSONEachRow',
    });
    const [row] = (await result.json()) as { c: string }[];
    return Number(row?.c ?? 0);
  } catch {
    return 0; // not created yet
  }
}

/** Dead letters of `topic` in the dead-letter topic (by their `dlq.topic` header). */
export async function lettersOf(config: Config, topic: string) {
  return (await topicRecords(config, config.sink.deadLetterTopic, { decode: false, settle: false })).filter(
    (r) => r.headers['dlq.topic'] === topic,
  );
}
