/**
 * Settings of the Freshchat producer (`freshchat` section; environment FRESHCHAT_*). Every
 * point SOURCES.md marks UNCONFIRMED (paths, page caps, filters) is a setting here.
 */
import { type Settings, setting } from '../../core/config.ts';
import { ConfigError } from '../../core/errors.ts';
import { CONTRACT_MODES } from '../../schemas/evolution.ts';

export const RESOURCES = [
  'account_configuration',
  'users',
  'conversations',
  'messages',
  'agents',
  'agent_statuses',
  'groups',
  'channels',
  'outbound_messages',
  'reports',
] as const;
export type Resource = (typeof RESOURCES)[number];

export const REPORT_EVENTS = [
  'Conversation-Created',
  'Conversation-Agent-Assigned',
  'Conversation-Group-Assigned',
  'Message-Sent',
  'First-Response-Time',
  'Response-Time',
  'Resolution-Time',
  'Conversation-Resolution-Label',
  'Conversation-Resolved',
  'Agent-Activity',
  'Agent-Intelliassign-Activity',
  'CSAT-Score',
] as const;

const env = (name: string) => `FRESHCHAT_${name}`;

export const freshchatSettings = {
  apiKey: setting.optionalString({
    env: env('API_KEY'),
    secret: true,
    description:
      'Freshchat API token (Admin > API Tokens), sent as `Authorization: Bearer`. When unset, `npm start` runs the simulator instead.',
  }),
  baseUrl: setting.optionalString({
    env: env('BASE_URL'),
    description: 'API base URL, e.g. `https://acme.freshchat.com/v2`. Overrides FRESHCHAT_ACCOUNT.',
    example: 'https://acme.freshchat.com/v2',
  }),
  account: setting.optionalString({
    env: env('ACCOUNT'),
    description: 'Account subdomain: the API is `https://<account>.freshchat.com/v2`.',
    example: 'acme',
  }),
  resources: setting.list({
    env: env('RESOURCES'),
    default: [...RESOURCES],
    description: `Resources to sync (comma-separated): ${RESOURCES.join(', ')}.`,
  }),
  pageSize: setting.int({
    env: env('PAGE_SIZE'),
    default: 100,
    min: 1,
    max: 1000,
    description:
      '`items_per_page` of list requests (the real maximum is unconfirmed; 100 is what clients use).',
  }),
  messagesPageSize: setting.int({
    env: env('MESSAGES_PAGE_SIZE'),
    default: 50,
    min: 1,
    max: 1000,
    description: '`items_per_page` of message pages (clients call 50 the maximum for messages).',
  }),
  messagesEveryPass: setting.bool({
    env: env('MESSAGES_EVERY_PASS'),
    default: false,
    description:
      "Fetch every conversation's newest messages on every pass. By default only conversations whose updated_time moved are read (that a new message moves it is inferred from samples, not documented).",
  }),
  requestsPerMinute: setting.int({
    env: env('REQUESTS_PER_MINUTE'),
    default: 300,
    min: 1,
    max: 1_000_000,
    description:
      'Most API requests per minute (Freshchat publishes no limit; a 429 with Retry-After also slows us down).',
  }),
  concurrency: setting.int({
    env: env('CONCURRENCY'),
    default: 4,
    min: 1,
    max: 64,
    description: 'API requests in flight at once.',
  }),
  requestTimeoutMs: setting.int({
    env: env('REQUEST_TIMEOUT_MS'),
    default: 30_000,
    min: 100,
    max: 600_000,
    description: 'A request that has not answered by then is abandoned and retried.',
  }),
  maxRetries: setting.int({
    env: env('MAX_RETRIES'),
    default: 6,
    min: 0,
    max: 100,
    description:
      'Retries of one request after 5xx, timeouts and connection errors (429s wait and do not count).',
  }),
  contract: setting.oneOf(CONTRACT_MODES, {
    env: env('CONTRACT'),
    default: 'evolve',
    description:
      'What to do with fields the schemas lack: `evolve` adds them (new schema version), `freeze` dead-letters the record, `discard` drops them.',
  }),
  syncIntervalSeconds: setting.int({
    env: env('SYNC_INTERVAL_SECONDS'),
    default: 60,
    min: 1,
    max: 86_400,
    description: 'Pause between passes of `chatstream freshchat sync`.',
  }),
  since: setting.string({
    env: env('SINCE'),
    default: '2010-01-01T00:00:00.000Z',
    description:
      'Where a first sync starts: `created_from` of users and the start of raw reports (ISO-8601). `freshchat backfill --since` overrides it. Users have no updated filter: later syncs list only users created since the last pass, so an edit to an older user is seen only when a backfill lists that user again.',
    example: '2025-01-01T00:00:00.000Z',
  }),
  reportEvents: setting.list({
    env: env('REPORT_EVENTS'),
    default: [...REPORT_EVENTS],
    description: 'Extract API events to export as raw reports (CSV rows → freshchat.report_rows).',
  }),
  reportLookbackDays: setting.int({
    env: env('REPORT_LOOKBACK_DAYS'),
    default: 30,
    min: 1,
    max: 3650,
    description:
      'A first sync exports raw reports from this many days back (or from FRESHCHAT_SINCE when later); `backfill --since` goes further back.',
  }),
  reportWindowHours: setting.int({
    env: env('REPORT_WINDOW_HOURS'),
    default: 24,
    min: 1,
    max: 24 * 31,
    description: 'Time window of one Extract API job; one window is one transaction.',
  }),
  reportPartialWindows: setting.bool({
    env: env('REPORT_PARTIAL_WINDOWS'),
    default: false,
    description:
      'Also export the window in progress (up to now minus the lag); the next pass continues from its end. Off: only whole windows, one Extract job per event and window.',
  }),
  reportLagMinutes: setting.int({
    env: env('REPORT_LAG_MINUTES'),
    default: 60,
    min: 0,
    max: 7 * 24 * 60,
    description: 'Windows end at least this long before now, so a report covers finished activity.',
  }),
  reportPollIntervalMs: setting.int({
    env: env('REPORT_POLL_INTERVAL_MS'),
    default: 2000,
    min: 10,
    max: 600_000,
    description: 'Pause between polls of an Extract API job.',
  }),
  reportTimeoutMinutes: setting.int({
    env: env('REPORT_TIMEOUT_MINUTES'),
    default: 30,
    min: 1,
    max: 24 * 60,
    description: 'An Extract API job not COMPLETED by then is given up for this pass (retried next pass).',
  }),
  agentStatusesPath: setting.string({
    env: env('AGENT_STATUSES_PATH'),
    default: '/agents/status',
    description: 'Path of the agent-status list (unconfirmed in the docs).',
  }),
  outboundMessagesPath: setting.string({
    env: env('OUTBOUND_MESSAGES_PATH'),
    default: '/outbound-messages',
    description: 'Path of the outbound (WhatsApp) message list (its filters are unconfirmed).',
  }),
  webhookHost: setting.string({
    env: env('WEBHOOK_HOST'),
    default: '127.0.0.1',
    description: 'Address the webhook receiver listens on; `0.0.0.0` to accept Freshchat from outside.',
    example: '0.0.0.0',
  }),
  webhookPort: setting.port({
    env: env('WEBHOOK_PORT'),
    default: 8091,
    description: 'Port of the webhook receiver (`chatstream freshchat webhooks`).',
  }),
  webhookPath: setting.string({
    env: env('WEBHOOK_PATH'),
    default: '/freshchat/webhooks',
    description: 'Path Freshchat posts webhooks to.',
  }),
  webhookPublicKey: setting.optionalString({
    env: env('WEBHOOK_PUBLIC_KEY'),
    description:
      "The account's webhook RSA public key (PEM; a one-line paste with literal \\n works), as shown in Admin > Webhooks.",
  }),
  webhookPublicKeyFile: setting.optionalString({
    env: env('WEBHOOK_PUBLIC_KEY_FILE'),
    description: 'A file holding the webhook public key (PEM), instead of FRESHCHAT_WEBHOOK_PUBLIC_KEY.',
  }),
  webhookMaxBodyBytes: setting.int({
    env: env('WEBHOOK_MAX_BODY_BYTES'),
    default: 1024 * 1024,
    min: 1024,
    max: 64 * 1024 * 1024,
    description: 'Largest webhook body accepted (larger → 413).',
  }),
  simulatorPort: setting.port({
    env: env('SIMULATOR_PORT'),
    default: 8095,
    description:
      'Port of `chatstream freshchat simulate` (and of the simulator `npm start` runs without an API key).',
  }),
};

export type FreshchatSettings = Settings<{ freshchat: typeof freshchatSettings }>['freshchat'];

/** The API base URL from the settings; undefined when neither URL nor account is set. */
export function apiBaseUrl(settings: FreshchatSettings): string | undefined {
  if (settings.baseUrl) {
    if (!/^https?:\/\/[^/]/.test(settings.baseUrl))
      throw new ConfigError(
        'FRESHCHAT_BASE_URL',
        `expected an http(s) URL, got "${settings.baseUrl}"`,
        'example: https://acme.freshchat.com/v2',
      );
    return settings.baseUrl.replace(/\/+$/, '');
  }
  if (settings.account) return `https://${settings.account}.freshchat.com/v2`;
  return undefined;
}
