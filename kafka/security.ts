/**
 * How chatstream's Kafka clients secure their connections — TLS (CA bundle, client
 * certificate, host-name check) and SASL (PLAIN, SCRAM-SHA-256/512) — from the settings, and
 * which connection failures mean "a setting is wrong" (exit 3, naming it) rather than
 * "the broker is not there yet" (retry).
 */
import type { ConnectionOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';
import { ConfigError, EXIT, FatalError } from '../core/errors.ts';
import type { CoreConfig } from '../core/settings.ts';
import { certificateError, tlsOptions } from '../core/tls.ts';

const PREFIX = 'CHATSTREAM_KAFKA';

/** kafkajs's `ssl` and `sasl` options for the configured security protocol. */
export function kafkaSecurity(config: CoreConfig): { ssl?: ConnectionOptions; sasl?: SASLOptions } {
  const k = config.kafka;
  const usesTls = k.securityProtocol === 'SSL' || k.securityProtocol === 'SASL_SSL';
  const usesSasl = k.securityProtocol.startsWith('SASL_');
  const out: { ssl?: ConnectionOptions; sasl?: SASLOptions } = {};
  if (usesTls) {
    out.ssl = {
      ...tlsOptions(PREFIX, {
        ca: k.sslCaLocation,
        certificate: k.sslCertificateLocation,
        key: k.sslKeyLocation,
      }),
      ...(k.sslCheckHostname ? {} : { checkServerIdentity: () => undefined }),
    };
  }
  if (usesSasl) {
    if (!k.saslUsername)
      throw new ConfigError(
        `${PREFIX}_SASL_USERNAME`,
        `is required with CHATSTREAM_KAFKA_SECURITY_PROTOCOL=${k.securityProtocol}`,
      );
    if (!k.saslPassword)
      throw new ConfigError(
        `${PREFIX}_SASL_PASSWORD`,
        `is required with CHATSTREAM_KAFKA_SECURITY_PROTOCOL=${k.securityProtocol} (or set ${PREFIX}_SASL_PASSWORD_FILE)`,
      );
    const mechanism = k.saslMechanism.toLowerCase() as 'plain' | 'scram-sha-256' | 'scram-sha-512';
    out.sasl = { mechanism, username: k.saslUsername, password: k.saslPassword } as SASLOptions;
  }
  return out;
}

/**
 * A Kafka connection failure that no waiting can fix — refused credentials, a certificate that
 * does not verify, a TLS handshake with a plaintext listener — as a FatalError (exit 3) naming
 * the setting; undefined for anything else (the caller retries or reports it).
 */
export function kafkaAccessError(error: unknown): FatalError | undefined {
  const certificate = certificateError(
    'Kafka',
    `${PREFIX}_SSL_CA_LOCATION`,
    error,
    `${PREFIX}_SSL_CHECK_HOSTNAME`,
  );
  if (certificate) return certificate;
  const chain: unknown[] = [];
  for (let e: unknown = error, d = 0; e && d < 5; e = (e as { cause?: unknown }).cause, d++) chain.push(e);
  const names = chain.map((e) => (e as Error)?.name);
  const types = chain.map((e) => (e as { type?: unknown }).type);
  if (names.includes('KafkaJSSASLAuthenticationError') || types.includes('SASL_AUTHENTICATION_FAILED'))
    return new FatalError(
      `Kafka refused the login: ${(error as Error).message}; check ${PREFIX}_SASL_USERNAME and ${PREFIX}_SASL_PASSWORD`,
      {
        code: 'KAFKA_AUTH',
        exitCode: EXIT.config,
        hint: `set ${PREFIX}_SASL_USERNAME / ${PREFIX}_SASL_PASSWORD (or _FILE) to a user the brokers know, with ${PREFIX}_SASL_MECHANISM as they expect it`,
        cause: error,
      },
    );
  if (types.includes('UNSUPPORTED_SASL_MECHANISM') || types.includes('ILLEGAL_SASL_STATE'))
    return new FatalError(`Kafka refused the SASL handshake: ${(error as Error).message}`, {
      code: 'KAFKA_AUTH',
      exitCode: EXIT.config,
      hint: `check ${PREFIX}_SASL_MECHANISM and ${PREFIX}_SECURITY_PROTOCOL against the listener`,
      cause: error,
    });
  const messages = chain.map((e) => String((e as Error)?.message ?? ''));
  if (
    messages.some((m) => /wrong version number|packet length too long|unexpected eof while reading/i.test(m))
  )
    return new FatalError(`Kafka: the TLS handshake failed: ${(error as Error).message}`, {
      code: 'KAFKA_TLS',
      exitCode: EXIT.config,
      hint: `check ${PREFIX}_SECURITY_PROTOCOL and ${PREFIX}_BROKERS: the listener may not speak TLS`,
      cause: error,
    });
  return undefined;
}
