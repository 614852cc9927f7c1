/**
 * The Pure Chat collector (`chatstream purechat collect`, its own process) under load next to
 * a bare node:http server that answers 204 to every POST (its own process too), in the same run:
 *
 *   (a)   bare server, 1-event bodies, closed loop — the ceiling of node:http and this generator
 *   (a10) bare server, 10-event bodies, closed loop
 *   (b)   collector, 1 event per request, closed loop: events/s against (a)
 *   (c)   collector, 10 events per request, closed loop: requests/s against (a) and (a10)
 *   (d)   collector paced at half of (a)'s request rate, 1 event per request: p99 from plan
 *   (e)   collector paced at half of (a10)'s request rate, 10 events per request
 *
 * The goal (issue 8): (b) ≥ 50 % of (a) and (c) ≥ 50 % of (a10), with p99 ≤ 20 ms at half the
 * bare server's rate — (d) and (e). In the closed-loop rows (a)–(c) both servers get the same
 * client: this process, one undici pool of CONNECTIONS keep-alive connections, no pipelining, the
 * same prepared bodies. Only the collector is paced.
 *
 * The paced rows offer a rate, so they must not cap how many requests are in flight: with 32
 * connections a server that answers in t ms can take at most 32 / t requests a millisecond, and
 * the rest wait in the generator's pool, counted as latency. The bare server (2–4 ms) never meets
 * that cap; the collector, which answers only once Kafka has acknowledged (p50 7–20 ms at 32
 * connections in the runs of the README), did. Browsers do not share a pool of 32: the paced
 * rows may open up to PACED_CONNECTIONS.
 *
 * Bodies are a browser's (protocol v1 `chat:start` events as `text/plain;charset=UTF-8`, with
 * Origin and User-Agent), every event with a fresh UUID: the collector skips ids it saw moments
 * ago, so reused ids would measure that shortcut. Every collector answer must be 200 and every
 * event accepted (not a duplicate); anything else is counted and shown as NOT OK.
 *
 * BENCH_CPU_PROF=<dir> runs the collector with --cpu-prof: its profile is written there on exit.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Config } from '../../cli/settings.ts';
import { createLogger } from '../../core/log.ts';
import { PROJECT_ROOT } from '../../core/settings.ts';
import { EVENTS_PATH } from '../../producers/purechat/collector.ts';
import { Stack } from '../../stack/stack.ts';
import { freePort } from '../../test/helpers/names.ts';
import {
  CONNECTIONS,
  closedLoop,
  cpuMeter,
  describe,
  type LoadRequest,
  type LoadResult,
  metricValue,
  openLoop,
  p99Of,
  waitHealthy,
} from '../http-load.ts';
import { benchPrefix, dropNamespace, namespaceEnv } from '../namespace.ts';
import { type Child, firstJsonLine, killGroup, mib, sampleProc, spawnNode } from '../processes.ts';
import type { BenchCase, BenchRow } from '../types.ts';

/** Requests per closed-loop run with single events, and with batches; the warm-up before each target. */
const SINGLE_REQUESTS = 20_000;
const BATCH = 10;
/** The bare server answers batches as fast as single events: as many requests, so its run is not a blip. */
const BARE_BATCH_REQUESTS = 20_000;
const BATCH_REQUESTS = 5_000;
const WARMUP = 5_000;
/** The open-loop runs: the collector at this share of the bare server's request rate, for this long. */
const STEADY_SHARE = 0.5;
const STEADY_SECONDS = 10;
/** Connections the paced rows may open (as many browsers); enough for 5,000 requests/s at 50 ms each. */
const PACED_CONNECTIONS = 256;
/** The goals: (b) at least this share of (a); the paced p99 at most this. */
const SHARE_GOAL = 50;
const P99_GOAL_MS = 20;

const WIDGET_ID = '9aa40980-a367-4eaf-9c09-d1b66ccaff57';
const PAGE_ORIGIN = 'https://www.example.com';
/** What fetch(…, {keepalive: true}) / sendBeacon with a string body send from a page. */
const HEADERS: Record<string, string> = {
  'content-type': 'text/plain;charset=UTF-8',
  origin: PAGE_ORIGIN,
  'user-agent':
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  accept: '*/*',
};

/** `count` requests of `perRequest` `chat:start` events from one visitor each; every event id fresh. */
export function eventRequests(count: number, perRequest: number): LoadRequest[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => {
    const visitorId = randomUUID();
    const sessionId = randomUUID();
    const events = Array.from({ length: perRequest }, (_, j) => ({
      id: randomUUID(),
      type: 'chat:start',
      widgetId: WIDGET_ID,
      occurredAt: new Date(now - (perRequest - j) * 1000).toISOString(),
      visitorId,
      sessionId,
      pageUrl: `${PAGE_ORIGIN}/pricing?plan=team&utm_source=google`,
      referrer: 'https://www.google.com/',
      args: {
        name: `Visitor ${i}`,
        email: `visitor${i}@example.com`,
        question: 'Hi, is there an annual plan?',
      },
    }));
    return { body: Buffer.from(JSON.stringify({ events })), headers: HEADERS };
  });
}

const perSecond = (n: number, seconds: number) => Math.round(n / seconds).toLocaleString('en-US');
const perProduce = (events: number, produces: number) => {
  const n = Math.round(events / produces);
  return `${n} event${n === 1 ? '' : 's'}`;
};
const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
const bytesOf = (list: LoadRequest[]) =>
  Math.round(list.reduce((n, r) => n + r.body.length, 0) / list.length);

/** The collector's counters, read from its own /metrics. */
async function counters(origin: string): Promise<{ accepted: number; duplicates: number; commits: number }> {
  const url = `${origin}/metrics`;
  const [accepted, duplicates, commits] = await Promise.all([
    metricValue(url, 'chatstream_purechat_events_total', { outcome: 'accepted' }),
    metricValue(url, 'chatstream_purechat_events_total', { outcome: 'duplicate' }),
    metricValue(url, 'chatstream_source_transactions_total', { source: 'purechat-collector' }),
  ]);
  return { accepted: accepted ?? 0, duplicates: duplicates ?? 0, commits: commits ?? 0 };
}

export const purechatCollector: BenchCase = {
  name: 'purechat-collector',
  async run(config: Config) {
    const rows: BenchRow[] = [];
    const prefix = benchPrefix('pcc');
    const kafkaPid = (await new Stack(config, createLogger('bench')).status(['kafka']))[0]?.pid;
    const children: Child[] = [];
    try {
      // The bare server: the ceiling of node:http and this load generator on this machine.
      const bare = spawnNode([join(PROJECT_ROOT, 'bench', 'children', 'bare-http.ts')]);
      children.push(bare);
      const bareUrl = (await firstJsonLine<{ url: string }>(bare)).url;
      // Both servers, and this load generator, warmed up alike (JIT, pool) before they are measured.
      await closedLoop(bareUrl, EVENTS_PATH, eventRequests(WARMUP, 1), 204);
      await closedLoop(bareUrl, EVENTS_PATH, eventRequests(WARMUP / BATCH, BATCH), 204);
      const bareRow = async (label: string, perRequest: number, count: number) => {
        const list = eventRequests(count, perRequest);
        const cpu = cpuMeter([['server', bare.pid]]);
        const result = await closedLoop(bareUrl, EVENTS_PATH, list, 204);
        rows.push({
          benchmark: `${label} bare node:http, ${perRequest}-event POST → 204, ${CONNECTIONS} connections`,
          records: result.ok * perRequest,
          seconds: result.seconds,
          note: describe(result, [
            `${perSecond(result.ok, result.seconds)} requests/s`,
            `${bytesOf(list)} B bodies`,
            cpu(),
          ]),
        });
        return result;
      };
      const ceiling = await bareRow('(a)', 1, SINGLE_REQUESTS);
      const ceiling10 = await bareRow('(a10)', BATCH, BARE_BATCH_REQUESTS);
      await killGroup(bare);
      const rateA = ceiling.ok / ceiling.seconds;
      const rateA10 = ceiling10.ok / ceiling10.seconds;

      // The collector, as users run it (the per-client rate limit off: one client sends it all).
      const port = await freePort();
      const collector = spawnNode(
        [
          ...(process.env.BENCH_CPU_PROF
            ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
            : []),
          join(PROJECT_ROOT, 'cli', 'main.ts'),
          'purechat',
          'collect',
        ],
        {
          ...process.env,
          ...namespaceEnv(prefix),
          CHATSTREAM_LOG_LEVEL: 'warn',
          CHATSTREAM_LOG_FORMAT: 'json',
          PURECHAT_PORT: String(port),
          PURECHAT_RATE_LIMIT_PER_MINUTE: '0',
          PURECHAT_ALLOWED_ORIGINS: PAGE_ORIGIN,
          PURECHAT_WIDGET_IDS: WIDGET_ID,
        },
      );
      children.push(collector);
      const origin = `http://127.0.0.1:${port}`;
      await waitHealthy(collector, `${origin}/healthz`, 'collector');
      const sampler = sampleProc(collector.pid);
      try {
        // Topics, schemas and the producer warmed up, for both body sizes.
        await closedLoop(origin, EVENTS_PATH, eventRequests(WARMUP, 1), 200);
        await closedLoop(origin, EVENTS_PATH, eventRequests(WARMUP / BATCH, BATCH), 200);

        /** One collector row: the load, then what its counters say about it. */
        const measure = async (
          label: string,
          perRequest: number,
          how: string,
          load: (list: LoadRequest[]) => Promise<LoadResult>,
          list: LoadRequest[],
          extra: (result: LoadResult, allOk: boolean) => (string | undefined)[],
          generator = true,
        ) => {
          const before = await counters(origin);
          const cpu = cpuMeter(
            [
              ['collector', collector.pid],
              ['Kafka', kafkaPid],
            ],
            generator,
          );
          const result = await load(list);
          const cpuNote = cpu();
          const after = await counters(origin);
          const events = result.ok * perRequest;
          const accepted = after.accepted - before.accepted;
          const duplicates = after.duplicates - before.duplicates;
          const commits = after.commits - before.commits;
          const allOk = result.ok === list.length && accepted === events && duplicates === 0;
          rows.push({
            benchmark: `${label} chatstream purechat collect, ${perRequest} event${perRequest > 1 ? 's' : ''}/request, ${how}`,
            records: events,
            seconds: result.seconds,
            note: describe(result, [
              accepted === events ? undefined : `NOT OK: ${accepted} events accepted of ${events}`,
              duplicates ? `NOT OK: ${duplicates} duplicates` : undefined,
              ...extra(result, allOk),
              commits > 0 ? `${commits} produces (${perProduce(events, commits)} each)` : undefined,
              cpuNote,
            ]),
          });
          return result;
        };
        const closed = (list: LoadRequest[]) => closedLoop(origin, EVENTS_PATH, list, 200);

        await measure(
          '(b)',
          1,
          `${CONNECTIONS} connections`,
          closed,
          eventRequests(SINGLE_REQUESTS, 1),
          (r, ok) => {
            const share = Math.round((100 * (r.ok / r.seconds)) / rateA);
            return [`${share}% of (a)`, `goal ≥ ${SHARE_GOAL} % of (a): ${met(ok && share >= SHARE_GOAL)}`];
          },
        );
        await measure(
          '(c)',
          BATCH,
          `${CONNECTIONS} connections`,
          closed,
          eventRequests(BATCH_REQUESTS, BATCH),
          (r, ok) => {
            const share = Math.round((100 * (r.ok / r.seconds)) / rateA10);
            return [
              `${perSecond(r.ok, r.seconds)} requests/s = ${share}% of (a10)`,
              `goal ≥ ${SHARE_GOAL} % of (a10): ${met(ok && share >= SHARE_GOAL)}`,
            ];
          },
        );

        // Open loop at half the bare server's request rate for the same bodies: the goal's latency.
        const paced = async (label: string, perRequest: number, bareRate: number, bareLabel: string) => {
          const rate = Math.max(1, Math.round(STEADY_SHARE * bareRate));
          const list = eventRequests(rate * STEADY_SECONDS, perRequest);
          await measure(
            label,
            perRequest,
            `paced at ${rate.toLocaleString('en-US')} requests/s, up to ${PACED_CONNECTIONS} connections`,
            (l) => openLoop(origin, EVENTS_PATH, l, rate, 200, PACED_CONNECTIONS),
            list,
            (r, ok) => [
              `${Math.round(STEADY_SHARE * 100)}% of ${bareLabel}, latency from the planned send time`,
              `goal p99 ≤ ${P99_GOAL_MS} ms: ${met(ok && p99Of(r) <= P99_GOAL_MS)}`,
              `peak RSS ${mib(sampler.last()?.peakRss ?? 0)}`,
            ],
            false,
          );
        };
        await paced('(d)', 1, rateA, '(a)');
        await paced('(e)', BATCH, rateA10, '(a10)');
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
