/**
 * The one retry loop: exponential back-off with full jitter, for retriable failures only
 * (`isRetriable`: RetriableError, retriable kafkajs errors, network failures), until it works
 * or the signal aborts. `onWait` runs between attempts, at least once a second (the sink
 * runner heartbeats there so the group keeps its partitions during a long outage).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { isRetriable } from './errors.ts';

export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
}

export function backoffMs(attempt: number, policy: RetryPolicy, random = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Waits ms, or less when the signal aborts (resolves either way; never throws). */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return;
  try {
    await delay(ms, undefined, { signal });
  } catch (error) {
    if ((error as Error).name !== 'AbortError') throw error;
  }
}

export async function withRetries<T>(
  fn: () => Promise<T>,
  policy: RetryPolicy,
  hooks: {
    onRetry?: (error: Error, attempt: number, waitMs: number) => void;
    onWait?: () => Promise<void>;
    signal?: AbortSignal;
  } = {},
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!isRetriable(error) || hooks.signal?.aborted) throw error;
      const wait = backoffMs(attempt, policy);
      hooks.onRetry?.(error as Error, attempt + 1, wait);
      const until = Date.now() + wait;
      while (Date.now() < until && !hooks.signal?.aborted) {
        await sleep(Math.min(1000, until - Date.now()), hooks.signal);
        await hooks.onWait?.();
      }
      if (hooks.signal?.aborted) throw error;
    }
  }
}

/**
 * withRetries bounded in time, for start-up steps (a broker that just restarted answers
 * "not the leader" for a while): retriable failures are retried until `timeoutMs` has passed,
 * then the last one is thrown; any other failure at once.
 */
export async function withRetriesFor<T>(
  fn: () => Promise<T>,
  policy: RetryPolicy,
  timeoutMs: number,
  onRetry?: (error: Error, attempt: number, waitMs: number) => void,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const left = deadline - Date.now();
      if (!isRetriable(error) || left <= 0) throw error;
      const wait = Math.min(backoffMs(attempt, policy), left);
      onRetry?.(error as Error, attempt + 1, wait);
      await sleep(wait);
    }
  }
}
