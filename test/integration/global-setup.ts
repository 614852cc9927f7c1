/**
 * Integration tests run on the real local stack. Services that are not running are brought
 * up before the tests and taken down after them, leaving the machine as we found it.
 */

import { loadConfig } from '../../cli/settings.ts';
import { configureLogging, createLogger } from '../../core/log.ts';
import { Stack } from '../../stack/stack.ts';

/**
 * The longest event-topic retention the setting allows (100 years), for every test and the CLI
 * processes they start (the test files inherit this process's environment). Kafka applies time
 * retention to record timestamps, and ours are the source's event times: the simulator's world
 * is dated 2025 (DEFAULT_START_TIME), long past the default 7 days. A partition's first records
 * sit in a segment of their own (the commit marker, stamped now, rolls the next one), and the
 * broker deletes that segment at its next retention check (every 5 minutes) — a test reading
 * after that found one conversation's messages gone. freshchat-retention.test.ts checks this.
 */
const TEST_EVENT_RETENTION_HOURS = '876000';
process.env.CHATSTREAM_KAFKA_EVENT_RETENTION_HOURS ??= TEST_EVENT_RETENTION_HOURS;

const stack = new Stack(loadConfig(), createLogger('test-setup'));
let startedHere: string[] = [];

export async function globalSetup(): Promise<void> {
  startedHere = (await stack.status()).filter((s) => s.state === 'stopped').map((s) => s.name);
  await stack.up();
}

export async function globalTeardown(): Promise<void> {
  // Quiet: the test runner's summary should stay the last lines of the output.
  configureLogging({ level: 'warn' });
  if (startedHere.length > 0) await stack.down(startedHere);
}
