/**
 * The one retry loop: exponential back-off with full jitter, for RetriableErrors only, until
 * it works or the runner stops. `onWait` runs between attempts (the runner heartbeats there
 * so the group keeps its partitions during a long outage).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isRetriable } from './errors.ts';

export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
}

export function backoffMs(attempt: number, policy: RetryPolicy, random = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
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
      hooks.onRetry?.(error, attempt + 1, wait);
      const until = Date.now() + wait;
      while (Date.now() < until && !hooks.signal?.aborted) {
        await sleep(Math.min(1000, until - Date.now()));
        await hooks.onWait?.();
      }
      if (hooks.signal?.aborted) throw error;
    }
  }
}
