import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  isPortFree,
  isRunning,
  readPidFile,
  startDetached,
  stopProcess,
  tail,
  which,
} from '../../stack/process.ts';

const dir = mkdtempSync(join(tmpdir(), 'proc-'));

/** Live processes in a process group (field 5 of /proc/<pid>/stat). */
function groupMembers(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(fields[2]) === pgid && fields[0] !== 'Z';
      } catch {
        return false;
      }
    })
    .map(Number);
}

test('a detached process is tracked by pid file and marker, and stopped by it', async () => {
  const marker = join(dir, 'marker-a');
  const pidFile = join(dir, 'run', 'a.pid');
  const record = await startDetached({
    command: 'sh',
    args: ['-c', 'echo started; sleep 60; true', marker],
    logFile: join(dir, 'logs', 'a.log'),
    pidFile,
    marker,
  });
  assert.ok(isRunning(readPidFile(pidFile)));
  assert.equal(readPidFile(pidFile)?.pid, record.pid);
  assert.equal(await stopProcess(pidFile, 5000), true);
  assert.equal(isRunning(record), false);
  assert.deepEqual(groupMembers(record.pid), [], 'its child (sleep) was stopped with it');
  assert.equal(existsSync(pidFile), false);
  assert.equal(await stopProcess(pidFile, 5000), false, 'stopping twice is harmless');
});

test('a pid file whose process does not carry the marker is never signalled', async () => {
  const pidFile = join(dir, 'other.pid');
  // Our own test process is alive, but it is not the process the marker names.
  writeFileSync(pidFile, JSON.stringify({ pid: process.pid, marker: '/no/such/marker', startedAt: '' }));
  assert.equal(isRunning(readPidFile(pidFile)), false);
  assert.equal(await stopProcess(pidFile, 100), false);
  assert.equal(readPidFile(join(dir, 'missing.pid')), undefined);
});

test('a SIGTERM-ignoring process is killed after the grace period', async () => {
  const marker = join(dir, 'marker-stubborn');
  const pidFile = join(dir, 'stubborn.pid');
  const logFile = join(dir, 's.log');
  await startDetached({
    command: 'sh',
    args: ['-c', 'trap "" TERM; echo trapped; while :; do sleep 0.1; done', marker],
    logFile,
    pidFile,
    marker,
  });
  while (!tail(logFile, 1).includes('trapped')) await new Promise((resolve) => setTimeout(resolve, 20));
  const started = Date.now();
  assert.equal(await stopProcess(pidFile, 300), true);
  assert.ok(Date.now() - started >= 300);
});

test('port probe tells a taken port from a free one', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  assert.equal(await isPortFree(port), false);
  await new Promise((resolve) => server.close(resolve));
  assert.equal(await isPortFree(port), true);
});

test('which finds programs on PATH and checks explicit paths; tail returns the last lines', () => {
  assert.match(which('sh') ?? '', /\/sh$/);
  assert.equal(which('no-such-program-xyz'), undefined);
  assert.equal(which('/no/such/file'), undefined);
  const file = join(dir, 't.log');
  writeFileSync(file, 'a\nb\nc\nd\n');
  assert.equal(tail(file, 2), 'c\nd');
  assert.equal(tail(join(dir, 'none.log'), 2), '');
});
