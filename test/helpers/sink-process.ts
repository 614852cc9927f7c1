/** `chatstream sink <name>` as its own process, as users run it (tests and benchmarks). */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../core/settings.ts';

export function spawnSink(
  name: string,
  topic: string,
  group: string,
  env: NodeJS.ProcessEnv = process.env,
): ChildProcess {
  return spawn(
    process.execPath,
    [
      join(PROJECT_ROOT, 'cli', 'main.ts'),
      'sink',
      name,
      '--topics',
      topic,
      '--group',
      group,
      '--metrics-port',
      '0',
    ],
    {
      env: { CHATSTREAM_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
}

/** Resident memory of a process in bytes (0 once it is gone). */
export function rssOf(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}
