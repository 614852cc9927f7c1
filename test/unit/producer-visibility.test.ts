/**
 * What a transactional writer waits for before it closes: the read-committed end of every
 * partition it wrote must be past the last base offset it wrote there (the commit markers are
 * written). Pure logic against a fake admin's answers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Admin } from 'kafkajs';
import { WrittenOffsets } from '../../producers/runtime/visibility.ts';

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
