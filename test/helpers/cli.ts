/** Runs the real `chatstream` CLI in a child process, as a user or script would. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROJECT_ROOT } from '../../core/settings.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 240_000,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'cli', 'main.ts'), ...args], {
      env,
      timeout: timeoutMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface CliProcess {
  child: ChildProcess;
  /** Resolves with the exit code when the process has ended. */
  exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
  /** Signals the process group (never by name) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts the real CLI in the background, in its own process group, capturing its output. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv): CliProcess {
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'cli', 'main.ts'), ...args], {
    env,
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-(child.pid as number), signal);
        } catch {
          // already gone
        }
      }
      return exited;
    },
  };
}

/**
 * Signals the process (group) and waits at most `ms` for its exit: its exit code, or "still
 * running" (the caller's `finally` kills it).
 */
export async function exitWithin(
  cli: CliProcess,
  signal: NodeJS.Signals,
  ms: number,
): Promise<number | null | 'still running'> {
  return Promise.race([
    cli.stop(signal),
    sleep(ms, undefined, { ref: false }).then(() => 'still running' as const),
  ]);
}
