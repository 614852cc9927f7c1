/**
 * What a transactional writer waits for before it closes: the read-committed end of every
 * partition it wrote must be past the last base offset it wrote there (the commit markers are
 * written). Pure logic against a fake admin's answers.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import type { Admin } from 'kafkajs';
import { Kafka, logLevel } from 'kafkajs';
import { WrittenOffsets, waitVisible } from '../../producers/runtime/visibility.ts';

function admin(ends: Record<string, Record<number, number>>): Admin {
  return {
    fetchTopicOffsets: async (topic: string) =>
      Object.entries(ends[topic] ?? {}).map(([partition, offset]) => ({
        partition: Number(partition),
        offset: String(offset),
        high: String(offset),
        low: '0',
      })),
  } as unknown as Admin;
}

test('a topic is pending until its read-committed end passes the highest base offset written to each partition', async () => {
  const written = new WrittenOffsets();
  written.note([
    { topicName: 'a', partition: 0, baseOffset: '10', errorCode: 0 },
    { topicName: 'a', partition: 1, baseOffset: '3', errorCode: 0 },
    { topicName: 'a', partition: 0, baseOffset: '7', errorCode: 0 },
  ]);
  const later = new WrittenOffsets();
  later.note([{ topicName: 'b', partition: 2, baseOffset: '0', errorCode: 0 }]);
  written.add(later);
  // The open transaction holds the ends at its first offset; a marker moves them past.
  assert.deepEqual(await written.pending(admin({ a: { 0: 10, 1: 4 }, b: { 2: 0 } })), ['a', 'b']);
  assert.deepEqual(await written.pending(admin({ a: { 0: 12, 1: 4 }, b: { 2: 0 } })), ['b']);
  assert.deepEqual(await written.pending(admin({ a: { 0: 12, 1: 5 }, b: { 2: 2 } })), []);
});

test('waitVisible gives up at its deadline when the broker accepts connections and never answers', async () => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => {
    sockets.add(socket); // accepted, never answered
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as { port: number }).port;
  const kafka = new Kafka({ brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING });
  const written = new WrittenOffsets();
  written.note([{ topicName: 'a', partition: 0, baseOffset: '1', errorCode: 0 }]);
  const warnings: string[] = [];
  const log = { warn: (message: string) => warnings.push(message), debug: () => undefined };
  try {
    const started = Date.now();
    await waitVisible(kafka, written, 300, log as never);
    const waited = Date.now() - started;
    // kafkajs alone would wait out its 30 s request timeout (and retries) on this socket.
    assert.ok(waited < 5_000, `returned after ${waited} ms`);
    assert.equal(warnings.length, 1, 'the missed deadline is reported');
  } finally {
    for (const socket of sockets) socket.destroy();
    silent.close();
  }
});
