/** `chatstream purechat import FILE…` (being written). */
import { UsageError } from '../../core/errors.ts';
import type { Command } from '../command.ts';

export const purechatImportCommand: Command = {
  path: ['purechat', 'import'],
  summary: 'Import Pure Chat transcript exports (CSV or JSON) into purechat.transcripts.',
  argsUsage: 'FILE...',
  run: async () => {
    throw new UsageError('purechat import is not built yet');
  },
};
