/**
 * How a batch waits (the rules in batch.ts): every call to the sink, the registry or Kafka runs
 * through `op`, which heartbeats at least once a second while the call runs, retries what is
 * retriable with back-off (heartbeating, re-reading the lag and telling /health meanwhile), and
 * throws anything else for the batch to decide. A heartbeat that reports a rebalance sets
 * `rejoin` and aborts the batch's signal: it ends at once, without committing.
 */
import type { EachBatchPayload } from 'kafkajs';
import { backoffMs, sleep } from '../../core/retry.ts';
import { decide, isRejoin } from './decisions.ts';
import { type BatchHost, HEARTBEAT_TICK_MS } from './host.ts';

export interface KeepaliveOptions {
  host: BatchHost;
  payload: EachBatchPayload;
  /** Aborted here when a heartbeat reports a rebalance. */
  abort: AbortController;
  /** The batch's signal (the runner's and `abort`'s): waits end early on it. */
  signal: AbortSignal;
  /** Throws when the batch must end now; called before every try. */
  checkpoint: () => void;
  /** The partition's position for the lag gauge during a wait (the next offset to commit). */
  position: () => bigint | undefined;
}

export class BatchKeepalive {
  /** The heartbeat error that reported a rebalance: the batch ends with it. */
  rejoin: unknown;
  private beatInFlight = false;
  private readonly host: BatchHost;
  private readonly payload: EachBatchPayload;
  private readonly topic: string;
  private readonly partition: number;
  private readonly abort: AbortController;
  private readonly signal: AbortSignal;
  private readonly checkpoint: () => void;
  private readonly position: () => bigint | undefined;

  constructor(options: KeepaliveOptions) {
    this.host = options.host;
    this.payload = options.payload;
    this.topic = options.payload.batch.topic;
    this.partition = options.payload.batch.partition;
    this.abort = options.abort;
    this.signal = options.signal;
    this.checkpoint = options.checkpoint;
    this.position = options.position;
  }

  /**
   * Runs fn, heartbeating while it runs; retries what is retriable (backing off, heartbeating,
   * telling /health), and throws anything else for the caller to decide.
   */
  async op<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let since: number | undefined;
    for (let attempt = 0; ; attempt++) {
      this.checkpoint();
      try {
        const result = await this.beating(fn);
        if (since !== undefined) this.host.waiting(this.topic, this.partition, undefined);
        return result;
      } catch (error) {
        if (this.rejoin !== undefined) throw this.rejoin;
        if (decide(error).action !== 'retry' || this.host.signal.aborted) throw error;
        since ??= Date.now();
        const waitMs = backoffMs(attempt, this.host.policy);
        const message = (error as Error).message;
        this.host.m.retries.inc({ sink: this.host.sink.name });
        this.host.log.warn(`${what} failed; retrying`, {
          topic: this.topic,
          partition: this.partition,
          attempt: attempt + 1,
          waitMs,
          error: message,
        });
        this.host.waiting(this.topic, this.partition, {
          topic: this.topic,
          partition: this.partition,
          what,
          since,
          attempts: attempt + 1,
          error: message,
        });
        await this.pause(waitMs);
      }
    }
  }

  /** Waits ms (less when the batch must end), heartbeating and re-reading the lag meanwhile. */
  private async pause(ms: number): Promise<void> {
    const until = Date.now() + ms;
    const position = this.position();
    while (Date.now() < until && !this.signal.aborted) {
      await sleep(Math.min(HEARTBEAT_TICK_MS, until - Date.now()), this.signal);
      await this.beat();
      if (position !== undefined) this.host.refreshLag(this.topic, this.partition, position);
    }
  }

  private async beating<T>(fn: () => Promise<T>): Promise<T> {
    const timer = setInterval(() => void this.beat(), HEARTBEAT_TICK_MS);
    try {
      return await fn();
    } finally {
      clearInterval(timer);
    }
  }

  /** One heartbeat (unless one is in flight); a rebalance ends the batch, other failures wait for the next. */
  async beat(): Promise<void> {
    if (this.beatInFlight || this.rejoin !== undefined) return;
    this.beatInFlight = true;
    try {
      await this.payload.heartbeat();
    } catch (error) {
      if (isRejoin(error)) {
        this.rejoin = error;
        this.abort.abort();
      } else {
        this.host.log.debug('heartbeat failed; trying again at the next one', {
          topic: this.topic,
          partition: this.partition,
          error: (error as Error).message,
        });
      }
    } finally {
      this.beatInFlight = false;
    }
  }
}
