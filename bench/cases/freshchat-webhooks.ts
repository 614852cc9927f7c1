/**
 * The Freshchat webhook receiver (`chatstream freshchat webhooks`, its own process) under load
 * next to a bare node:http server that answers 204 to every POST (its own process too), in the
 * same run. The load generator is this process: an undici Pool of CONNECTIONS keep-alive
 * connections sending pre-signed `message_create` deliveries, each a distinct message id
 * (RSA-SHA256 over the exact body bytes, as Freshchat signs them). Every receiver answer must be
 * 200 — only then are the records in Kafka; anything else is counted and shown.
 */
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Pool, request } from 'undici';
import type { Config } from '../../cli/settings.ts';
import { createLogger } from '../../core/log.ts';
import { PROJECT_ROOT } from '../../core/settings.ts';
import { FreshchatSimulator } from '../../producers/freshchat/simulator/index.ts';
import { Stack } from '../../stack/stack.ts';
import { freePort } from '../../test/helpers/names.ts';
import { benchPrefix, dropNamespace, namespaceEnv } from '../namespace.ts';
import {
  type Child,
  firstJsonLine,
  killGroup,
  mib,
  type ProcStats,
  procStats,
  sampleProc,
  spawnNode,
} from '../processes.ts';
import type { BenchCase, BenchRow } from '../types.ts';

/** Deliveries per closed-loop run (each target gets all of them), and the warm-up before. */
const REQUESTS = 20_000;
const WARMUP = 1_000;
const CONNECTIONS = 32;
/** The receiver again with more connections: more deliveries wait together, larger group commits. */
const MORE_CONNECTIONS = 128;
/** The open-loop run: the receiver at this share of its own closed-loop rate, for this long. */
const STEADY_SHARE = 0.5;
const STEADY_SECONDS = 10;
const PATH = '/freshchat/webhooks';

interface Delivery {
  body: Buffer;
  signature: string;
}

interface LoadResult {
  sent: number;
  ok: number;
  seconds: number;
  latenciesMs: number[];
  /** Status (0 = no answer) → count, for answers that were not the expected one. */
  failures: Map<number, number>;
}

const signAsync = promisify(sign);

/** `message_create` deliveries built like the simulator's (payloadOf), each message with its own id. */
async function deliveries(count: number, key: KeyObject, tag: string): Promise<Delivery[]> {
  const sim = await FreshchatSimulator.start({ seed: 1 });
  const template = sim.snapshot().messages[0] as unknown as Record<string, unknown>;
  await sim.stop();
  const created = Date.parse(String(template.created_time));
  const bodies = Array.from({ length: count }, (_, i) => {
    const message: Record<string, unknown> = {
      ...template,
      id: `bench-${tag}-${i}`,
      created_time: new Date(created + i).toISOString(),
    };
    return Buffer.from(
      JSON.stringify({
        actor: { actor_type: message.actor_type, actor_id: message.actor_id },
        action: 'message_create',
        action_time: new Date(created + i + 1).toISOString(),
        data: { message },
      }),
    );
  });
  // Signing is ~0.7 ms each: the callback form spreads it over the libuv thread pool.
  const out: Delivery[] = [];
  for (let i = 0; i < bodies.length; i += 256) {
    const chunk = bodies.slice(i, i + 256);
    const signatures = await Promise.all(chunk.map((body) => signAsync('sha256', body, key)));
    chunk.forEach((body, j) => {
      out.push({ body, signature: (signatures[j] as Buffer).toString('base64') });
    });
  }
  return out;
}

const headersOf = (d: Delivery) => ({
  'content-type': 'application/json',
  'x-freshchat-payload-version': '1',
  'x-retry-count': '0',
  'x-freshchat-signature': d.signature,
});

/** One POST; its latency in ms, or a failure status (0 when there was no answer). */
async function post(pool: Pool, path: string, d: Delivery, expect: number): Promise<[number, number]> {
  const started = process.hrtime.bigint();
  try {
    const response = await pool.request({ method: 'POST', path, headers: headersOf(d), body: d.body });
    await response.body.dump();
    return [
      response.statusCode === expect ? 0 : response.statusCode,
      Number(process.hrtime.bigint() - started) / 1e6,
    ];
  } catch {
    return [-1, Number(process.hrtime.bigint() - started) / 1e6];
  }
}

/** Closed loop: one worker per connection, each sending the next delivery once its last is answered. */
async function closedLoop(
  origin: string,
  path: string,
  list: Delivery[],
  expect: number,
  connections = CONNECTIONS,
): Promise<LoadResult> {
  const pool = new Pool(origin, { connections, keepAliveTimeout: 30_000 });
  const result: LoadResult = { sent: 0, ok: 0, seconds: 0, latenciesMs: [], failures: new Map() };
  let next = 0;
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < list.length) {
      const d = list[next++] as Delivery;
      result.sent++;
      const [failed, ms] = await post(pool, path, d, expect);
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
 * Open loop: a delivery every 1/rate s whatever the answers (up to CONNECTIONS in flight, then
 * they queue in the pool); latency counts from the planned send time, so queueing shows.
 */
async function openLoop(
  origin: string,
  path: string,
  list: Delivery[],
  rate: number,
  expect: number,
): Promise<LoadResult> {
  const pool = new Pool(origin, { connections: CONNECTIONS, keepAliveTimeout: 30_000 });
  const result: LoadResult = { sent: 0, ok: 0, seconds: 0, latenciesMs: [], failures: new Map() };
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < list.length; i++) {
    const planned = started + (i * 1000) / rate;
    const wait = planned - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    result.sent++;
    inFlight.push(
      post(pool, path, list[i] as Delivery, expect).then(([failed]) => {
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

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function describe(result: LoadResult, extra: (string | undefined)[] = []): string {
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

async function waitHealthy(child: Child, url: string, timeoutMs = 60_000): Promise<void> {
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
      throw new Error(`receiver did not start: ${child.stderr().slice(-800)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const cpuDelta = (pid: number | undefined, before: ProcStats | undefined): string => {
  const now = pid === undefined ? undefined : procStats(pid);
  return now && before ? `${(now.cpuSeconds - before.cpuSeconds).toFixed(1)} s` : '?';
};

async function transactionsOf(metricsPort: number): Promise<number | undefined> {
  try {
    const response = await request(`http://127.0.0.1:${metricsPort}/metrics`);
    const text = await response.body.text();
    const match = /^chatstream_source_transactions_total\{source="freshchat-webhooks"\} (\S+)$/m.exec(text);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

export const freshchatWebhooks: BenchCase = {
  name: 'freshchat-webhooks',
  async run(config: Config) {
    const rows: BenchRow[] = [];
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const prefix = benchPrefix('fcwh');
    const kafkaPid = (await new Stack(config, createLogger('bench')).status(['kafka']))[0]?.pid;
    const children: Child[] = [];
    try {
      const warm = await deliveries(WARMUP, privateKey, `${prefix}-w`);
      const main = await deliveries(REQUESTS, privateKey, `${prefix}-m`);
      const bodyBytes = Math.round(main.reduce((n, d) => n + d.body.length, 0) / main.length);

      // The bare server: the ceiling of node:http and this load generator on this machine.
      const bare = spawnNode([join(PROJECT_ROOT, 'bench', 'children', 'bare-http.ts')]);
      children.push(bare);
      const bareUrl = (await firstJsonLine<{ url: string }>(bare)).url;
      await closedLoop(bareUrl, PATH, warm, 204);
      let cpu = procStats(bare.pid);
      const own = process.cpuUsage();
      const ceiling = await closedLoop(bareUrl, PATH, main, 204);
      const gen = process.cpuUsage(own);
      rows.push({
        benchmark: `(a) bare node:http, POST → 204, ${CONNECTIONS} connections`,
        records: ceiling.ok,
        seconds: ceiling.seconds,
        note: describe(ceiling, [
          `${bodyBytes} B bodies`,
          `CPU: server ${cpuDelta(bare.pid, cpu)}, load generator ${((gen.user + gen.system) / 1e6).toFixed(1)} s`,
        ]),
      });
      await killGroup(bare);

      // The receiver, as users run it.
      const port = await freePort();
      const metricsPort = await freePort();
      const receiver = spawnNode([join(PROJECT_ROOT, 'cli', 'main.ts'), 'freshchat', 'webhooks'], {
        ...process.env,
        ...namespaceEnv(prefix),
        CHATSTREAM_LOG_LEVEL: 'warn',
        CHATSTREAM_LOG_FORMAT: 'json',
        CHATSTREAM_PRODUCER_METRICS_PORT: String(metricsPort),
        FRESHCHAT_WEBHOOK_PORT: String(port),
        FRESHCHAT_WEBHOOK_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      });
      children.push(receiver);
      const origin = `http://127.0.0.1:${port}`;
      await waitHealthy(receiver, `${origin}/healthz`);
      const sampler = sampleProc(receiver.pid);
      try {
        await closedLoop(origin, PATH, warm, 200); // topics, schemas and producer warmed up
        const closed = async (list: Delivery[], connections: number) => {
          const txnsBefore = await transactionsOf(metricsPort);
          const receiverCpu = procStats(receiver.pid);
          const kafkaCpu = kafkaPid === undefined ? undefined : procStats(kafkaPid);
          const mine = process.cpuUsage();
          const result = await closedLoop(origin, PATH, list, 200, connections);
          const generator = process.cpuUsage(mine);
          const txnsAfter = await transactionsOf(metricsPort);
          const txns = txnsAfter === undefined || txnsBefore === undefined ? 0 : txnsAfter - txnsBefore;
          const share = Math.round((100 * (result.ok / result.seconds)) / (ceiling.ok / ceiling.seconds));
          rows.push({
            benchmark: `chatstream freshchat webhooks, ${connections} connections`,
            records: result.ok,
            seconds: result.seconds,
            note: describe(result, [
              connections === CONNECTIONS ? `${share}% of (a)` : undefined,
              txns > 0 ? `${txns} transactions (${Math.round(result.ok / txns)} requests each)` : undefined,
              `CPU: receiver ${cpuDelta(receiver.pid, receiverCpu)}, Kafka ${cpuDelta(kafkaPid, kafkaCpu)}, load generator ${((generator.user + generator.system) / 1e6).toFixed(1)} s`,
            ]),
          });
          return result;
        };
        const loaded = await closed(main, CONNECTIONS);

        // Open loop at half its own closed-loop rate: latency when it is not saturated.
        const rate = Math.max(1, Math.round(STEADY_SHARE * (loaded.ok / loaded.seconds)));
        const steady = await deliveries(rate * STEADY_SECONDS, privateKey, `${prefix}-s`);
        cpu = procStats(receiver.pid);
        const kafkaCpu = kafkaPid === undefined ? undefined : procStats(kafkaPid);
        const paced = await openLoop(origin, PATH, steady, rate, 200);
        rows.push({
          benchmark: `chatstream freshchat webhooks, paced at ${rate}/s`,
          records: paced.ok,
          seconds: paced.seconds,
          note: describe(paced, [
            `${Math.round(STEADY_SHARE * 100)}% of its own max, latency from the planned send time`,
            `peak RSS ${mib(sampler.last()?.peakRss ?? 0)}`,
            `CPU: receiver ${cpuDelta(receiver.pid, cpu)}, Kafka ${cpuDelta(kafkaPid, kafkaCpu)}`,
          ]),
        });

        // More connections, so more deliveries wait for the same commit.
        await closed(await deliveries(REQUESTS, privateKey, `${prefix}-c`), MORE_CONNECTIONS);
      } finally {
        sampler.stop();
      }
    } finally {
      for (const child of children) await killGroup(child);
      await dropNamespace(config, prefix);
    }
    return rows;
  },
};
