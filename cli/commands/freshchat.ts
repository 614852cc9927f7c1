/**
 * `chatstream freshchat …`: sync (continuous or --once), backfill --since, the webhook
 * receiver, and the simulator.
 */
import { once } from 'node:events';
import { EXIT, FatalError, ServiceError, UsageError } from '../../core/errors.ts';
import { FreshchatPoller } from '../../producers/freshchat/poller.ts';
import { FreshchatSimulator } from '../../producers/freshchat/simulator/index.ts';
import { checkSince } from '../../producers/freshchat/source.ts';
import { startWebhookService } from '../../producers/freshchat/webhooks/service.ts';
import { type Command, type Context, intFlag } from '../command.ts';
import { serveProducerMetrics } from '../pipeline/producer-metrics.ts';
import { progressView } from '../progress.ts';

function stopSignal(): Promise<unknown> {
  return Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
}

async function runPoller(ctx: Context, mode: { once: boolean; since?: string }): Promise<number> {
  const { config, log } = ctx;
  const { registry: metrics, server } = await serveProducerMetrics(config);
  const view = progressView();
  const poller = new FreshchatPoller({ config, log: log.child('freshchat'), metrics, since: mode.since });
  const ticker = setInterval(() => view.update(poller.source.progress), 500);
  let interrupted = false;
  void stopSignal().then(() => {
    interrupted = true;
    log.info('stopping: finishing the page in hand');
    return poller.stop();
  });
  try {
    await poller.start();
    if (!mode.once) {
      await poller.runForever();
      return EXIT.ok;
    }
    const progress = await poller.pass().catch((error: unknown) => {
      // A fatal error (e.g. fenced) keeps its own exit code even when a stop was asked for.
      if (!interrupted || error instanceof FatalError) throw error;
      return undefined;
    });
    if (interrupted || !progress) {
      ctx.out(
        'freshchat: interrupted before the pass completed; run it again to continue from the committed cursors',
      );
      return EXIT.interrupted;
    }
    view.update(progress);
    const incomplete = Object.entries(progress.incomplete);
    if (incomplete.length > 0)
      throw new ServiceError(
        'freshchat',
        `the pass did not complete: ${incomplete.map(([r, why]) => `${r} (${why})`).join('; ')}`,
        { code: 'PASS_INCOMPLETE', hint: 'run it again: it continues from the committed cursors' },
      );
    const records = Object.values(progress.records).reduce((a, b) => a + b, 0);
    ctx.out(
      `freshchat: ${records} records written (${JSON.stringify(progress.records)}), ${progress.pages} pages${progress.skipped ? `, ${progress.skipped} entities skipped (refused by the API; see the warnings)` : ''}`,
    );
    return EXIT.ok;
  } finally {
    clearInterval(ticker);
    view.stop();
    await poller.stop();
    server.close();
  }
}

const syncCommand: Command = {
  path: ['freshchat', 'sync'],
  summary: 'Sync Freshchat into Kafka: every resource, incrementally, every FRESHCHAT_SYNC_INTERVAL_SECONDS.',
  details:
    'Records and cursors are committed together in Kafka transactions: stop or kill it at any moment and the next run\ncontinues exactly where the last committed page ended. Needs FRESHCHAT_API_KEY and FRESHCHAT_ACCOUNT (or _BASE_URL).',
  options: {
    once: {
      type: 'boolean',
      description: 'One full pass, then exit 0 (exit 5 when a resource could not be completed).',
    },
  },
  run: (ctx) => runPoller(ctx, { once: ctx.flags.once === true }),
};

const backfillCommand: Command = {
  path: ['freshchat', 'backfill'],
  summary: 'One pass that lists users and raw reports from --since, whatever the cursors say.',
  details:
    'Entities already written unchanged are skipped (their fingerprints are in the cursors); a progress bar shows on a terminal.',
  options: {
    since: { type: 'string', description: 'Start date, ISO-8601 (e.g. 2025-01-01 or 2025-01-01T00:00:00Z).' },
  },
  run(ctx) {
    const since = ctx.flags.since;
    if (typeof since !== 'string')
      throw new UsageError(
        'backfill needs --since DATE',
        'example: chatstream freshchat backfill --since 2025-01-01',
      );
    return runPoller(ctx, { once: true, since: checkSince(since, '--since') });
  },
};

const webhooksCommand: Command = {
  path: ['freshchat', 'webhooks'],
  summary:
    'Receive Freshchat webhooks (RSA-signed) and write them to Kafka; answers 2xx only once Kafka has them.',
  details:
    'Verifies X-Freshchat-Signature with FRESHCHAT_WEBHOOK_PUBLIC_KEY (or _FILE). message_create → freshchat.messages;\nassignment, resolution, reopen and unknown actions → freshchat.conversation_events.',
  async run(ctx) {
    const { config, log } = ctx;
    const { registry: metrics, server } = await serveProducerMetrics(config);
    try {
      const service = await startWebhookService({ config, log: log.child('freshchat.webhooks'), metrics });
      ctx.out(`Freshchat webhooks: ${service.url}`);
      try {
        await Promise.race([stopSignal(), service.failed]);
        log.info('stopping: draining requests in flight');
      } finally {
        await service.close();
      }
      return EXIT.ok;
    } finally {
      server.close();
    }
  },
};

const simulateCommand: Command = {
  path: ['freshchat', 'simulate'],
  summary: 'Run the Freshchat API simulator (REST v2, Extract API, signed webhooks) until Ctrl-C.',
  details:
    'Prints its API URL, API key and webhook public key. Seeded and deterministic; grows new users, conversations\nand messages over time.',
  options: {
    port: { type: 'string', description: 'Port (default FRESHCHAT_SIMULATOR_PORT); 0 picks a free one.' },
    seed: { type: 'string', description: 'Seed of the generated data.', default: '1' },
    'growth-ms': {
      type: 'string',
      description: 'Milliseconds between growth steps; 0 = no growth.',
      default: '2000',
    },
    'webhook-url': {
      type: 'string',
      description: 'Where to POST signed webhooks for what it creates (e.g. the receiver).',
    },
  },
  async run(ctx) {
    const number = (flag: string, fallback: number) => intFlag(ctx, flag, fallback);
    const growth = number('growth-ms', 2000);
    const sim = await FreshchatSimulator.start({
      port: number('port', ctx.config.freshchat.simulatorPort),
      seed: number('seed', 1),
      growth: growth > 0 ? { intervalMs: growth } : false,
      webhookUrl: typeof ctx.flags['webhook-url'] === 'string' ? ctx.flags['webhook-url'] : undefined,
      log: ctx.log.child('freshchat.simulator'),
    });
    ctx.out(`Freshchat simulator: ${sim.url}`);
    ctx.out(`  FRESHCHAT_BASE_URL=${sim.url} FRESHCHAT_API_KEY=${sim.apiKey}`);
    ctx.out(`  webhook public key (FRESHCHAT_WEBHOOK_PUBLIC_KEY):\n${sim.publicKeyPem}`);
    await stopSignal();
    await sim.stop();
    return EXIT.ok;
  },
};

export const freshchatCommands: Command[] = [syncCommand, backfillCommand, webhooksCommand, simulateCommand];
