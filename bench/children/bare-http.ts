/**
 * The bare node:http server the webhook receiver is measured against: reads each POST body and
 * answers 204, nothing else. Prints one JSON line {url} once it listens; stops on SIGTERM.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.statusCode = req.method === 'POST' ? 204 : 200;
    res.end();
  });
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const { port } = server.address() as AddressInfo;
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT')]);
server.closeAllConnections();
server.close();
