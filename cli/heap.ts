/**
 * The V8 heap cap that keeps a process's memory within its documented bound: garbage is
 * collected before the heap (and so the RSS) grows past it. A command re-runs itself in place
 * with the cap (same pid, so supervisors and signals still reach it), unless one was given.
 */

import { accessSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, loadConfig } from './settings.ts';

const MiB = 1024 * 1024;

/** The heap cap (MiB) of a sink with this memory budget: 48 MiB + 2 × the budget. */
export function sinkHeapMiB(memoryBytes: number): number {
  return 48 + Math.ceil((2 * memoryBytes) / MiB);
}

/**
 * What `chatstream start` adds to the sink's cap for everything else it runs in the same
 * process (the Freshchat poller and webhook receiver, the simulator, the Pure Chat collector,
 * the dashboard): their pages and requests are bounded, so a fixed allowance.
 */
export const PIPELINE_HEAP_ALLOWANCE_MIB = 160;

/**
 * V8 flags a sink process runs with, next to its heap cap. A 16 MiB semi-space lets a fetch's
 * message objects die young instead of being promoted: on 1M bench records the sink used
 * 9.1–10.1 s of CPU against 11.0–12.8 s at 4 MiB, peak RSS +6 MiB (README, Benchmarks).
 */
export const SINK_V8_FLAGS = ['--max-semi-space-size=16'];

/** The commands that run with a heap cap: `sink <name>` and `start`, unless they only print help. */
export function capsHeap(argv: string[]): 'sink' | 'start' | undefined {
  if (argv.includes('--help') || argv.includes('-h')) return undefined;
  if (argv[0] === 'sink' && argv.slice(1).some((a) => !a.startsWith('-'))) return 'sink';
  if (argv[0] === 'start') return 'start';
  return undefined;
}

/** The heap cap (MiB) and V8 flags of a command that runs with one. */
export function heapOf(command: 'sink' | 'start', config: Config): { mib: number; flags: string[] } {
  const sink = sinkHeapMiB(config.sink.memoryBytes);
  // `start` runs the sink in its own process: the same young generation, so the same bound.
  return { mib: command === 'sink' ? sink : sink + PIPELINE_HEAP_ALLOWANCE_MIB, flags: SINK_V8_FLAGS };
}

/**
 * Re-runs the process with its command's heap cap before the command's modules load (so they
 * load once). Only those commands read the configuration here (once more after the re-run);
 * one that does not load is left to the command line to report.
 */
export function capHeapForCommand(argv: string[]): void {
  const command = capsHeap(argv);
  if (!command || heapCapped()) return;
  let config: Config;
  try {
    config = loadConfig();
  } catch {
    return;
  }
  const heap = heapOf(command, config);
  capHeap(heap.mib, heap.flags);
}

/** True when this process runs with a heap cap already (a flag or NODE_OPTIONS). */
export function heapCapped(): boolean {
  return (
    process.execArgv.some((a) => a.startsWith('--max-old-space-size')) ||
    (process.env.NODE_OPTIONS ?? '').includes('--max-old-space-size')
  );
}

/**
 * Re-runs this process in place with the heap capped at `mib` (and the extra V8 flags), once.
 * The re-run loads every module again: Node's compile cache (NODE_COMPILE_CACHE, unless set)
 * halves that (~0.6 s instead of ~1.2 s here).
 */
export function capHeap(mib: number, extraFlags: string[] = []): void {
  if (heapCapped() || typeof process.execve !== 'function') return;
  // A failed execve aborts the process (it cannot be caught): run on uncapped rather than die
  // when the binary went away under us (e.g. `npm install` replaced node_modules/node).
  try {
    accessSync(process.execPath, constants.X_OK);
  } catch {
    process.emitWarning(
      `cannot re-run ${process.execPath} with a heap cap; running without --max-old-space-size=${mib}`,
    );
    return;
  }
  process.execve(
    process.execPath,
    [
      process.execPath,
      ...process.execArgv,
      `--max-old-space-size=${mib}`,
      ...extraFlags,
      ...process.argv.slice(1),
    ],
    { NODE_COMPILE_CACHE: join(tmpdir(), 'chatstream-node-compile-cache'), ...process.env },
  );
}
