/** `chatstream config show | check | docs`: what the settings resolve to, and their reference. */
import { redacted, renderReference } from '../../core/config.ts';
import { EXIT } from '../../core/errors.ts';
import type { Command } from '../command.ts';
import { schema } from '../settings.ts';

const show: Command = {
  path: ['config', 'show'],
  summary: 'Print the resolved configuration (defaults < config file < environment), secrets redacted.',
  async run(ctx) {
    ctx.out(JSON.stringify(redacted(schema, ctx.config), null, 2));
    return EXIT.ok;
  },
};

const check: Command = {
  path: ['config', 'check'],
  summary: 'Validate the configuration; exits 3 naming the first bad setting.',
  async run(ctx) {
    ctx.out('configuration is valid');
    return EXIT.ok;
  },
};

const docs: Command = {
  path: ['config', 'docs'],
  summary: 'Print the configuration reference (Markdown) generated from the settings schema.',
  async run(ctx) {
    ctx.out(renderReference(schema));
    return EXIT.ok;
  },
};

export const configCommands: Command[] = [show, check, docs];
