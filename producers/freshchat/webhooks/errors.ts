/**
 * Errors of the Freshchat webhook receiver's pure parts. Local for now; they move into
 * core/errors.ts with the project-wide error model.
 */

/** The payload is not a Freshchat webhook we can map; `field` names the offending part (dotted path). */
export class WebhookPayloadError extends Error {
  readonly code = 'INVALID_PAYLOAD';
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field} ${message}`);
    this.name = 'WebhookPayloadError';
    this.field = field;
  }
}

/** The configured Freshchat public key cannot be used (not PEM, not RSA, a private key, …). */
export class PublicKeyError extends Error {
  readonly code = 'PUBLIC_KEY_INVALID';
  constructor(message: string) {
    super(`Freshchat webhook public key: ${message}`);
    this.name = 'PublicKeyError';
  }
}
