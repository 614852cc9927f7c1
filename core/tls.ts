/**
 * TLS from the settings, shared by every client (Kafka, ClickHouse, the schema registry): PEM
 * files named by `<PREFIX>_SSL_*_LOCATION` settings, and the one decision on a server
 * certificate that does not verify — a wrong setting (exit 3, naming it), never a retry.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError, EXIT, FatalError } from './errors.ts';

/** Reads a PEM file named by a setting; a missing or unreadable file names the setting. */
export function readPem(setting: string, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(setting, `cannot read ${path} (${(error as NodeJS.ErrnoException).code})`);
  }
  if (!text.includes('-----BEGIN '))
    throw new ConfigError(setting, `${path} is not a PEM file (no "-----BEGIN" line)`);
  return text;
}

/**
 * TLS options from a CA bundle, client certificate and key, each a PEM file named by the
 * setting `<prefix>_SSL_CA_LOCATION` etc. A certificate without its key (or the reverse) is
 * refused, naming the missing one.
 */
export function tlsOptions(
  prefix: string,
  files: { ca?: string; certificate?: string; key?: string },
): Pick<ConnectionOptions, 'ca' | 'cert' | 'key'> {
  const cert = `${prefix}_SSL_CERTIFICATE_LOCATION`;
  const key = `${prefix}_SSL_KEY_LOCATION`;
  if (files.certificate && !files.key)
    throw new ConfigError(key, 'is not set, but a client certificate is', `set ${key} to its private key`);
  if (files.key && !files.certificate)
    throw new ConfigError(cert, 'is not set, but a client key is', `set ${cert} to its certificate`);
  return {
    ...(files.ca ? { ca: readPem(`${prefix}_SSL_CA_LOCATION`, files.ca) } : {}),
    ...(files.certificate ? { cert: readPem(cert, files.certificate) } : {}),
    ...(files.key ? { key: readPem(key, files.key) } : {}),
  };
}

/** Node's codes for a peer certificate that does not verify against the CA or the host name. */
export const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * Node's messages for those codes, for clients that keep only the message (the registry
 * library wraps a TLS failure in a "status 400" error without its code or cause).
 */
const CERTIFICATE_MESSAGES: [RegExp, string][] = [
  [/self[- ]signed certificate in certificate chain/i, 'SELF_SIGNED_CERT_IN_CHAIN'],
  [/self[- ]signed certificate/i, 'DEPTH_ZERO_SELF_SIGNED_CERT'],
  [/unable to verify the first certificate/i, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
  [/unable to get local issuer certificate/i, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'],
  [/certificate has expired/i, 'CERT_HAS_EXPIRED'],
  [/certificate is not yet valid/i, 'CERT_NOT_YET_VALID'],
  [/does not match certificate's altnames/i, 'ERR_TLS_CERT_ALTNAME_INVALID'],
];

/** The certificate-failure code in an error or its causes (or, failing that, their messages), if any. */
export function certificateCode(error: unknown): string | undefined {
  let current: unknown = error;
  const messages: string[] = [];
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && CERTIFICATE_CODES.has(code)) return code;
    const message = (current as { message?: unknown }).message;
    if (typeof message === 'string') messages.push(message);
    current = (current as { cause?: unknown }).cause;
  }
  for (const message of messages)
    for (const [pattern, code] of CERTIFICATE_MESSAGES) if (pattern.test(message)) return code;
  return undefined;
}

/** A certificate that does not verify: exit 3 naming the CA setting (and the host-name one when it is the name). */
export function certificateError(
  service: string,
  caSetting: string,
  error: unknown,
  hostnameSetting?: string,
): FatalError | undefined {
  const code = certificateCode(error);
  if (!code) return undefined;
  const name = code === 'ERR_TLS_CERT_ALTNAME_INVALID';
  return new FatalError(
    `${service}: the server's TLS certificate does not verify (${code})${name ? '' : ` against ${caSetting}`}`,
    {
      code: 'TLS_CERTIFICATE',
      exitCode: EXIT.config,
      hint: name
        ? `connect with the host name the certificate names${hostnameSetting ? `, or set ${hostnameSetting}=false for a test server` : ''}`
        : `set ${caSetting} to the PEM file of the CA that signed the server's certificate`,
      cause: error,
    },
  );
}
