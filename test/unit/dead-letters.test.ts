import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deadLetterMessages, REASON_MAX_LENGTH } from '../../kafka/dead-letters.ts';

test('dead-letter messages keep key and value, and carry reason, kind, origin, component and time', () => {
  const time = new Date('2026-01-02T03:04:05.678Z');
  const [message, producer = { value: null }] = deadLetterMessages(
    [
      {
        key: Buffer.from('k'),
        value: Buffer.from([0, 1, 2]),
        kind: 'undecodable',
        reason: 'x'.repeat(REASON_MAX_LENGTH + 10),
        headers: { 'dlq.topic': 'freshchat.messages', 'dlq.partition': '2', 'dlq.offset': '41' },
      },
      {
        key: 'u-1',
        value: '{"id":1}',
        kind: 'bad_data',
        reason: 'id: expected a string',
        headers: { 'dlq.source': 'freshchat', 'dlq.resource': 'users' },
      },
    ],
    { 'dlq.sink': 'clickhouse' },
    time,
  );
  assert.deepEqual(message?.key, Buffer.from('k'));
  assert.deepEqual(message?.value, Buffer.from([0, 1, 2]));
  const headers = message?.headers as Record<string, string>;
  assert.equal(headers['dlq.reason']?.length, REASON_MAX_LENGTH);
  assert.deepEqual(
    { ...headers, 'dlq.reason': undefined },
    {
      'dlq.reason': undefined,
      'dlq.kind': 'undecodable',
      'dlq.topic': 'freshchat.messages',
      'dlq.partition': '2',
      'dlq.offset': '41',
      'dlq.sink': 'clickhouse',
      'dlq.time': '2026-01-02T03:04:05.678Z',
    },
  );
  const fromProducer = producer.headers as Record<string, string>;
  assert.equal(producer.key, 'u-1');
  assert.equal(fromProducer['dlq.resource'], 'users');
  assert.equal(fromProducer['dlq.reason'], 'id: expected a string');
});

test('the origin cannot overwrite the reason, kind or time', () => {
  const [message] = deadLetterMessages(
    [
      {
        key: null,
        value: null,
        kind: 'bad_data',
        reason: 'why',
        headers: { 'dlq.kind': 'other', 'dlq.time': 'x' },
      },
    ],
    {},
    new Date(0),
  );
  const headers = message?.headers as Record<string, string>;
  assert.equal(headers['dlq.kind'], 'bad_data');
  assert.equal(headers['dlq.time'], '1970-01-01T00:00:00.000Z');
});
