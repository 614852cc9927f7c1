/**
 * The one place that builds @clickhouse/client clients from the settings: URL (http or
 * https), user and password, and for https a CA bundle and an optional client certificate
 * (CHATSTREAM_CLICKHOUSE_SSL_*). The sink, the tests and the benchmarks all connect through it.
 */
import {
  type ClickHouseClient,
  type ClickHouseClientConfigOptions,
  ClickHouseLogLevel,
  createClient,
} from '@clickhouse/client';

import { ConfigError } from '../../../core/errors.ts';
import type { CoreConfig } from '../../../core/settings.ts';
import { tlsOptions } from '../../../core/tls.ts';

const PREFIX = 'CHATSTREAM_CLICKHOUSE';

/** The client's `tls` option: undefined when no CA is configured (the system's CAs apply). */
export function clickhouseTls(config: CoreConfig): ClickHouseClientConfigOptions['tls'] {
  const { sslCaLocation, sslCertificateLocation, sslKeyLocation } = config.clickhouse;
  const pem = tlsOptions(PREFIX, {
    ca: sslCaLocation,
    certificate: sslCertificateLocation,
    key: sslKeyLocation,
  });
  if (pem.cert && !pem.ca)
    throw new ConfigError(
      `${PREFIX}_SSL_CA_LOCATION`,
      'is required with a client certificate',
      "set it to the CA that signed the server's certificate",
    );
  if (!pem.ca) return undefined;
  const caCert = Buffer.from(pem.ca as string);
  return pem.cert
    ? { ca_cert: caCert, cert: Buffer.from(pem.cert as string), key: Buffer.from(pem.key as string) }
    : { ca_cert: caCert };
}

export function createClickHouseClient(
  config: CoreConfig,
  overrides: Partial<ClickHouseClientConfigOptions> = {},
): ClickHouseClient {
  const { url, user, password } = config.clickhouse;
  const tls = clickhouseTls(config);
  return createClient({
    url,
    username: user,
    password,
    ...(tls ? { tls } : {}),
    // Failures are classified and logged by the caller; the client's own error dump is noise.
    log: { level: ClickHouseLogLevel.OFF },
    // Settings 18.16 does not know are refused: send none by default.
    clickhouse_settings: {},
    ...overrides,
  });
}
