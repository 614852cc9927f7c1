/**
 * Freshchat webhook signatures: `X-Freshchat-Signature` is base64 RSA-SHA256 (PKCS#1 v1.5) over
 * the exact raw body bytes, checked with the account's RSA public key (SOURCES.md 2.5).
 * The key is accepted the ways operators paste it: PEM (SPKI or PKCS#1), one line with literal
 * `\n`, no line breaks at all, or wrapped in quotes.
 */
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { PublicKeyError } from './errors.ts';

export type SignatureCheck = 'ok' | 'missing' | 'malformed' | 'mismatch';

const PEM = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END ([A-Z ]+)-----/;
const LABELS = new Set(['PUBLIC KEY', 'RSA PUBLIC KEY']);
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function unwrap(text: string): string {
  return text
    .trim()
    .replace(/^["'`]+|["'`]+$/g, '')
    .replace(/\\r\\n|\\n|\\r/g, '\n')
    .trim();
}

function pem(label: string, base64: string): string {
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function toPem(text: string): string[] {
  if (text === '') throw new PublicKeyError('it is empty');
  if (/PRIVATE KEY-----/.test(text))
    throw new PublicKeyError(
      "this is a private key; paste the account's public key from the webhook settings",
    );
  const block = PEM.exec(text);
  if (!block) {
    const bare = text.replace(/\s+/g, '');
    if (!BASE64.test(bare))
      throw new PublicKeyError('not a PEM block (-----BEGIN PUBLIC KEY-----) nor base64');
    return [pem('PUBLIC KEY', bare), pem('RSA PUBLIC KEY', bare)];
  }
  const [, label = '', body = '', endLabel] = block;
  if (!LABELS.has(label))
    throw new PublicKeyError(
      `a "${label}" block is not a public key (expected PUBLIC KEY or RSA PUBLIC KEY)`,
    );
  if (endLabel !== label) throw new PublicKeyError(`BEGIN ${label} does not match END ${endLabel}`);
  const base64 = body.replace(/\s+/g, '');
  if (!BASE64.test(base64)) throw new PublicKeyError('the PEM body is not base64');
  return [pem(label, base64)];
}

/** A KeyObject for the RSA public key in `text`; PublicKeyError naming the problem otherwise. */
export function normalizePublicKey(text: string): KeyObject {
  const unwrapped = unwrap(text);
  let key: KeyObject | undefined;
  for (const candidate of toPem(unwrapped)) {
    try {
      key = createPublicKey(candidate);
      break;
    } catch {
      // try the next reading
    }
  }
  if (!key)
    throw new PublicKeyError(
      unwrapped.includes('-----BEGIN')
        ? 'the key data could not be read (damaged or truncated?)'
        : 'not a PEM block (-----BEGIN PUBLIC KEY-----) nor a base64 key',
    );
  if (key.asymmetricKeyType !== 'rsa')
    throw new PublicKeyError(`not an RSA key (it is ${key.asymmetricKeyType ?? 'of an unknown type'})`);
  return key;
}

/** Checks the `X-Freshchat-Signature` header against the exact raw body bytes. */
export function verifySignature(
  rawBody: Buffer,
  signatureHeader: string | undefined,
  key: KeyObject,
): SignatureCheck {
  const text = signatureHeader?.trim() ?? '';
  if (text === '') return 'missing';
  if (!BASE64.test(text) || text.length % 4 === 1) return 'malformed';
  const signature = Buffer.from(text, 'base64');
  try {
    // PKCS#1 v1.5 is the default padding of an RSA KeyObject; passed as is, the key is not prepared again per call.
    const ok = verify('sha256', rawBody, key, signature);
    return ok ? 'ok' : 'mismatch';
  } catch {
    // A signature of the wrong length for this key: made with another key.
    return 'mismatch';
  }
}
