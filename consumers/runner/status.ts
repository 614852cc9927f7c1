/**
 * What a sink runner is doing, told truthfully: its state (starting, running in the group,
 * rebalancing, restarting after a kafkajs crash, stopped, failed), the partitions waiting on a
 * retriable failure (what, since when, how many attempts, the last error), and the lag gauge —
 * set when a batch arrives, after each commit, and while a partition waits (its end re-read
 * now and then), and removed for partitions this member no longer has.
 */
import type { Admin } from 'kafkajs';
import type { ChatstreamError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import type { Health } from '../../core/metrics.ts';
import type { SinkMetrics } from '../sink-metrics.ts';
import type { Wait } from './host.ts';

export type State = 'starting' | 'running' | 'rebalancing' | 'restarting' | 'stopping' | 'stopped' | 'failed';

/** How often a waiting partition's end is re-read for the lag gauge. */
const LAG_REFRESH_MS = 10_000;

const key = (topic: string, partition: number) => `${topic}:${partition}`;

export class RunnerStatus {
  private state: State = 'starting';
  private since = Date.now();
  private assignment: Record<string, number[]> = {};
  private readonly waits = new Map<string, Wait>();
  private readonly lagSeries = new Map<string, { topic: string; partition: number }>();
  private readonly lagRefreshed = new Map<string, number>();
  private readonly m: SinkMetrics;
  private readonly stallMs: number;
  private readonly log: Logger;

  constructor(m: SinkMetrics, stallMs: number, log: Logger) {
    this.m = m;
    this.stallMs = stallMs;
    this.log = log;
  }

  set(state: State): void {
    if (this.state === 'failed' || this.state === state) return;
    this.state = state;
    this.since = Date.now();
  }

  /** A new assignment: the member is in the group; lag series of partitions it lost go. */
  assigned(assignment: Record<string, number[]>): void {
    this.assignment = assignment;
    this.set('running');
    for (const [k, { topic, partition }] of this.lagSeries) {
      if ((assignment[topic] ?? []).includes(partition)) continue;
      this.m.lag.remove({ topic, partition });
      this.lagSeries.delete(k);
    }
  }

  waiting(topic: string, partition: number, wait: Wait | undefined): void {
    if (wait) this.waits.set(key(topic, partition), wait);
    else this.waits.delete(key(topic, partition));
  }

  setLag(topic: string, partition: number, lag: bigint): void {
    this.lagSeries.set(key(topic, partition), { topic, partition });
    this.m.lag.set({ topic, partition }, Number(lag < 0n ? 0n : lag));
  }

  /** While a partition waits, its end may grow: re-read it now and then (best effort). */
  refreshLag(admin: Admin | undefined, topic: string, partition: number, position: bigint): void {
    const k = key(topic, partition);
    if (!admin || Date.now() - (this.lagRefreshed.get(k) ?? 0) < LAG_REFRESH_MS) return;
    this.lagRefreshed.set(k, Date.now());
    admin.fetchTopicOffsets(topic).then(
      (offsets) => {
        const high = offsets.find((o) => o.partition === partition)?.high;
        if (high !== undefined && this.waits.has(k)) this.setLag(topic, partition, BigInt(high) - position);
      },
      (error: Error) => this.log.debug('reading the partition end failed', { error: error.message }),
    );
  }

  /**
   * For GET /health: ok unless the runner failed or stopped, a partition has waited on a
   * retriable failure longer than the stall limit, or the consumer has been out of the group
   * (starting, rebalancing, restarting after a crash) that long.
   */
  health(details: { sink: string; group: string; paused: unknown; failure?: ChatstreamError }): Health {
    const now = Date.now();
    const waits = [...this.waits.values()];
    const stalled = waits.some((w) => now - w.since > this.stallMs);
    const inGroup = this.state === 'running' || now - this.since <= this.stallMs;
    const down = this.state === 'stopping' || this.state === 'stopped' || this.state === 'failed';
    const { failure, ...rest } = details;
    return {
      ok: !failure && !down && inGroup && !stalled,
      state: this.state,
      since: new Date(this.since).toISOString(),
      ...rest,
      assignment: this.assignment,
      waiting: waits.map((w) => ({
        topic: w.topic,
        partition: w.partition,
        what: w.what,
        attempts: w.attempts,
        seconds: Math.round((now - w.since) / 1000),
        error: w.error,
      })),
      ...(failure ? { error: failure.message, exitCode: failure.exitCode } : {}),
    };
  }
}
