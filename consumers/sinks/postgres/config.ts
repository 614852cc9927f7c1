/** Settings of the PostgreSQL sink (and of the PostgreSQL the local stack runs for it). */
import { setting } from '../../../core/config.ts';

export const postgresSettings = {
  enabled: setting.bool({
    default: false,
    description:
      "Local stack: also run PostgreSQL (for `chatstream sink postgres`). Debian's `postgresql` is installed when missing and we are root.",
  }),
  port: setting.port({ default: 5432, description: 'Local stack: PostgreSQL port (127.0.0.1).' }),
  url: setting.string({
    default: (s) => `postgres://postgres@127.0.0.1:${s.port}/chatstream`,
    description: 'PostgreSQL connection string of the Postgres sink. Defaults to the local stack.',
    example: 'postgres://chatstream:secret@postgres:5432/analytics',
  }),
  password: setting.string({
    default: '',
    secret: true,
    description: 'PostgreSQL password (when not in the URL).',
  }),
  schema: setting.string({
    default: 'public',
    description: 'PostgreSQL schema the sink creates its tables in.',
  }),
};
