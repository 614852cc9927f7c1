/**
 * The bad-rows path of the collector: the body of a refused request, with the reason, to the
 * bad-rows topic — in the background (a 4xx never waits on Kafka), with a bound on writes in
 * flight (a flood of bad requests costs a counter, not memory), cut to BAD_ROW_MAX_BYTES, and
 * with the PII policy applied: a JSON body has its e-mail and phone values handled like the
 * good records; a body that is not JSON is kept only as its size and hash when the policy
 * does not keep PII (it cannot be searched for them).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from '../../core/log.ts';
import type { HttpError } from '../http/errors.ts';
import type { RefusedInput, SourceRecord } from '../source.ts';
import { type PiiPolicy, scrubJsonText } from './pii.ts';

/** Largest bad row kept (bytes); a larger body is cut (header `dlq.truncated_from`). */
export const BAD_ROW_MAX_BYTES = 64 * 1024;
/** Bad rows being written at once; more are counted as not stored. */
const MAX_IN_FLIGHT = 64;

export interface BadRowContext {
  client: string | null;
  userAgent: string | undefined;
}

export class BadRows {
  private inFlight = 0;
  private readonly options: {
    topic: string;
    pii: PiiPolicy;
    write: (page: { records: SourceRecord[]; refused: RefusedInput[] }) => Promise<void>;
    counted: (stored: boolean) => void;
    log: Logger;
  };

  constructor(options: BadRows['options']) {
    this.options = options;
  }

  /** The stored value: the body, or with PII handled, or its size and hash. */
  private value(raw: Buffer): Buffer {
    const { pii } = this.options;
    if (pii.email === 'keep' && pii.phone === 'keep') return raw;
    const scrubbed = scrubJsonText(pii, raw);
    if (scrubbed !== undefined) return Buffer.from(scrubbed);
    const sha256 = createHash('sha256').update(raw).digest('hex');
    return Buffer.from(JSON.stringify({ unparsed: true, bytes: raw.length, sha256 }));
  }

  /** Queues the bad row; never throws, never waits. */
  record(raw: Buffer, error: HttpError, context: BadRowContext): void {
    const { log, counted } = this.options;
    if (this.inFlight >= MAX_IN_FLIGHT) {
      counted(false);
      return;
    }
    const value = this.value(raw);
    const refused: RefusedInput = {
      topic: this.options.topic,
      key: randomUUID(),
      value: value.subarray(0, BAD_ROW_MAX_BYTES),
      kind: error.code,
      reason: `${error.status} ${error.code}: ${error.message}${error.details === undefined ? '' : ` ${JSON.stringify(error.details)}`}`,
      headers: {
        'dlq.client': context.client ?? '',
        'dlq.user_agent': (context.userAgent ?? '').slice(0, 512),
        ...(value.length > BAD_ROW_MAX_BYTES ? { 'dlq.truncated_from': String(value.length) } : {}),
      },
    };
    this.inFlight++;
    this.options
      .write({ records: [], refused: [refused] })
      .then(
        () => counted(true),
        (writeError: unknown) => {
          // The answer was the 4xx; the bad row itself could not be kept (Kafka away).
          counted(false);
          log.warn('bad row not stored', { reason: error.code, error: (writeError as Error).message });
        },
      )
      .finally(() => {
        this.inFlight--;
      });
  }
}
