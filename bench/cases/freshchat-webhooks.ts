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
import type { Config } from '../../cli/settings.ts';
import { createLogger } from '../../core/log.ts';
import { PROJECT_ROOT } from '../../core/settings.ts';
import { FreshchatSimulator } from '../../producers/freshchat/simulator/index.ts';
import { Stack } from '../../stack/stack.ts';
import { freePort } from '../../test/helpers/names.ts';
import {
  CONNECTIONS,
  closedLoop,
  cpuMeter,
  describe,
  type LoadRequest,
  metricValue,
  openLoop,
  waitHealthy,
} from '../http-load.ts';
import { benchPrefix, dropNamespace, namespaceEnv } from '../namespace.ts';
import { type Child, firstJsonLine, killGroup, mib, sampleProc, spawnNode } from '../processes.ts';
import type { BenchCase, BenchRow } from '../types.ts';

/** Deliveries per closed-loop run (each target gets all of them), and the warm-up before. */
const REQUESTS = 20_000;
const WARMUP = 1_000;
/** The receiver again with more connections: more deliveries wait together, larger group commits. */
const MORE_CONNECTIONS = 128;
/** The open-loop run: the receiver at this share of its own closed-loop rate, for this long. */
const STEADY_SHARE = 0.5;
const STEADY_SECONDS = 10;
const PATH = '/freshchat/webhooks';

const signAsync = promisify(sign);

/** `message_create` deliveries built like the simulator's (payloadOf), each message with its own id. */
async function deliveries(count: number, key: KeyObject, tag: string): Promise<LoadRequest[]> {
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
  const out: LoadRequest[] = [];
  for (let i = 0; i < bodies.length; i += 256) {
    const chunk = bodies.slice(i, i + 256);
    const signatures = await Promise.all(chunk.map((body) => signAsync('sha256', body, key)));
    chunk.forEach((body, j) => {
      out.push({
        body,
        headers: {
          'content-type': 'application/json',
          'x-freshchat-payload-version': '1',
          'x-retry-count': '0',
          'x-freshchat-signature': (signatures[j] as Buffer).toString('base64'),
        },
      });
    });
  }
  return out;
}

const transactionsOf = (metricsPort: number): Promise<number | undefined> =>
  metricValue(`http://127.0.0.1:${metricsPort}/metrics`, 'chatstream_source_transactions_total', {
    source: 'freshchat-webhooks',
  });

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
      const bareCpu = cpuMeter([['server', bare.pid]]);
      const ceiling = await closedLoop(bareUrl, PATH, main, 204);
      rows.push({
        benchmark: `(a) bare node:http, POST → 204, ${CONNECTIONS} connections`,
        records: ceiling.ok,
        seconds: ceiling.seconds,
        note: describe(ceiling, [`${bodyBytes} B bodies`, bareCpu()]),
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
        const closed = async (list: LoadRequest[], connections: number) => {
          const txnsBefore = await transactionsOf(metricsPort);
          const cpu = cpuMeter([
            ['receiver', receiver.pid],
            ['Kafka', kafkaPid],
          ]);
          const result = await closedLoop(origin, PATH, list, 200, connections);
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
              cpu(),
            ]),
          });
          return result;
        };
        const loaded = await closed(main, CONNECTIONS);

        // Open loop at half its own closed-loop rate: latency when it is not saturated.
        const rate = Math.max(1, Math.round(STEADY_SHARE * (loaded.ok / loaded.seconds)));
        const steady = await deliveries(rate * STEADY_SECONDS, privateKey, `${prefix}-s`);
        const cpu = cpuMeter(
          [
            ['receiver', receiver.pid],
            ['Kafka', kafkaPid],
          ],
          false,
        );
        const paced = await openLoop(origin, PATH, steady, rate, 200);
        rows.push({
          benchmark: `chatstream freshchat webhooks, paced at ${rate}/s`,
          records: paced.ok,
          seconds: paced.seconds,
          note: describe(paced, [
            `${Math.round(STEADY_SHARE * 100)}% of its own max, latency from the planned send time`,
            `peak RSS ${mib(sampler.last()?.peakRss ?? 0)}`,
            cpu(),
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
