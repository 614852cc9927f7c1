/**
 * HTTP load for the benchmark cases that measure a server process (a receiver, a collector):
 * closed loop (one worker per keep-alive connection), open loop (paced, latency from the
 * planned send time), latency percentiles and the row note, waiting for /healthz, CPU seconds
 * of the processes involved, and a Prometheus counter read from a /metrics endpoint.
 */
import { Pool, request } from 'undici';
import { type Child, type ProcStats, procStats } from './processes.ts';

/** One prepared request: the exact body bytes and its headers. */
export interface LoadRequest {
  body: Buffer;
  headers: Record<string, string>;
}

export interface LoadResult {
  sent: number;
  ok: number;
  seconds: number;
  latenciesMs: number[];
  /** Status (-1 = no answer) → count, for answers that were not the expected one. */
  failures: Map<number, number>;
}

/** Connections of the load generator's pool unless a case asks for more. */
export const CONNECTIONS = 32;

const emptyResult = (): LoadResult => ({ sent: 0, ok: 0, seconds: 0, latenciesMs: [], failures: new Map() });

/** One POST; [0 or the unexpected status (-1: no answer), its latency in ms]. */
async function post(pool: Pool, path: string, r: LoadRequest, expect: number): Promise<[number, number]> {
  const started = process.hrtime.bigint();
  try {
    const response = await pool.request({ method: 'POST', path, headers: r.headers, body: r.body });
    await response.body.dump();
    return [
      response.statusCode === expect ? 0 : response.statusCode,
      Number(process.hrtime.bigint() - started) / 1e6,
    ];
  } catch {
    return [-1, Number(process.hrtime.bigint() - started) / 1e6];
  }
}

/** Closed loop: one worker per connection, each sending the next request once its last is answered. */
export async function closedLoop(
  origin: string,
  path: string,
  list: LoadRequest[],
  expect: number,
  connections = CONNECTIONS,
): Promise<LoadResult> {
  const pool = new Pool(origin, { connections, keepAliveTimeout: 30_000 });
  const result = emptyResult();
  let next = 0;
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < list.length) {
      const r = list[next++] as LoadRequest;
      result.sent++;
      const [failed, ms] = await post(pool, path, r, expect);
      if (failed === 0) {
        result.ok++;
        result.latenciesMs.push(ms);
      } else result.failures.set(failed, (result.failures.get(failed) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  result.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await pool.close();
  return result;
}

/**
 * Open loop: a request every 1/rate s whatever the answers (up to `connections` in flight, then
 * they queue in the pool); latency counts from the planned send time, so queueing shows.
 */
export async function openLoop(
  origin: string,
  path: string,
  list: LoadRequest[],
  rate: number,
  expect: number,
  connections = CONNECTIONS,
): Promise<LoadResult> {
  const pool = new Pool(origin, { connections, keepAliveTimeout: 30_000 });
  const result = emptyResult();
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < list.length; i++) {
    const planned = started + (i * 1000) / rate;
    const wait = planned - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    result.sent++;
    inFlight.push(
      post(pool, path, list[i] as LoadRequest, expect).then(([failed]) => {
        if (failed === 0) {
          result.ok++;
          result.latenciesMs.push(performance.now() - planned);
        } else result.failures.set(failed, (result.failures.get(failed) ?? 0) + 1);
      }),
    );
  }
  await Promise.all(inFlight);
  result.seconds = (performance.now() - started) / 1000;
  await pool.close();
  return result;
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** The p99 latency of a result, ms (NaN when nothing succeeded). */
export const p99Of = (result: LoadResult): number =>
  percentile(
    [...result.latenciesMs].sort((a, b) => a - b),
    99,
  );

/** "p50 …, p99 …[, NOT OK: …], extra…": the note of a load row. */
export function describe(result: LoadResult, extra: (string | undefined)[] = []): string {
  const sorted = [...result.latenciesMs].sort((a, b) => a - b);
  const failures = [...result.failures].map(([s, n]) => `${n}× ${s === -1 ? 'no answer' : s}`).join(', ');
  return [
    `p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms`,
    failures ? `NOT OK: ${failures}` : undefined,
    ...extra,
  ]
    .filter(Boolean)
    .join(', ');
}

/** Polls `url` until it answers 200; throws (with the child's stderr) when the child exits or time runs out. */
export async function waitHealthy(child: Child, url: string, what = 'receiver', timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await request(url).then(
      async (r) => {
        await r.body.dump();
        return r.statusCode === 200;
      },
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline || child.process.exitCode !== null)
      throw new Error(`${what} did not start: ${child.stderr().slice(-800)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** CPU seconds `pid` used since `before` ("?" when either reading is missing). */
export const cpuDelta = (pid: number | undefined, before: ProcStats | undefined): string => {
  const now = pid === undefined ? undefined : procStats(pid);
  return now && before ? `${(now.cpuSeconds - before.cpuSeconds).toFixed(1)} s` : '?';
};

/**
 * Starts measuring CPU of the named processes (and of this process, the load generator, when
 * `generator`); the returned function gives "CPU: name 1.2 s, …, load generator 0.9 s".
 */
export function cpuMeter(processes: [string, number | undefined][], generator = true): () => string {
  const before = processes.map(([, pid]) => (pid === undefined ? undefined : procStats(pid)));
  const mine = process.cpuUsage();
  return () => {
    const parts = processes.map(([name, pid], i) => `${name} ${cpuDelta(pid, before[i])}`);
    if (generator) {
      const used = process.cpuUsage(mine);
      parts.push(`load generator ${((used.user + used.system) / 1e6).toFixed(1)} s`);
    }
    return `CPU: ${parts.join(', ')}`;
  };
}

/**
 * The sum of the series of counter `name` whose labels include `labels`, read from a
 * Prometheus text endpoint (undefined when it does not answer or has no such series).
 */
export async function metricValue(
  url: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  try {
    const response = await request(url);
    const text = await response.body.text();
    const wanted = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
    let sum: number | undefined;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      const space = line.lastIndexOf(' ');
      const series = line.slice(0, space);
      if (wanted.every((label) => series.includes(`{${label}`) || series.includes(`,${label}`)))
        sum = (sum ?? 0) + Number(line.slice(space + 1));
    }
    return sum;
  } catch {
    return undefined;
  }
}
