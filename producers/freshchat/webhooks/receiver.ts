/**
 * The Freshchat webhook endpoint as routes for producers/http:
 *
 *   POST <path> → signature on the raw bytes (401) → JSON (400) → mapping (400 naming the field)
 *              → write, resolved once Kafka acknowledged → 200 {"accepted": n}
 *
 * A retriable write failure answers 503 with Retry-After so Freshchat redelivers; a delivery
 * accepted moments ago answers 200 {"accepted": 0, "duplicate": true} without writing again.
 */
import type { KeyObject } from 'node:crypto';
import type { Logger } from '../../../core/log.ts';
import { HttpError } from '../../http/errors.ts';
import { parseJsonBody } from '../../http/json.ts';
import { RecentKeys } from '../../http/recent-keys.ts';
import type { HttpRequest, HttpResponse, Route } from '../../http/router.ts';
import { WebhookPayloadError } from './errors.ts';
import { type WebhookRecord, webhookToRecords } from './mapping.ts';
import { type SignatureCheck, verifySignature } from './signature.ts';

export interface WebhookReceiverOptions {
  publicKey: KeyObject;
  /** Resolves only after Kafka acknowledged the records; a `retriable: true` error means "try later". */
  write: (records: WebhookRecord[]) => Promise<void>;
  log: Logger;
  path?: string;
  /** Remember this many recently accepted deliveries to answer redeliveries without writing. */
  dedupe?: { size: number };
}

export const RETRY_AFTER_SECONDS = 5;

const SIGNATURE_ERRORS: Record<Exclude<SignatureCheck, 'ok'>, [string, string]> = {
  missing: ['SIGNATURE_MISSING', 'The X-Freshchat-Signature header is missing'],
  malformed: ['SIGNATURE_MALFORMED', 'The X-Freshchat-Signature header is not base64'],
  mismatch: ['SIGNATURE_INVALID', 'The signature does not match the body and the configured public key'],
};

function header(req: HttpRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** The key a redelivery of the same thing shares. */
export function deliveryKey({ kind, value }: WebhookRecord): string {
  return kind === 'freshchat.messages' ? `message:${String(value.id)}` : `event:${String(value.event_id)}`;
}

function checkSignature(req: HttpRequest, key: KeyObject): void {
  const check = verifySignature(req.rawBody, header(req, 'x-freshchat-signature'), key);
  if (check === 'ok') return;
  const [code, message] = SIGNATURE_ERRORS[check];
  throw new HttpError(401, code, message);
}

function mapPayload(payload: unknown): WebhookRecord[] {
  try {
    return webhookToRecords(payload).records;
  } catch (error) {
    if (!(error instanceof WebhookPayloadError)) throw error;
    throw new HttpError(400, error.code, error.message, { field: error.field });
  }
}

async function writeRecords(options: WebhookReceiverOptions, records: WebhookRecord[]): Promise<void> {
  try {
    await options.write(records);
  } catch (error) {
    if ((error as { retriable?: unknown })?.retriable === true)
      throw new HttpError(503, 'KAFKA_UNAVAILABLE', 'Kafka is unavailable; retry later', undefined, {
        'Retry-After': String(RETRY_AFTER_SECONDS),
      });
    options.log.error('webhook write failed', { error });
    throw new HttpError(500, 'WRITE_FAILED', 'The webhook could not be stored');
  }
}

export function createWebhookRoutes(options: WebhookReceiverOptions): Route[] {
  const { publicKey, log, path = '/freshchat/webhooks' } = options;
  const recent = options.dedupe ? new RecentKeys(options.dedupe.size) : undefined;

  const accept = async (req: HttpRequest): Promise<HttpResponse> => {
    checkSignature(req, publicKey);
    const records = mapPayload(parseJsonBody(req.rawBody));
    const keys = records.map(deliveryKey);
    if (recent && keys.length > 0 && keys.every((key) => recent.has(key)))
      return { status: 200, body: { accepted: 0, duplicate: true } };
    await writeRecords(options, records);
    for (const key of keys) recent?.add(key);
    log.debug('webhook accepted', { records: records.length, retryCount: header(req, 'x-retry-count') });
    return { status: 200, body: { accepted: records.length } };
  };

  const handler = async (req: HttpRequest): Promise<HttpResponse> => {
    try {
      return await accept(req);
    } catch (error) {
      // The reason only: never the body, never the key.
      if (error instanceof HttpError)
        log.warn('webhook rejected', {
          status: error.status,
          reason: error.code,
          details: error.details,
          remoteAddress: req.remoteAddress,
          retryCount: header(req, 'x-retry-count'),
        });
      throw error;
    }
  };

  return [{ method: 'POST', path, handler }];
}
