/**
 * `chatstream start` (what `npm start` runs): bring the local stack up, start every pipeline
 * component that exists, print what runs where, and supervise until interrupted.
 */
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT } from '../../core/errors.ts';
import { withAdmin } from '../../kafka/client.ts';
import { ensureTopics } from '../../kafka/topics.ts';
import { RECORD_KINDS } from '../../schemas/catalog.ts';
import { registerAll } from '../../schemas/register.ts';
import { Stack } from '../../stack/stack.ts';
import type { Command } from '../command.ts';
import { statusTable } from './stack.ts';

const HEALTH_INTERVAL_MS = 15_000;

export const startCommand: Command = {
  path: ['start'],
  summary: 'Run the whole pipeline on the local stack (starting the stack first) until Ctrl-C.',
  details:
    'The stack keeps running after the pipeline stops; "chatstream stack down" stops it.\nCreates the topics and registers the schemas. Pipeline components join as they land: Freshchat (simulator when\nno API key), sinks, dashboard.',
  options: {
    'no-stack': {
      type: 'boolean',
      description: 'Do not manage the local stack (services run elsewhere, e.g. docker-compose).',
    },
    once: { type: 'boolean', description: 'Start, print the table and exit instead of supervising.' },
  },
  async run(ctx) {
    const stack = new Stack(ctx.config, ctx.log.child('stack'));
    const statuses = ctx.flags['no-stack'] ? [] : await stack.up();
    ctx.out(statusTable(statuses));
    const created = await withAdmin(ctx.config, (admin) => ensureTopics(admin, ctx.config));
    const subjects = await registerAll(ctx.config);
    ctx.log.info('topics and schemas ready', { createdTopics: created.length, subjects: subjects.length });
    ctx.out(`\nKafka: ${ctx.config.kafka.brokers.join(',')}`);
    ctx.out(`Schema registry: ${ctx.config.schemaRegistry.url}`);
    ctx.out(`ClickHouse: ${ctx.config.clickhouse.url}`);
    ctx.out(
      `Topics: ${RECORD_KINDS.length} (${created.length} created now); schemas registered for ${subjects.length} subjects.`,
    );
    if (ctx.flags.once) return EXIT.ok;
    ctx.out('Pipeline running; Ctrl-C stops it (the stack stays up; "chatstream stack down" stops that).');

    const stop = new AbortController();
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
    let unhealthy = new Set<string>();
    while (!stop.signal.aborted) {
      await Promise.race([sleep(HEALTH_INTERVAL_MS), once(stop.signal, 'abort')]);
      if (stop.signal.aborted || ctx.flags['no-stack']) continue;
      const now = new Set((await stack.status()).filter((s) => s.state !== 'running').map((s) => s.name));
      for (const name of now)
        if (!unhealthy.has(name)) ctx.log.warn(`${name} is not healthy`, { see: 'chatstream stack status' });
      for (const name of unhealthy) if (!now.has(name)) ctx.log.info(`${name} is healthy again`);
      unhealthy = now;
    }
    ctx.log.info('pipeline stopped');
    return EXIT.ok;
  },
};
