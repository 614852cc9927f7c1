/**
 * `chatstream freshchat webhooks`: the receiver as a service — its own SourceRunner (source
 * `freshchat-webhooks`, so it never fences the poller's transactions), the routes of
 * receiver.ts, a health route, and the shared HTTP server. A request is answered 200 only
 * after its records are committed in Kafka.
 */
import { readFileSync } from 'node:fs';
import type { Registry } from 'prom-client';
import { ConfigError, ServiceError } from '../../../core/errors.ts';
import type { Logger } from '../../../core/log.ts';
import { HEALTHZ_PATH } from '../../http/router.ts';
import type { HttpService } from '../../http/server.ts';
import { startHttpServer } from '../../http/server.ts';
import { SourceRunner } from '../../runtime/runner.ts';
import type { FreshchatConfig } from '../poller.ts';
import { FRESHCHAT_KINDS } from '../poller.ts';
import { createWebhookRoutes } from './receiver.ts';
import { normalizePublicKey } from './signature.ts';

export interface WebhookServiceOptions {
  config: FreshchatConfig;
  log: Logger;
  metrics: Registry;
  /** Overrides the settings (the simulator's key in `npm start`). */
  publicKeyPem?: string;
  port?: number;
}

export interface WebhookService {
  url: string;
  runner: SourceRunner;
  /** Rejects when a fatal error stopped the runner (the process should exit with it). */
  failed: Promise<never>;
  close(): Promise<void>;
}

/** The configured public key: FRESHCHAT_WEBHOOK_PUBLIC_KEY, else the file FRESHCHAT_WEBHOOK_PUBLIC_KEY_FILE. */
export function configuredPublicKey(config: FreshchatConfig): { pem: string; setting: string } {
  const { webhookPublicKey, webhookPublicKeyFile } = config.freshchat;
  if (webhookPublicKey) return { pem: webhookPublicKey, setting: 'FRESHCHAT_WEBHOOK_PUBLIC_KEY' };
  if (webhookPublicKeyFile) {
    try {
      return {
        pem: readFileSync(webhookPublicKeyFile, 'utf8'),
        setting: 'FRESHCHAT_WEBHOOK_PUBLIC_KEY_FILE',
      };
    } catch (error) {
      throw new ConfigError(
        'FRESHCHAT_WEBHOOK_PUBLIC_KEY_FILE',
        `cannot read ${webhookPublicKeyFile} (${(error as NodeJS.ErrnoException).code})`,
      );
    }
  }
  throw new ConfigError(
    'FRESHCHAT_WEBHOOK_PUBLIC_KEY',
    'no public key to verify webhook signatures with',
    'paste the RSA public key from Freshchat Admin > Webhooks, or set FRESHCHAT_WEBHOOK_PUBLIC_KEY_FILE',
  );
}

export async function startWebhookService(options: WebhookServiceOptions): Promise<WebhookService> {
  const { config, log } = options;
  const key = options.publicKeyPem
    ? { pem: options.publicKeyPem, setting: 'the simulator' }
    : configuredPublicKey(config);
  let publicKey: ReturnType<typeof normalizePublicKey>;
  try {
    publicKey = normalizePublicKey(key.pem);
  } catch (error) {
    throw new ConfigError(key.setting, (error as Error).message);
  }
  const runner = new SourceRunner({
    config,
    name: 'freshchat-webhooks',
    kinds: FRESHCHAT_KINDS,
    contract: config.freshchat.contract,
    log,
    metrics: options.metrics,
  });
  await runner.start();
  const port = options.port ?? config.freshchat.webhookPort;
  let server: HttpService;
  try {
    server = await startHttpServer({
      host: config.freshchat.webhookHost,
      port,
      maxBodyBytes: config.freshchat.webhookMaxBodyBytes,
      log,
      routes: [
        ...createWebhookRoutes({
          publicKey,
          write: (records) => runner.write(records),
          log,
          path: config.freshchat.webhookPath,
          dedupe: { size: 10_000 },
        }),
        {
          method: 'GET',
          path: HEALTHZ_PATH,
          handler: async () => {
            const health = runner.health();
            return {
              status: health.ok ? 200 : 503,
              body: { status: health.ok ? 'ok' : 'unhealthy', ...health },
            };
          },
        },
      ],
    });
  } catch (error) {
    await runner.stop();
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new ServiceError('freshchat webhooks', `port ${config.freshchat.webhookHost}:${port} is taken`, {
        code: 'PORT_TAKEN',
        hint: 'set FRESHCHAT_WEBHOOK_PORT to a free port',
      });
    throw error;
  }
  const url = `${server.url}${config.freshchat.webhookPath}`;
  log.info('webhook receiver listening', { url });
  const failed = new Promise<never>((_, reject) => runner.onFatal(reject));
  failed.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection
  return {
    url,
    runner,
    failed,
    async close() {
      await server.close(10_000);
      await runner.stop();
    },
  };
}
