/** Shared pieces of the simulator tests: a logger that writes nothing, and a simulator that is always stopped. */
import type { Logger } from '../../core/log.ts';
import { FreshchatSimulator, type SimulatorOptions } from '../../producers/freshchat/simulator/index.ts';

export const quiet: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => quiet,
};

/** Runs fn with a simulator started with these options, and stops it whatever happens. */
export async function withSim(
  options: SimulatorOptions,
  fn: (sim: FreshchatSimulator) => Promise<void>,
): Promise<void> {
  const sim = await FreshchatSimulator.start({ log: quiet, ...options });
  try {
    await fn(sim);
  } finally {
    await sim.stop();
  }
}
