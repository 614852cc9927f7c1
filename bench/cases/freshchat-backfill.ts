/**
 * `chatstream freshchat backfill` against the simulator (rate limit off), next to its ceiling:
 *   (a) a bare loop that makes exactly the poller's requests — same order, same paging, same
 *       number of connections — and only JSON.parses the bodies and counts the entities;
 *   then the real CLI (`bin/chatstream.js`, as users run it) as a child process, timed from
 *   spawn to exit, writing to Kafka.
 * Two worlds: the small one (≈ 19k records) where start-up weighs much, and a large one
 * (≈ 96k records) closer to a real account's backfill, where the per-record cost decides. The
 * bare loop and the CLI always walk the same world. The simulator runs in a process of its own (bench/children/freshchat-simulator.ts), so it
 * never shares an event loop with what is measured. Goal: chatstream ≥ 80 % of (a). The notes
 * say where the time went: the pass alone (start-up excluded), the Kafka transactions (from the
 * process's /metrics; commits are serial, so their total bounds the pass), peak RSS (VmHWM) and
 * CPU seconds of the CLI, the simulator and the broker (2 cores share all of them).
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { Config } from '../../cli/settings.ts';
import { PROJECT_ROOT } from '../../core/settings.ts';
import { freePort } from '../../test/helpers/names.ts';
import { bareWalk, floorWalk, RESOURCES, SINCE, type SimAddress } from '../freshchat-walks.ts';
import { benchPrefix, dropNamespace, namespaceEnv } from '../namespace.ts';
import {
  cpuMeter,
  cpuText,
  firstJsonLine,
  killGroup,
  mib,
  type ProcStats,
  sampleProc,
  servicePids,
  spawnNode,
} from '../processes.ts';
import type { BenchCase, BenchRow } from '../types.ts';

interface World {
  users: number;
  conversationsPerUser: number;
  messagesPerConversation: number;
}
/**
 * ≈ 19k records (300 users, 900 conversations, 18,000 messages, and the small lists) at both
 * concurrencies, and ≈ 96k (1,500 users) at 8.
 */
const WORLDS: { world: World; concurrencies: number[] }[] = [
  { world: { users: 300, conversationsPerUser: 3, messagesPerConversation: 20 }, concurrencies: [4, 8] },
  { world: { users: 1500, conversationsPerUser: 3, messagesPerConversation: 20 }, concurrencies: [8] },
];
/** A backfill still running after this is a failure (Kafka retries would otherwise wait forever). */
const TIMEOUT_MS = 300_000;
/** Whether this process has run the floor's produce path once, untimed. */
let floorWarm = false;

interface Backfill {
  records: number;
  seconds: number;
  passSeconds?: number;
  stats?: ProcStats;
  /** From its /metrics, scraped while it runs (the last scrape may miss the final commit). */
  transactions?: number;
  transactionSeconds?: number;
}

const metric = (text: string, name: string): number | undefined => {
  const match = new RegExp(`^${name}\\{source="freshchat"\\} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
};

/** The CLI from spawn to exit, in a fresh namespace; its records from its last stdout line. */
async function backfill(config: Config, sim: SimAddress, concurrency: number): Promise<Backfill> {
  const prefix = benchPrefix('fcbf');
  const metricsPort = await freePort();
  const child = spawnNode(
    [join(PROJECT_ROOT, 'bin', 'chatstream.js'), 'freshchat', 'backfill', '--since', SINCE.slice(0, 10)],
    {
      ...process.env,
      ...namespaceEnv(prefix),
      CHATSTREAM_LOG_LEVEL: 'info',
      CHATSTREAM_LOG_FORMAT: 'json',
      FRESHCHAT_BASE_URL: sim.url,
      FRESHCHAT_API_KEY: sim.apiKey,
      FRESHCHAT_RESOURCES: RESOURCES,
      FRESHCHAT_REQUESTS_PER_MINUTE: '1000000', // the setting's maximum: ~16,700 requests/s
      FRESHCHAT_CONCURRENCY: String(concurrency),
      FRESHCHAT_SINCE: SINCE,
      CHATSTREAM_PRODUCER_METRICS_PORT: String(metricsPort),
    },
  );
  const started = process.hrtime.bigint();
  const sampler = sampleProc(child.pid);
  let metrics = '';
  let running = true;
  const scraper = (async () => {
    while (running) {
      try {
        const response = await request(`http://127.0.0.1:${metricsPort}/metrics`);
        const text = await response.body.text();
        if (response.statusCode === 200) metrics = text;
      } catch {
        // not listening yet, or gone
      }
      await sleep(200);
    }
  })();
  try {
    const code = await Promise.race([
      child.exited,
      sleep(TIMEOUT_MS, undefined, { ref: false }).then(() => `no exit after ${TIMEOUT_MS / 1000} s`),
    ]);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    running = false;
    await scraper;
    if (code !== 0) throw new Error(`backfill exited ${code}: ${child.stderr().slice(-800)}`);
    const records = Number(/freshchat: (\d+) records written/.exec(child.stdout())?.[1] ?? Number.NaN);
    const pass = child
      .stderr()
      .split('\n')
      .filter((line) => line.includes('"pass done"'))
      .map((line) => JSON.parse(line) as { seconds?: number })
      .at(-1);
    return {
      records,
      seconds,
      passSeconds: pass?.seconds,
      stats: sampler.last(),
      transactions: metric(metrics, 'chatstream_source_transactions_total'),
      transactionSeconds: metric(metrics, 'chatstream_source_transaction_seconds_sum'),
    };
  } finally {
    running = false;
    sampler.stop();
    await killGroup(child);
    await dropNamespace(config, prefix);
  }
}

/** One simulated world: the bare loop and the CLI side by side at each concurrency. */
async function benchWorld(
  config: Config,
  world: World,
  concurrencies: number[],
  kafkaPid: number | undefined,
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const sim = spawnNode([
    join(PROJECT_ROOT, 'bench', 'children', 'freshchat-simulator.ts'),
    JSON.stringify({ seed: 1, initial: world }),
  ]);
  try {
    const address = await firstJsonLine<SimAddress>(sim);
    // Warm-up: the simulator's and this process's code paths (the floor's kafkajs produce
    // included) get compiled before any clock runs.
    await bareWalk(address.url, address.apiKey, 4);
    if (!floorWarm) {
      await floorWalk(config, address, 4, 'json');
      floorWarm = true;
    }
    for (const concurrency of concurrencies) {
      const simCpu = cpuMeter({ simulator: sim.pid });
      const cpu = process.cpuUsage();
      const started = process.hrtime.bigint();
      const walk = await bareWalk(address.url, address.apiKey, concurrency);
      const ceiling = Number(process.hrtime.bigint() - started) / 1e9;
      const own = process.cpuUsage(cpu);
      rows.push({
        benchmark: `(a) bare loop: GET + JSON.parse, ${concurrency} connections`,
        records: walk.records,
        seconds: ceiling,
        note: `${walk.requests} requests; CPU: loop ${((own.user + own.system) / 1e6).toFixed(1)} s, simulator ${cpuText(simCpu().simulator)}`,
      });

      for (const values of ['json', 'empty'] as const) {
        const floor = await floorWalk(config, address, concurrency, values, {
          simulator: sim.pid,
          kafka: kafkaPid,
        });
        rows.push({
          benchmark: `(f) floor: (a) + kafkajs produce, ${values === 'json' ? 'JSON' : 'empty'} values`,
          records: floor.walk.records,
          seconds: floor.seconds,
          note: `${Math.round((100 * ceiling) / floor.seconds)}% of (a), ${concurrency} connections, no transactions; CPU: loop ${cpuText(floor.cpu.loop)}, simulator ${cpuText(floor.cpu.simulator)}, Kafka ${cpuText(floor.cpu.kafka)}`,
        });
      }

      const meter = cpuMeter({ simulator: sim.pid, kafka: kafkaPid });
      const run = await backfill(config, address, concurrency);
      const used = meter();
      const rate = run.records / run.seconds;
      const share = Math.round((100 * rate) / (walk.records / ceiling));
      const { transactions: txns, transactionSeconds: txnSeconds } = run;
      const facts = [
        run.records === walk.records ? undefined : `NOT the ${walk.records} entities (a) counted`,
        `${share}% of (a)`,
        run.passSeconds === undefined
          ? undefined
          : `pass ${run.passSeconds} s (${Math.round((100 * ceiling) / run.passSeconds)}% of (a) without start-up)`,
        txns && txnSeconds !== undefined
          ? `${txns} transactions, ${((1000 * txnSeconds) / txns).toFixed(1)} ms each`
          : undefined,
        run.stats ? `peak RSS ${mib(run.stats.peakRss)}` : undefined,
        run.stats ? `CPU ${run.stats.cpuSeconds.toFixed(1)} s` : undefined,
        `simulator ${cpuText(used.simulator)}`,
        `Kafka ${cpuText(used.kafka)}`,
      ];
      rows.push({
        benchmark: `chatstream freshchat backfill, concurrency ${concurrency}`,
        records: run.records,
        seconds: run.seconds,
        note: facts.filter(Boolean).join(', '),
      });
    }
  } finally {
    await killGroup(sim);
  }
  return rows;
}

export const freshchatBackfill: BenchCase = {
  name: 'freshchat-backfill',
  async run(config) {
    const rows: BenchRow[] = [];
    // The broker's CPU time tells whether the 2 cores are shared out.
    const kafkaPid = (await servicePids(config)).kafka;
    // The CLI's compile cache (bin/chatstream.js) is filled once, as after a user's first run.
    await spawnNode([join(PROJECT_ROOT, 'bin', 'chatstream.js'), '--version']).exited;
    for (const { world, concurrencies } of WORLDS)
      rows.push(...(await benchWorld(config, world, concurrencies, kafkaPid)));
    return rows;
  },
};
