/**
 * Child processes for benchmarks: each in its own process group (so a case kills it and anything
 * it started by group id, never by name), its output captured, and its memory and CPU read from
 * /proc while it runs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../cli/settings.ts';
import { createLogger } from '../core/log.ts';
import { Stack } from '../stack/stack.ts';

export interface Child {
  process: ChildProcess;
  pid: number;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
}

const KEEP = 1 << 20;

/** Spawns `node <args>` detached (its own process group), stdout and stderr piped and kept (the last MiB). */
export function spawnNode(args: string[], env: NodeJS.ProcessEnv = process.env): Child {
  const child = spawn(process.execPath, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => {
    out = (out + d).slice(-KEEP);
  });
  child.stderr?.on('data', (d) => {
    err = (err + d).slice(-KEEP);
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once('close', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('error', (error) => resolve(error.message));
  });
  if (child.pid === undefined) throw new Error(`could not start node ${args.join(' ')}`);
  return { process: child, pid: child.pid, stdout: () => out, stderr: () => err, exited };
}

/** The child's first stdout line as JSON (the helpers under bench/children print their address so). */
export async function firstJsonLine<T>(child: Child, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => {
    exited = true;
  });
  for (;;) {
    const newline = child.stdout().indexOf('\n');
    if (newline >= 0) return JSON.parse(child.stdout().slice(0, newline)) as T;
    if (exited || Date.now() > deadline)
      throw new Error(
        `${exited ? 'exited' : 'did not answer'} before printing its address: ${child.stderr().slice(-500)}`,
      );
    await sleep(20);
  }
}

/** SIGTERM to the child's process group, SIGKILL after `graceMs`; resolves once it has exited. */
export async function killGroup(child: Child, graceMs = 5000): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid, name);
    } catch {
      // the group is gone already
    }
  };
  if (child.process.exitCode === null && child.process.signalCode === null) signal('SIGTERM');
  const done = await Promise.race([
    child.exited.then(() => true),
    sleep(graceMs, undefined, { ref: false }).then(() => false),
  ]);
  // Members of the group may outlive its leader: the KILL goes to the group either way.
  signal('SIGKILL');
  if (!done) await child.exited;
}

export interface ProcStats {
  /** Peak resident memory (VmHWM), bytes. */
  peakRss: number;
  /** User + system CPU time, seconds. */
  cpuSeconds: number;
}

/** VmHWM and CPU time of a live process (undefined once it is gone). */
export function procStats(pid: number): ProcStats | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    // /proc/<pid>/stat: fields after the ")" closing the command name; utime and stime are 14 and 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const peak = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    if (peak === undefined) return undefined; // a zombie: exited, not yet reaped
    return {
      peakRss: Number(peak) * 1024,
      cpuSeconds: ticks / 100, // USER_HZ is 100 on Linux
    };
  } catch {
    return undefined;
  }
}

/** Samples procStats every `everyMs` until stopped; `last` is the newest reading (VmHWM only grows). */
export function sampleProc(
  pid: number,
  everyMs = 50,
): { last: () => ProcStats | undefined; stop: () => void } {
  let last = procStats(pid);
  const timer = setInterval(() => {
    last = procStats(pid) ?? last;
  }, everyMs);
  return { last: () => last, stop: () => clearInterval(timer) };
}

export const mib = (bytes: number): string => `${Math.round(bytes / 1048576)} MiB`;

/** The stack's ClickHouse and Kafka processes: the 2 cores share them with what is measured. */
export async function servicePids(
  config: Config,
): Promise<Record<'clickhouse' | 'kafka', number | undefined>> {
  const services = await new Stack(config, createLogger('bench')).status(['clickhouse', 'kafka']);
  const pid = (name: string) => services.find((s) => s.name === name)?.pid;
  return { clickhouse: pid('clickhouse'), kafka: pid('kafka') };
}

/**
 * Starts a CPU meter over named processes; each call of the result gives the CPU seconds each
 * used since (undefined when a process could not be read, before or now).
 */
export function cpuMeter<K extends string>(
  pids: Record<K, number | undefined>,
): () => Record<K, number | undefined> {
  const cpuOf = (pid: number | undefined) => (pid === undefined ? undefined : procStats(pid)?.cpuSeconds);
  const names = Object.keys(pids) as K[];
  const before = new Map(names.map((name) => [name, cpuOf(pids[name])]));
  return () => {
    const used = {} as Record<K, number | undefined>;
    for (const name of names) {
      const [now, then] = [cpuOf(pids[name]), before.get(name)];
      used[name] = now === undefined || then === undefined ? undefined : now - then;
    }
    return used;
  };
}

/** CPU seconds as a note shows them ("?" when unknown). */
export const cpuText = (seconds: number | undefined): string =>
  seconds === undefined ? '?' : `${seconds.toFixed(1)} s`;
