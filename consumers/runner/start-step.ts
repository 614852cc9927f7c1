/**
 * The sink runner's start, one step at a time: each step against a service is retried while
 * its failure is retriable, for at most the start timeout, then a ServiceError (exit 5) names
 * the service; fatal errors end the start at once. A stop asked for meanwhile cuts the step in
 * flight short (INTERRUPTED): a service that does not answer (a request timeout of a minute, a
 * client's own retries) is not waited for; the runner closes what the step connected.
 */
import { type ChatstreamError, ServiceError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import { backoffMs, type RetryPolicy, sleep } from '../../core/retry.ts';
import { decide } from './decisions.ts';

export interface StartContext {
  /** Aborted by a stop (or a fatal error) while starting. */
  signal: AbortSignal;
  timeoutMs: number;
  policy: RetryPolicy;
  log: Logger;
  /** The fatal error that stopped the runner, if one did: reported instead of INTERRUPTED. */
  failure(): ChatstreamError | undefined;
}

export function interrupted(service: string, what: string): ServiceError {
  return new ServiceError(service, `stopped while starting (${what})`, { code: 'INTERRUPTED' });
}

export async function startStep<T>(
  ctx: StartContext,
  service: string,
  what: string,
  hint: string,
  fn: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + ctx.timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await unlessStopped(fn(), ctx.signal, () => interrupted(service, what));
    } catch (error) {
      if (ctx.signal.aborted) throw ctx.failure() ?? interrupted(service, what);
      const decision = decide(error);
      if (decision.action === 'stop') throw decision.error.code === 'INTERNAL' ? error : decision.error;
      const message = (error as Error).message;
      if (Date.now() >= deadline)
        throw new ServiceError(service, `cannot be reached at start (${what}): ${message}`, {
          code: 'UNREACHABLE',
          hint,
          cause: error,
        });
      const waitMs = Math.min(backoffMs(attempt, ctx.policy), Math.max(0, deadline - Date.now()));
      ctx.log.warn(`${what}: ${service} is not reachable yet; retrying`, {
        attempt: attempt + 1,
        waitMs,
        error: message,
      });
      await sleep(waitMs, ctx.signal);
    }
  }
}

/** A step's promise, or `stopped()` as soon as the signal aborts. */
function unlessStopped<T>(step: Promise<T>, signal: AbortSignal, stopped: () => Error): Promise<T> {
  step.catch(() => {}); // a step cut short by a stop may still fail: nobody is left to tell
  if (signal.aborted) return Promise.reject(stopped());
  return new Promise<T>((resolve, reject) => {
    const onStop = () => reject(stopped());
    signal.addEventListener('abort', onStop, { once: true });
    step.then(resolve, reject).finally(() => signal.removeEventListener('abort', onStop));
  });
}
