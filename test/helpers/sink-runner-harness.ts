/**
 * Drives `SinkRunner.handle` with a fake consumer, a fake dead-letter producer, a fake decoder
 * and a fake sink (pure logic: no Kafka, no database), recording what each saw in order.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EachBatchPayload } from 'kafkajs';
import { loadConfig } from '../../cli/settings.ts';
import { SinkRunner } from '../../consumers/runner.ts';
import type { Batch, Sink, SinkRecord, WriteResult } from '../../consumers/sink.ts';
import { type ChatstreamError, PoisonError, RetriableError } from '../../core/errors.ts';
import { createLogger } from '../../core/log.ts';
import type { DeadLetter } from '../../kafka/dead-letters.ts';

export const TOPIC = 't';
export const SCHEMA = { type: 'record' as const, name: 'R', fields: [{ name: 'id', type: 'string' }] };

/** Everything the fakes saw, in order: `letters:<offsets>`, `write:<first>-<last>`, `commit:<next>`, … */
export type Events = string[];

export class FakeConsumer {
  readonly events = { CRASH: 'consumer.crash', GROUP_JOIN: 'consumer.group_join' };
  private readonly pausedTopics = new Set<string>();
  commits: number[] = [];
  disconnected = false;
  private readonly log: Events;
  constructor(log: Events) {
    this.log = log;
  }
  pause(topics: { topic: string; partitions?: number[] }[]) {
    for (const { topic, partitions } of topics)
      for (const p of partitions ?? [0, 1, 2]) this.pausedTopics.add(`${topic}:${p}`);
  }
  resume(topics: { topic: string; partitions?: number[] }[]) {
    for (const { topic, partitions } of topics)
      for (const p of partitions ?? [0, 1, 2]) this.pausedTopics.delete(`${topic}:${p}`);
  }
  paused() {
    return [...this.pausedTopics].map((tp) => ({
      topic: tp.split(':')[0],
      partitions: [Number(tp.split(':')[1])],
    }));
  }
  isPaused() {
    return this.pausedTopics.size > 0;
  }
  async commitOffsets(offsets: { topic: string; partition: number; offset: string }[]) {
    for (const o of offsets) {
      this.commits.push(Number(o.offset));
      this.log.push(`commit:${o.offset}`);
    }
  }
  on() {
    return () => {};
  }
  async disconnect() {
    this.disconnected = true;
  }
}

export class FakeDlq {
  readonly topic = 'dlq';
  sends: DeadLetter[][] = [];
  failuresLeft = 0;
  private readonly log: Events;
  constructor(log: Events) {
    this.log = log;
  }
  async send(letters: DeadLetter[]) {
    if (letters.length === 0) return;
    if (this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      throw new RetriableError('injected: Kafka unavailable');
    }
    this.sends.push(letters);
    this.log.push(`letters:${letters.map((l) => l.headers['dlq.offset']).join(',')}`);
  }
  get sent(): DeadLetter[] {
    return this.sends.flat();
  }
  async connect() {}
  async close() {}
}

/** Values are JSON; `{"poison":true}` does not decode. */
export class FakeDecoder {
  decodeKnown(bytes: Buffer | null) {
    const value = JSON.parse(String(bytes)) as Record<string, unknown>;
    if (value.poison) throw new PoisonError('undecodable', 'injected: not Avro');
    return { schema: { id: 1, schema: SCHEMA, type: undefined }, value };
  }
  async decode(bytes: Buffer | null) {
    return this.decodeKnown(bytes);
  }
}

/** A sink that stores in memory, with hooks to make writes fail or wait. */
export class FakeSink implements Sink {
  readonly name = 'fake';
  /** Whether the sink takes tombstones (records without a value). */
  tombstones = false;
  stored: bigint | undefined;
  rows: SinkRecord[] = [];
  writes = 0;
  storedOffsetFailures = 0;
  /** Called for each write before it is stored; may throw or wait. */
  onWrite: (batch: Batch) => Promise<WriteResult | undefined> = async () => undefined;
  private readonly log: Events;
  constructor(log: Events) {
    this.log = log;
  }
  async connect() {}
  async storedOffset(): Promise<bigint | undefined> {
    if (this.storedOffsetFailures > 0) {
      this.storedOffsetFailures -= 1;
      throw new RetriableError('injected: destination unavailable');
    }
    return this.stored;
  }
  async writeBatch(batch: Batch): Promise<WriteResult> {
    const result = (await this.onWrite(batch)) ?? { rejected: [] };
    this.writes += 1;
    const bad = new Set(result.rejected.map((r) => r.record.offset));
    this.rows.push(...batch.records.filter((r) => !bad.has(r.offset)));
    this.stored = (batch.records.at(-1) as SinkRecord).offset;
    this.log.push(`write:${batch.records[0]?.offset}-${this.stored}`);
    return result;
  }
  async close() {}
}

export interface Message {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
}

export function messages(count: number, poison: (i: number) => boolean = () => false, from = 0): Message[] {
  return Array.from({ length: count }, (_, i) => ({
    offset: String(from + i),
    key: Buffer.from(`k${from + i}`),
    value: Buffer.from(JSON.stringify(poison(from + i) ? { poison: true } : { id: `r${from + i}` })),
    timestamp: String(1_763_800_000_000 + i),
  }));
}

export interface Harness {
  runner: SinkRunner;
  sink: FakeSink;
  consumer: FakeConsumer;
  dlq: FakeDlq;
  log: Events;
  heartbeats: number[];
  /** What onFatal received. */
  fatal: ChatstreamError[];
  handle(
    list: Message[],
    options?: { heartbeat?: () => Promise<void>; highWatermark?: string; partition?: number },
  ): Promise<void>;
}

export function harness(sinkOverrides: Partial<ReturnType<typeof loadConfig>['sink']> = {}): Harness {
  const base = loadConfig({ env: {} });
  const config = {
    ...base,
    sink: { ...base.sink, retryInitialMs: 5, retryMaxMs: 20, batchMaxRows: 1000, ...sinkOverrides },
  };
  const log: Events = [];
  const sink = new FakeSink(log);
  const fatal: ChatstreamError[] = [];
  const runner = new SinkRunner({
    config,
    sink,
    log: createLogger('test.sink-runner'),
    topics: [TOPIC],
    group: 'g',
    onFatal: (error: ChatstreamError) => fatal.push(error),
    stallMs: 200,
  });
  const consumer = new FakeConsumer(log);
  const dlq = new FakeDlq(log);
  const internals = runner as unknown as Record<string, unknown>;
  internals.consumer = consumer;
  internals.dlq = dlq;
  internals.decoder = new FakeDecoder();
  const heartbeats: number[] = [];
  return {
    runner,
    sink,
    consumer,
    dlq,
    log,
    heartbeats,
    fatal,
    handle: (list, options = {}) => {
      const partition = options.partition ?? 0;
      const payload = {
        batch: {
          topic: TOPIC,
          partition,
          highWatermark: options.highWatermark ?? String(Number(list.at(-1)?.offset ?? -1) + 1),
          messages: list,
        },
        resolveOffset: () => {},
        heartbeat: async () => {
          heartbeats.push(Date.now());
          await options.heartbeat?.();
        },
        isStale: () => false,
        isRunning: () => true,
        pause: () => () => {},
        commitOffsetsIfNecessary: async () => {},
        uncommittedOffsets: () => ({ topics: [] }),
      } as unknown as EachBatchPayload;
      return (internals.handle as (p: EachBatchPayload) => Promise<void>).call(runner, payload);
    },
  };
}

export const index = (log: Events, predicate: (event: string) => boolean) => log.findIndex(predicate);

/** Offsets a `write:a-b` event stores (b) and the offset a `commit:n` covers (n - 1). */
export function covers(event: string): bigint | undefined {
  const write = /^write:\d+-(\d+)$/.exec(event);
  if (write) return BigInt(write[1] as string);
  const commit = /^commit:(\d+)$/.exec(event);
  return commit ? BigInt(commit[1] as string) - 1n : undefined;
}

/** Every dead letter is acknowledged before any stored or committed offset covers it. */
export function assertLettersFirst(log: Events): void {
  for (const [at, event] of log.entries()) {
    if (!event.startsWith('letters:')) continue;
    for (const offset of event.slice('letters:'.length).split(',').map(BigInt)) {
      const first = index(log, (e) => (covers(e) ?? -1n) >= offset);
      assert.ok(first === -1 || first > at, `letter ${offset} sent after ${log[first]}: ${log.join(' ')}`);
    }
  }
}

// --- Defect 1: dead letters ---------------------------------------------------------------

/** Waits (at most 1 s) until the runner reported a fatal error to onFatal (it closes first). */
export async function fatalReported(h: Harness): Promise<void> {
  for (let i = 0; i < 50 && h.fatal.length === 0; i++) await sleep(20);
}
