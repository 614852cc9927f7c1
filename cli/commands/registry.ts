/** `chatstream registry`: run the Confluent-compatible schema registry in the foreground. */
import { once } from 'node:events';
import { EXIT } from '../../core/errors.ts';
import { startRegistry } from '../../registry/run.ts';
import type { Command } from '../command.ts';

export const registryCommand: Command = {
  path: ['registry'],
  summary: 'Run the Confluent-compatible schema registry (storage: the _schemas topic) until stopped.',
  details:
    '`chatstream stack up` runs it as part of the local stack. Settings: CHATSTREAM_REGISTRY_* (see "chatstream config docs").',
  options: {
    'stack-home': {
      type: 'string',
      description: 'Set by `stack up`: the local stack this process belongs to (names it in `ps`).',
    },
  },
  async run(ctx) {
    const running = await startRegistry(ctx.config, ctx.log.child('registry'));
    ctx.out(`schema registry: ${running.url}`);
    await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
    ctx.log.info('shutting down the registry');
    await running.close();
    return EXIT.ok;
  },
};
