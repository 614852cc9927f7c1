/**
 * Settings of the Pure Chat collector (`purechat` section; environment PURECHAT_*): where it
 * listens, who may send, the limits, what happens to PII, and the schema contract. The
 * protocol they govern is docs/PURECHAT.md.
 */
import { type Settings, setting } from '../../core/config.ts';
import { ConfigError } from '../../core/errors.ts';
import { CONTRACT_MODES } from '../../schemas/evolution.ts';
import type { ProducerConfig } from '../config.ts';

export const PII_MODES = ['keep', 'hash', 'drop'] as const;
export type PiiMode = (typeof PII_MODES)[number];

const env = (name: string) => `PURECHAT_${name}`;

export const purechatSettings = {
  host: setting.string({
    env: env('HOST'),
    default: '127.0.0.1',
    description: 'Address the collector listens on; `0.0.0.0` in a container.',
    example: '0.0.0.0',
  }),
  port: setting.int({
    env: env('PORT'),
    default: 8090,
    min: 0,
    max: 65535,
    description:
      'Port of the collector (`POST /v1/events`, `/v1/snippet.js`, `/demo/`, `/healthz`, `/metrics`); 0 picks a free one.',
  }),
  publicUrl: setting.optionalString({
    env: env('PUBLIC_URL'),
    description:
      'The URL browsers reach the collector at, when it differs from the listening address (behind a proxy); printed in the embed snippet.',
    example: 'https://collect.example.com',
  }),
  allowedOrigins: setting.list({
    env: env('ALLOWED_ORIGINS'),
    default: [],
    description:
      "Origins whose pages may send events (comma-separated, e.g. `https://www.example.com`; `*` allows any). Unset: only the collector's own origin (the demo page). Requests without an `Origin` header (servers, curl) are not browser requests and are not checked.",
    example: 'https://www.example.com,https://shop.example.com',
  }),
  widgetIds: setting.list({
    env: env('WIDGET_IDS'),
    default: [],
    description:
      'Widget ids (the `c` of `new PCWidget({c: …})`) whose events are accepted (comma-separated). Unset: any widget id.',
    example: '9aa40980-a367-4eaf-9c09-d1b66ccaff57',
  }),
  rateLimitPerMinute: setting.int({
    env: env('RATE_LIMIT_PER_MINUTE'),
    default: 600,
    min: 0,
    max: 100_000_000,
    description:
      'Requests per minute one client (IP address) may send, with bursts up to a tenth of it; over it: 429 with Retry-After. 0 turns the limit off.',
  }),
  trustProxy: setting.bool({
    env: env('TRUST_PROXY'),
    default: false,
    description:
      'Take the client address from `X-Forwarded-For` (its first entry) for rate limiting and enrichment; only behind a proxy you run.',
  }),
  maxEventBytes: setting.int({
    env: env('MAX_EVENT_BYTES'),
    default: 32 * 1024,
    min: 256,
    max: 800 * 1024,
    description: 'Largest event (its JSON) accepted; 413 EVENT_TOO_LARGE above it.',
  }),
  maxRequestBytes: setting.int({
    env: env('MAX_REQUEST_BYTES'),
    default: 512 * 1024,
    min: 1024,
    max: 16 * 1024 * 1024,
    description: 'Largest request body accepted; 413 PAYLOAD_TOO_LARGE above it.',
  }),
  maxEventsPerRequest: setting.int({
    env: env('MAX_EVENTS_PER_REQUEST'),
    default: 500,
    min: 1,
    max: 10_000,
    description: 'Most events in one request; 413 TOO_MANY_EVENTS above it.',
  }),
  piiEmail: setting.oneOf(PII_MODES, {
    env: env('PII_EMAIL'),
    default: 'keep',
    description:
      'Visitor e-mail addresses (event args, visitor state, transcripts): `keep`, `hash` (HMAC-SHA256 with PURECHAT_PII_HASH_KEY, of the trimmed lower-case address, so equal addresses stay equal) or `drop`.',
  }),
  piiPhone: setting.oneOf(PII_MODES, {
    env: env('PII_PHONE'),
    default: 'keep',
    description: 'Visitor phone numbers: `keep`, `hash` (of the digits only) or `drop`.',
  }),
  piiHashKey: setting.optionalString({
    env: env('PII_HASH_KEY'),
    secret: true,
    description:
      'Secret key of the PII hash; required when PURECHAT_PII_EMAIL or PURECHAT_PII_PHONE is `hash`.',
  }),
  contract: setting.oneOf(CONTRACT_MODES, {
    env: env('CONTRACT'),
    default: 'discard',
    description:
      'Fields on an event beyond protocol v1 (anyone on the internet can send them): `discard` drops them; `evolve` keeps them as text columns (the schema grows; a usable name, at most 16 per event and PURECHAT_MAX_EXTRA_FIELDS in all); `freeze` refuses the request naming the field.',
  }),
  maxExtraFields: setting.int({
    env: env('MAX_EXTRA_FIELDS'),
    default: 64,
    min: 0,
    max: 1000,
    description:
      'Under PURECHAT_CONTRACT=evolve: most distinct fields beyond protocol v1 one collector process adds to the schema; an event bringing a new one past it is refused (400).',
  }),
  badRowsTopic: setting.optionalString({
    env: env('BAD_ROWS_TOPIC'),
    description:
      'Topic receiving the raw body of every refused request with the reason in headers. Defaults to `<topic prefix>purechat.bad_rows`.',
  }),
  demo: setting.bool({
    env: env('DEMO'),
    default: false,
    description:
      'Serve the demo page with a fake Pure Chat widget at `/demo/` from `chatstream purechat collect` (its fake events go to the real topics). `npm start` always serves it.',
  }),
  demoWidgetId: setting.string({
    env: env('DEMO_WIDGET_ID'),
    default: '9aa40980-a367-4eaf-9c09-d1b66ccaff57',
    description: 'Widget id the demo page uses (letters, digits, `-`, `_`, `.`).',
  }),
};

export type PurechatSettings = Settings<{ purechat: typeof purechatSettings }>['purechat'];
export type PurechatConfig = ProducerConfig & { purechat: PurechatSettings };

const WIDGET_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Settings checked beyond their type: a ConfigError naming the setting. */
export function checkPurechatConfig(config: PurechatConfig): void {
  if (!WIDGET_ID.test(config.purechat.demoWidgetId))
    throw new ConfigError(
      'PURECHAT_DEMO_WIDGET_ID',
      'may hold only letters, digits, "-", "_" and "." (at most 128)',
    );
  for (const origin of config.purechat.allowedOrigins)
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin))
      throw new ConfigError(
        'PURECHAT_ALLOWED_ORIGINS',
        `"${origin}" is not an origin`,
        'an origin is scheme://host[:port] with no path, e.g. https://www.example.com',
      );
  piiHashKeyOf(config);
}

export function badRowsTopicOf(config: PurechatConfig): string {
  return config.purechat.badRowsTopic ?? `${config.kafka.topicPrefix}purechat.bad_rows`;
}

/** The hash key, when a PII setting needs one (ConfigError naming the setting otherwise). */
export function piiHashKeyOf(config: PurechatConfig): string | undefined {
  const { piiEmail, piiPhone, piiHashKey } = config.purechat;
  if (piiEmail !== 'hash' && piiPhone !== 'hash') return undefined;
  if (!piiHashKey || piiHashKey.length < 16)
    throw new ConfigError(
      'PURECHAT_PII_HASH_KEY',
      piiHashKey
        ? 'is shorter than 16 characters'
        : `is required when PII is hashed (PURECHAT_PII_${piiEmail === 'hash' ? 'EMAIL' : 'PHONE'}=hash)`,
      'set it to a long random secret, e.g. `openssl rand -hex 32`; keep it stable, or equal values stop matching',
    );
  return piiHashKey;
}
