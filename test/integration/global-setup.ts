/**
 * Integration tests run on the real local stack. Services that are not running are brought
 * up before the tests and taken down after them, leaving the machine as we found it.
 */

import { loadConfig } from '../../cli/settings.ts';
import { configureLogging, createLogger } from '../../core/log.ts';
import { Stack } from '../../stack/stack.ts';

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
