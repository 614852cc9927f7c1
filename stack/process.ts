/**
 * Processes the local stack starts and stops: detached children with a pid file each.
 *
 * A pid file records the pid and a `marker` — a string that appears in the process's command
 * line and is unique to this stack (its config file path). A process counts as ours only when
 * both match, so a recycled pid is never signalled, and nothing is ever stopped by name.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface PidRecord {
  pid: number;
  marker: string;
  startedAt: string;
}

export function readPidFile(path: string): PidRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(path, 'utf8')) as PidRecord;
    return Number.isInteger(record.pid) && typeof record.marker === 'string' ? record : undefined;
  } catch {
    return undefined;
  }
}

/** The command line of a live process, or undefined when there is none (Linux /proc). */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** True when the pid file names a live process whose command line carries the marker. */
export function isRunning(record: PidRecord | undefined): record is PidRecord {
  if (!record) return false;
  const cmd = commandLine(record.pid);
  return cmd?.includes(record.marker) === true && !isZombie(record.pid);
}

export interface StartOptions {
  command: string;
  args: string[];
  logFile: string;
  pidFile: string;
  marker: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this user and group (when we are root and the program refuses root). */
  uid?: number;
  gid?: number;
}

/**
 * Starts a detached process (its own session) writing stdout and stderr to logFile. Resolves
 * once the process runs the command (its command line carries the marker: until exec, a
 * fresh child still shows its parent's), or rejects if it ends before that.
 */
export async function startDetached(options: StartOptions): Promise<PidRecord> {
  const record = spawnDetached(options);
  const { pid } = record;
  const deadline = Date.now() + 10_000;
  while (!isRunning(record)) {
    if (commandLine(pid) === undefined || isZombie(pid) || Date.now() > deadline) {
      throw new Error(`${options.command} ended right after it started; see ${options.logFile}`);
    }
    await sleep(5);
  }
  return record;
}

function spawnDetached(options: StartOptions): PidRecord {
  mkdirSync(dirname(options.logFile), { recursive: true });
  mkdirSync(dirname(options.pidFile), { recursive: true });
  const fd = openSync(options.logFile, 'a');
  try {
    const child = spawn(options.command, options.args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: options.env ?? process.env,
      cwd: options.cwd,
      ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid }),
    });
    // A missing binary surfaces as an async 'error'; callers check for it before starting.
    child.on('error', () => {});
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${options.command}`);
    const record: PidRecord = { pid: child.pid, marker: options.marker, startedAt: new Date().toISOString() };
    writeFileSync(options.pidFile, `${JSON.stringify(record)}\n`);
    return record;
  } finally {
    closeSync(fd);
  }
}

/**
 * Stops the process a pid file names, if it is ours: its stop signal, then SIGKILL after graceMs.
 * Removes the pid file. Returns whether a process was stopped.
 */
export async function stopProcess(
  pidFile: string,
  graceMs: number,
  stopSignal: NodeJS.Signals = 'SIGTERM',
): Promise<boolean> {
  const record = readPidFile(pidFile);
  if (!isRunning(record)) {
    rmSync(pidFile, { force: true });
    return false;
  }
  signal(record.pid, stopSignal);
  const deadline = Date.now() + graceMs;
  while (isRunning(record) && Date.now() < deadline) await sleep(100);
  if (isRunning(record)) {
    signal(record.pid, 'SIGKILL');
    while (isRunning(record)) await sleep(50);
  }
  rmSync(pidFile, { force: true });
  return true;
}

/** Signals the process's group (it leads one: it was started detached), else the process. */
function signal(pid: number, name: NodeJS.Signals): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, name);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}

/** True when nothing listens on host:port (we can bind it ourselves). */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Resolves a command on PATH (or checks an explicit path); undefined when it is not there. */
export function which(command: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (command.includes('/')) return existsSync(command) ? command : undefined;
  const found = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', command], { env, encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path.startsWith('/') ? path : undefined;
}

/** The last `lines` lines of a file, reading at most its last 64 KiB ('' when it does not exist, or for 0 lines). */
export function tail(path: string, lines: number): string {
  if (lines <= 0) return ''; // slice(-0) would be the whole text
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return buffer.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
