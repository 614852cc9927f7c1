/** `chatstream sink <name>`: run a sink consumer until stopped (SIGINT/SIGTERM flush and commit first). */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { Admin } from 'kafkajs';
import { SinkRunner } from '../../consumers/runner.ts';
import { SINKS, sinkByName } from '../../consumers/sinks/index.ts';
import { EXIT, UsageError } from '../../core/errors.ts';
import { serveMetrics } from '../../core/metrics.ts';
import { ensureTopics, topicName } from '../../kafka/topics.ts';
import { RECORD_KINDS } from '../../schemas/catalog.ts';
import type { Command } from '../command.ts';
import { capHeap, heapOf } from '../heap.ts';
import type { Config } from '../settings.ts';
import { stopSignals } from '../signals.ts';

export function sinkTopics(config: Config, flag?: string): string[] {
  const list = flag ?? config.sink.topics;
  if (list)
    return list
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
  return RECORD_KINDS.map((kind) => topicName(config, kind));
}

export const sinkCommand: Command = {
  path: ['sink'],
  argsUsage: '<name>',
  summary: `Run a sink consumer (${SINKS.map((s) => s.name).join(', ')}) until stopped; Prometheus metrics on /metrics.`,
  details:
    'Consumes the topics as group CHATSTREAM_SINK_GROUP (default chatstream-sink-<name>), writes batches, commits offsets\nonly after the sink confirmed them, and sends poison records to CHATSTREAM_SINK_DEAD_LETTER_TOPIC.',
  options: {
    topics: {
      type: 'string',
      description: 'Comma-separated topics (default: CHATSTREAM_SINK_TOPICS, else every chatstream topic).',
    },
    group: {
      type: 'string',
      description: 'Consumer group (default: CHATSTREAM_SINK_GROUP, else chatstream-sink-<name>).',
    },
    'metrics-port': {
      type: 'string',
      description: 'Port for /metrics (default: CHATSTREAM_SINK_METRICS_PORT); 0 picks a free one.',
    },
  },
  async run(ctx) {
    const name = ctx.args[0];
    if (!name) throw new UsageError('which sink?', `chatstream sink <${SINKS.map((s) => s.name).join('|')}>`);
    const definition = sinkByName(name);
    const heap = heapOf('sink', ctx.config);
    capHeap(heap.mib, heap.flags);
    const log = ctx.log.child(`sink.${name}`);
    const group =
      (ctx.flags.group as string | undefined) ?? ctx.config.sink.group ?? `chatstream-sink-${name}`;
    const topics = sinkTopics(ctx.config, ctx.flags.topics as string | undefined);
    const fromFlag = ctx.flags['metrics-port'] !== undefined;
    const port = fromFlag ? Number(ctx.flags['metrics-port']) : ctx.config.sink.metricsPort;
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new UsageError(`--metrics-port must be a port number, got "${ctx.flags['metrics-port']}"`);

    const runner = new SinkRunner({
      config: ctx.config,
      sink: definition.create({ config: ctx.config, log }),
      log,
      topics,
      group,
      // On the catalogue's topics, create the missing ones (with their settings) rather than
      // subscribing to topics that a producer has not created yet.
      ...(ctx.flags.topics || ctx.config.sink.topics
        ? {}
        : { createTopics: (admin: Admin) => ensureTopics(admin, ctx.config, RECORD_KINDS) }),
    });
    const server: Server = await serveMetrics(runner.metrics, {
      port,
      host: ctx.config.sink.metricsHost,
      setting: fromFlag ? '--metrics-port' : 'CHATSTREAM_SINK_METRICS_PORT',
      health: () => runner.health(),
    });
    const address = server.address();
    log.info('metrics', {
      url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}/metrics`,
    });
    // Ctrl-C / SIGTERM from here on: one during start-up ends the start at its next step (a
    // service that cannot be reached is not waited for), then stops; a second exits at once.
    const signals = stopSignals(log);
    signals.signal.addEventListener('abort', () => runner.interruptStart(), { once: true });
    try {
      try {
        await runner.start();
      } catch (error) {
        server.close(); // nothing may keep the process alive after a failed start
        if (signals.signal.aborted && (error as { code?: unknown }).code === 'INTERRUPTED') {
          log.info('stopped while starting', { during: (error as Error).message });
          return EXIT.ok;
        }
        throw error;
      }
      if (!signals.signal.aborted) await Promise.race([once(signals.signal, 'abort'), runner.failed]);
      log.info('stopping: finishing the batch in flight');
      await runner.stop();
      server.close();
      log.info('stopped');
      return EXIT.ok;
    } finally {
      signals.dispose();
    }
  },
};
