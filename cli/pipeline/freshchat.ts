/**
 * The Freshchat part of `chatstream start`: with FRESHCHAT_API_KEY it syncs the real account
 * (and receives webhooks when a public key is configured); without it, it runs the simulator
 * and points the poller and the webhook receiver at it, so data flows on a fresh clone.
 */
import type { Registry } from 'prom-client';
import type { Logger } from '../../core/log.ts';
import type { FreshchatConfig } from '../../producers/freshchat/poller.ts';
import { FreshchatPoller } from '../../producers/freshchat/poller.ts';
import { FreshchatSimulator } from '../../producers/freshchat/simulator/index.ts';
import { startWebhookService, type WebhookService } from '../../producers/freshchat/webhooks/service.ts';

export interface FreshchatPipeline {
  /** Rows for the table of what runs where. */
  endpoints: [string, string][];
  /** Resolves when the poll loop ends; rejects on a fatal error (bad key, fenced producer). */
  done: Promise<void>;
  stop(): Promise<void>;
}

const SIMULATOR_DAYS = 14;

/** Settings for the simulator: its history is two weeks old; reports in weekly windows, not waiting for the lag. */
function simulatorSettings(config: FreshchatConfig): FreshchatConfig {
  return {
    ...config,
    freshchat: {
      ...config.freshchat,
      since: new Date(Date.now() - (SIMULATOR_DAYS + 1) * 86_400_000).toISOString(),
      requestsPerMinute: 100_000,
      syncIntervalSeconds: Math.min(config.freshchat.syncIntervalSeconds, 15),
      reportWindowHours: 24 * 7,
      reportPartialWindows: true,
      reportLagMinutes: 0,
      reportPollIntervalMs: 200,
    },
  };
}

export async function startFreshchat(options: {
  config: FreshchatConfig;
  log: Logger;
  metrics: Registry;
}): Promise<FreshchatPipeline> {
  const { log, metrics } = options;
  const simulated = !options.config.freshchat.apiKey;
  const config = simulated ? simulatorSettings(options.config) : options.config;
  const { webhookHost, webhookPort, webhookPath } = config.freshchat;
  const endpoints: [string, string][] = [];
  let sim: FreshchatSimulator | undefined;
  if (simulated) {
    sim = await FreshchatSimulator.start({
      port: config.freshchat.simulatorPort,
      seed: 1,
      startTime: new Date().toISOString(),
      growth: { intervalMs: 3000 },
      webhookUrl: `http://${webhookHost === '0.0.0.0' ? '127.0.0.1' : webhookHost}:${webhookPort}${webhookPath}`,
      log: log.child('simulator'),
    });
    endpoints.push(['Freshchat simulator', `${sim.url} (no FRESHCHAT_API_KEY set)`]);
  }
  let webhooks: WebhookService | undefined;
  try {
    return await startParts();
  } catch (error) {
    await sim?.stop();
    await webhooks?.close();
    throw error;
  }

  async function startParts(): Promise<FreshchatPipeline> {
    const hasKey = Boolean(config.freshchat.webhookPublicKey || config.freshchat.webhookPublicKeyFile);
    if (sim || hasKey) {
      webhooks = await startWebhookService({
        config,
        log: log.child('webhooks'),
        metrics,
        publicKeyPem: sim?.publicKeyPem,
      });
      endpoints.push(['Freshchat webhooks', webhooks.url]);
    } else log.info('Freshchat webhooks are off: no FRESHCHAT_WEBHOOK_PUBLIC_KEY');
    const poller = new FreshchatPoller({
      config,
      log: log.child('poller'),
      metrics,
      ...(sim ? { baseUrl: sim.url, apiKey: sim.apiKey } : {}),
    });
    await poller.start();
    endpoints.push([
      'Freshchat poller',
      `every ${config.freshchat.syncIntervalSeconds} s from ${sim ? sim.url : 'the account'}`,
    ]);
    // The loop ends on a fatal error of the poller or of the webhook receiver (e.g. fenced).
    const done = webhooks ? Promise.race([poller.runForever(), webhooks.failed]) : poller.runForever();
    done.catch(() => undefined); // observed by the caller; never an unhandled rejection
    return {
      endpoints,
      done,
      async stop() {
        // The poller first (it would back off against a simulator that is gone), then the
        // simulator (no more webhooks), then the receiver (drains what is in flight). Each
        // step runs even when one before it failed; the first failure is thrown at the end.
        let failure: unknown;
        for (const step of [() => poller.stop(), () => sim?.stop(), () => webhooks?.close()]) {
          try {
            await step();
          } catch (error) {
            failure ??= error;
          }
        }
        if (failure !== undefined) throw failure;
      },
    };
  }
}
