/** Starts chatstream's schema registry: replay `_schemas`, then serve the REST API. */
import type { AddressInfo } from 'node:net';
import { ServiceError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { CoreConfig } from '../core/settings.ts';
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

export async function startRegistry(config: CoreConfig, log: Logger): Promise<RunningRegistry> {
  const { host, port, topic, compatibility, user, password } = config.registry;
  const state = new RegistryState();
  const store = new KafkaRecordLog(createKafka(config, { role: 'registry' }), topic, state, log);
  await store.start();
  const registry = new SchemaRegistry(state, store, compatibility);
  const server = createRegistryServer(registry, { log, auth: user ? { user, password } : undefined });
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
  const url = `http://${address.address}:${address.port}`;
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
