/**
 * Ctrl-C and SIGTERM for long-running commands: the first asks for a graceful stop; another one
 * (a second after the first — npm may forward one signal twice) exits at once with 130, so a
 * stop that hangs on a service that went away can always be cut short.
 */
import { EXIT } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';

export interface StopSignals {
  /** Aborted by the first signal. */
  signal: AbortSignal;
  /** Removes the handlers (call once the stop is done). */
  dispose(): void;
}

export function stopSignals(log: Logger): StopSignals {
  const controller = new AbortController();
  let first = 0;
  const handler = (name: NodeJS.Signals) => {
    if (!controller.signal.aborted) {
      first = Date.now();
      log.info(`${name}: stopping (send it again to exit at once)`);
      controller.abort();
      return;
    }
    if (Date.now() - first < 1000) return;
    log.warn(`${name} again: exiting without waiting for the stop to finish`);
    process.exit(EXIT.interrupted);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
