/**
 * `chatstream start` (what `npm start` runs): bring the local stack up, create the topics,
 * register the schemas, run the ClickHouse sink, print what runs where, and supervise until
 * interrupted.
 */
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapStatistics } from 'node:v8';
import { readRegistries } from '../../analytics/health.ts';
import { runDashboard } from '../../analytics/service.ts';
import { SinkRunner } from '../../consumers/runner.ts';
import { clickhouseSink } from '../../consumers/sinks/clickhouse/index.ts';
import { EXIT, isChatstreamError } from '../../core/errors.ts';
import { serveMetrics } from '../../core/metrics.ts';
import { displayUrl } from '../../core/url.ts';
import { withAdmin } from '../../kafka/client.ts';
import { ensureTopics } from '../../kafka/topics.ts';
import { startCollector } from '../../producers/purechat/service.ts';
import { RECORD_KINDS } from '../../schemas/catalog.ts';
import { registerAll } from '../../schemas/register.ts';
import { Stack } from '../../stack/stack.ts';
import type { Command, Context } from '../command.ts';
import { capHeap, heapOf } from '../heap.ts';
import { startFreshchat } from '../pipeline/freshchat.ts';
import { serveProducerMetrics } from '../pipeline/producer-metrics.ts';
import { type StopSignals, stopSignals } from '../signals.ts';
import { sinkTopics } from './sink.ts';
import { statusTable } from './stack.ts';

const HEALTH_INTERVAL_MS = 15_000;
const SHUTDOWN_GRACE_MS = 20_000;

function metricsUrl(server: import('node:http').Server): string {
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : '?'}`;
}

export const startCommand: Command = {
  path: ['start'],
  summary: 'Run the whole pipeline on the local stack (starting the stack first) until Ctrl-C.',
  details:
    'Creates the topics, registers the schemas, runs the ClickHouse sink, the Freshchat producer (the poller and the\nwebhook receiver, against the simulator when FRESHCHAT_API_KEY is unset) and the Pure Chat collector with its\ndemo page, and the dashboard. The stack keeps running after the\npipeline stops; "chatstream stack down" stops it.',
  options: {
    'no-stack': {
      type: 'boolean',
      description: 'Do not manage the local stack (services run elsewhere, e.g. docker-compose).',
    },
    once: {
      type: 'boolean',
      description: 'Start everything, print the table and exit instead of supervising.',
    },
  },
  async run(ctx) {
    const { config, log } = ctx;
    // The sink runs in this process: cap the heap as `chatstream sink` does, plus an allowance
    // for the sources and the dashboard, so the memory bound holds here (and in the container).
    const heap = heapOf('start', config);
    capHeap(heap.mib, heap.flags);
    // From here on Ctrl-C / SIGTERM stop gracefully: one that arrives while the parts start
    // lets them finish starting, then stops them all (a second one exits at once).
    const signals = stopSignals(log);
    try {
      return await runPipeline(ctx, signals);
    } finally {
      signals.dispose();
    }
  },
};

/** Starts every part, then supervises until a stop signal or a part fails; stops them all. */
async function runPipeline(ctx: Context, signals: StopSignals): Promise<number> {
  const { config, log } = ctx;
  log.info('heap capped', { heapLimitMiB: Math.round(getHeapStatistics().heap_size_limit / 2 ** 20) });
  const stack = new Stack(config, log.child('stack'));
  const statuses = ctx.flags['no-stack'] ? [] : await stack.up();
  if (statuses.length > 0) ctx.out(statusTable(statuses));
  const created = await withAdmin(config, (admin) => ensureTopics(admin, config, RECORD_KINDS));
  const subjects = await registerAll(config);
  log.info('topics and schemas ready', { createdTopics: created.length, subjects: subjects.length });

  const sinkLog = log.child('sink.clickhouse');
  const runner = new SinkRunner({
    config,
    sink: clickhouseSink.create({ config, log: sinkLog }),
    log: sinkLog,
    topics: sinkTopics(config),
    group: config.sink.group ?? 'chatstream-sink-clickhouse',
    onFatal: () => {}, // runner.failed stops the pipeline gracefully below
  });
  // What has started is stopped again if a later part cannot start (a port taken, …), so
  // the process ends with the error instead of running half a pipeline.
  const started: (() => Promise<unknown>)[] = [];
  const startOrUndo = async <T>(start: () => Promise<T>, stop: (it: T) => Promise<unknown>): Promise<T> => {
    try {
      const it = await start();
      started.unshift(() => stop(it));
      return it;
    } catch (error) {
      for (const undo of started) await undo().catch(() => undefined);
      throw error;
    }
  };
  const metrics = await startOrUndo(
    () =>
      serveMetrics(runner.metrics, {
        port: config.sink.metricsPort,
        host: config.sink.metricsHost,
        setting: 'CHATSTREAM_SINK_METRICS_PORT',
        health: () => runner.health(),
      }),
    async (server) => server.close(),
  );
  await startOrUndo(
    () => runner.start(),
    () => runner.stop(),
  );
  const { registry: producerMetrics, server: producerServer } = await startOrUndo(
    () => serveProducerMetrics(config),
    async ({ server }) => server.close(),
  );
  const freshchat = await startOrUndo(
    () => startFreshchat({ config, log: log.child('freshchat'), metrics: producerMetrics }),
    (f) => f.stop(),
  );
  const purechat = await startOrUndo(
    () => startCollector({ config, log: log.child('purechat'), metrics: producerMetrics, demo: true }),
    (c) => c.close(),
  );
  const dashboard = await startOrUndo(
    () =>
      runDashboard({
        config,
        log: log.child('dashboard'),
        metrics: readRegistries([runner.metrics, producerMetrics]),
      }),
    (d) => d.close(),
  );

  const rows: [string, string][] = [
    ['Kafka', config.kafka.brokers.join(',')],
    ['Schema registry', displayUrl(config.schemaRegistry.url)],
    [
      'ClickHouse',
      `${displayUrl(config.clickhouse.url)} (database ${config.clickhouse.database}; query the <topic>_dedup views)`,
    ],
    [
      'Topics',
      `${RECORD_KINDS.length} (${created.length} created now); schemas registered for ${subjects.length} subjects`,
    ],
    ...freshchat.endpoints,
    ['Pure Chat collector', `${purechat.eventsUrl} (snippet ${purechat.snippetUrl})`],
    ...(purechat.demoUrl
      ? [
          ['Pure Chat demo', `${purechat.demoUrl}?autoplay=1 (open it: a fake widget plays chats)`] as [
            string,
            string,
          ],
        ]
      : []),
    ['Dashboard', `${dashboard.url}/ (live analytics and pipeline health)`],
    ['Sink metrics', `${metricsUrl(metrics)}/metrics`],
    ['Producer metrics', `${metricsUrl(producerServer)}/metrics`],
  ];
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  ctx.out('');
  for (const [name, value] of rows) ctx.out(`${`${name}:`.padEnd(width)}${value}`);

  let stopped = false;
  const shutdown = async () => {
    if (stopped) return;
    stopped = true;
    // Whatever still holds the event loop after this (a client reconnecting to a service
    // that went away) must not keep the process alive: exit when the grace is over — with
    // 130 when the stop itself did not finish, else with the command's own code.
    let finished = false;
    setTimeout(() => {
      if (finished) {
        log.warn(
          `stopped, but something still held the process ${SHUTDOWN_GRACE_MS / 1000} s later; exiting`,
        );
        process.exit(process.exitCode ?? EXIT.ok);
      }
      log.error(`the stop did not finish within ${SHUTDOWN_GRACE_MS / 1000} s; exiting`);
      process.exit(process.exitCode || EXIT.interrupted);
    }, SHUTDOWN_GRACE_MS).unref();
    // Each part stops on its own: one hanging on a service that went away does not hold the others.
    const parts = ['Freshchat producer', 'Pure Chat collector', 'ClickHouse sink', 'dashboard'];
    const results = await Promise.allSettled([
      freshchat.stop(),
      purechat.close(),
      runner.stop(),
      dashboard.close(),
    ]);
    results.forEach((result, i) => {
      if (result.status === 'rejected')
        log.error(`the ${parts[i]} did not stop cleanly`, { error: (result.reason as Error)?.message });
    });
    metrics.close();
    producerServer.close();
    finished = true;
  };
  if (ctx.flags.once) {
    await shutdown();
    return EXIT.ok;
  }
  ctx.out('Pipeline running; Ctrl-C stops it (the stack stays up; "chatstream stack down" stops that).');

  const stop = new AbortController();
  if (signals.signal.aborted) stop.abort(); // a signal arrived while the parts were starting
  signals.signal.addEventListener('abort', () => stop.abort(), { once: true });
  let failure: unknown;
  const stopOn = (source: string) => (error: unknown) => {
    failure ??= error;
    // Also for the forced exit, should the shutdown take longer than its grace.
    process.exitCode = isChatstreamError(error) ? error.exitCode : EXIT.internal;
    log.error(`the ${source} stopped`, { error: (error as Error).message });
    stop.abort();
  };
  runner.failed.catch(stopOn('ClickHouse sink'));
  freshchat.done.catch(stopOn('Freshchat producer'));
  purechat.failed.catch(stopOn('Pure Chat collector'));
  let unhealthy = new Set<string>();
  // One listener for the whole loop; the sleep ends with the stop too.
  const stopRequested = once(stop.signal, 'abort').then(() => undefined);
  while (!stop.signal.aborted) {
    await sleep(HEALTH_INTERVAL_MS, undefined, { signal: stop.signal }).catch(() => undefined);
    if (stop.signal.aborted || ctx.flags['no-stack']) continue;
    // A service that hangs (accepts, never answers) must not hold up a stop.
    const statuses = await Promise.race([stack.status(), stopRequested]);
    if (statuses === undefined) continue;
    const now = new Set(statuses.filter((s) => s.state !== 'running').map((s) => s.name));
    for (const name of now)
      if (!unhealthy.has(name)) log.warn(`${name} is not healthy`, { see: 'chatstream stack status' });
    for (const name of unhealthy) if (!now.has(name)) log.info(`${name} is healthy again`);
    unhealthy = now;
  }
  await shutdown();
  log.info('pipeline stopped');
  if (failure !== undefined) throw failure;
  return EXIT.ok;
}
