/**
 * "Do our credentials and certificates work?" before a client starts: one connection with no
 * retries, so a wrong password or a CA that does not match stops the command within seconds
 * (exit 3, naming the setting) instead of after kafkajs's retries and the caller's own.
 * A broker that is not reachable is not decided here: the caller waits for it as before.
 */
import type { CoreConfig } from '../core/settings.ts';
import { createKafka } from './client.ts';
import { kafkaAccessError } from './security.ts';

export async function checkKafkaAccess(config: CoreConfig, timeoutMs = 5_000): Promise<void> {
  if (config.kafka.securityProtocol === 'PLAINTEXT') return;
  const admin = createKafka(config, {
    role: 'access-check',
    quiet: true,
    overrides: { connectionTimeout: timeoutMs, authenticationTimeout: timeoutMs, retry: { retries: 0 } },
  }).admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
  } catch (error) {
    const fatal = kafkaAccessError(error);
    if (fatal) throw fatal;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
