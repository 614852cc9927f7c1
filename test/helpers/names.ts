/** Random names and ports so tests never collide with each other or with real data. */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** A port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Environment for a second, throw-away local stack in `home` on free ports, sharing the download cache. */
export async function isolatedStackEnv(home: string, cacheDir: string): Promise<NodeJS.ProcessEnv> {
  return {
    ...process.env,
    CHATSTREAM_STACK_HOME: home,
    CHATSTREAM_STACK_CACHE_DIR: cacheDir,
    CHATSTREAM_KAFKA_PORT: String(await freePort()),
    CHATSTREAM_KAFKA_CONTROLLER_PORT: String(await freePort()),
    CHATSTREAM_CLICKHOUSE_HTTP_PORT: String(await freePort()),
    CHATSTREAM_CLICKHOUSE_TCP_PORT: String(await freePort()),
    CHATSTREAM_REGISTRY_PORT: String(await freePort()),
    CHATSTREAM_KAFKA_BROKERS: '',
    CHATSTREAM_CLICKHOUSE_URL: '',
    CHATSTREAM_SCHEMA_REGISTRY_URL: '',
    CHATSTREAM_LOG_FORMAT: 'json',
  };
}
