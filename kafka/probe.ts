/**
 * "Can we reach Kafka right now?" for health endpoints of services that may sit idle (an idle
 * producer learns of an outage only at its next write): a cluster description with no retries
 * and a short timeout, cached for a moment so a busy /healthz does not hammer the brokers.
 */
import type { Admin } from 'kafkajs';
import type { CoreConfig } from '../core/settings.ts';
import { createKafka } from './client.ts';

export interface KafkaProbe {
  /** undefined when Kafka answered; else why not. */
  check(): Promise<string | undefined>;
  close(): Promise<void>;
}

export function kafkaProbe(
  config: CoreConfig,
  options: { timeoutMs?: number; cacheMs?: number } = {},
): KafkaProbe {
  const timeoutMs = options.timeoutMs ?? 3_000;
  const cacheMs = options.cacheMs ?? 2_000;
  const kafka = createKafka(config, {
    role: 'probe',
    quiet: true,
    overrides: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs },
  });
  let admin: Admin | undefined;
  let last: { at: number; result: Promise<string | undefined> } | undefined;

  const probe = async (): Promise<string | undefined> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      admin ??= kafka.admin({ retry: { retries: 0 } });
      const connected = admin;
      await Promise.race([connected.connect().then(() => connected.describeCluster()), late]);
      return undefined;
    } catch (error) {
      // Unreachable: a fresh client next time (kafkajs keeps a failed one's state).
      const failed = admin;
      admin = undefined;
      await failed?.disconnect().catch(() => undefined);
      return `unreachable: ${(error as Error).message}`;
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    check() {
      if (!last || Date.now() - last.at > cacheMs) last = { at: Date.now(), result: probe() };
      return last.result;
    },
    async close() {
      await admin?.disconnect().catch(() => undefined);
    },
  };
}
