/** Starts chatstream's schema registry: replay `_schemas`, then serve the REST API. */
import type { AddressInfo } from 'node:net';
import { ConfigError, ServiceError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { CoreConfig } from '../core/settings.ts';
import { readPem } from '../core/tls.ts';
import { checkKafkaAccess } from '../kafka/access.ts';
import { createKafka } from '../kafka/client.ts';
import { createRegistryServer } from './http.ts';
import { KafkaRecordLog } from './kafka-log.ts';
import { SchemaRegistry } from './registry.ts';
import { RegistryState } from './state.ts';

export interface RunningRegistry {
  url: string;
  registry: SchemaRegistry;
  close(): Promise<void>;
}

/** The HTTPS certificate and key when both are configured; one without the other names the missing setting. */
function serverTls(config: CoreConfig): { cert: string; key: string } | undefined {
  const { tlsCertificateLocation: cert, tlsKeyLocation: key } = config.registry;
  if (!cert && !key) return undefined;
  if (!cert || !key)
    throw new ConfigError(
      cert ? 'CHATSTREAM_REGISTRY_TLS_KEY_LOCATION' : 'CHATSTREAM_REGISTRY_TLS_CERTIFICATE_LOCATION',
      'is not set, but the other half of the HTTPS certificate is',
    );
  return {
    cert: readPem('CHATSTREAM_REGISTRY_TLS_CERTIFICATE_LOCATION', cert),
    key: readPem('CHATSTREAM_REGISTRY_TLS_KEY_LOCATION', key),
  };
}

export async function startRegistry(config: CoreConfig, log: Logger): Promise<RunningRegistry> {
  const { host, port, topic, compatibility, user, password } = config.registry;
  const tls = serverTls(config);
  await checkKafkaAccess(config);
  const state = new RegistryState();
  const store = new KafkaRecordLog(createKafka(config, { role: 'registry' }), topic, state, log);
  await store.start();
  const registry = new SchemaRegistry(state, store, compatibility);
  const server = createRegistryServer(registry, { log, auth: user ? { user, password } : undefined, tls });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new ServiceError(
              'registry',
              `port ${port} (CHATSTREAM_REGISTRY_PORT) is already in use by another process`,
              {
                code: 'PORT_IN_USE',
              },
            )
          : error,
      ),
    );
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  const url = `${tls ? 'https' : 'http'}://${address.address}:${address.port}`;
  log.info('schema registry listening', { url, topic, compatibility });
  return {
    url,
    registry,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await store.stop();
    },
  };
}
