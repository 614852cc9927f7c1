/** Pure parts of the producer runtime: offset keys as Kafka Connect has them, offset maps, event times. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RetriableError } from '../../core/errors.ts';
import { classifyRegistryError, eventTime } from '../../producers/runtime/encoder.ts';
import {
  canonicalJson,
  OffsetMap,
  offsetKey,
  offsetMessage,
  parseOffsetKey,
} from '../../producers/runtime/offsets.ts';

test('offset keys are canonical JSON [source, partition]: the same partition always gives the same bytes', () => {
  assert.equal(
    offsetKey('freshchat', { resource: 'users', id: 'u1' }),
    '["freshchat",{"id":"u1","resource":"users"}]',
  );
  assert.equal(
    offsetKey('freshchat', { id: 'u1', resource: 'users' }),
    offsetKey('freshchat', { resource: 'users', id: 'u1' }),
  );
  assert.equal(canonicalJson({ b: [1, { d: 2, c: 3 }], a: null }), '{"a":null,"b":[1,{"c":3,"d":2}]}');
  assert.deepEqual(parseOffsetKey('["freshchat",{"resource":"users"}]'), {
    source: 'freshchat',
    partition: { resource: 'users' },
  });
  for (const bad of ['', 'not json', '["x"]', '[1,{}]', '["x",[1]]', '{"a":1}'])
    assert.equal(parseOffsetKey(bad), undefined, bad);
});

test('offset records carry the cursor as JSON; null is a tombstone', () => {
  const message = offsetMessage(
    'freshchat',
    { resource: 'users' },
    { created_from: '2025-01-01T00:00:00.000Z' },
  );
  assert.equal(message.key, '["freshchat",{"resource":"users"}]');
  assert.deepEqual(JSON.parse(String(message.value)), { created_from: '2025-01-01T00:00:00.000Z' });
  assert.equal(offsetMessage('freshchat', { resource: 'users' }, null).value, null);
});

test('an offset map keeps the latest offset per partition, deletes on null, and matches by fields', () => {
  const map = new OffsetMap('freshchat');
  map.set({ resource: 'users', id: 'a' }, { h: '1' });
  map.set({ resource: 'users', id: 'a' }, { h: '2' });
  map.set({ resource: 'users', id: 'b' }, { h: '3' });
  map.set({ resource: 'conversations', id: 'c' }, { h: '4' });
  assert.deepEqual(map.get({ id: 'a', resource: 'users' }), { h: '2' });
  assert.equal(map.matching({ resource: 'users' }).length, 2);
  map.set({ resource: 'users', id: 'b' }, null);
  assert.deepEqual(
    map.matching({ resource: 'users' }).map((o) => o.partition.id),
    ['a'],
  );
  assert.equal(map.size, 2);
});

test('the record time is the first time field holding a timestamp, else now', () => {
  assert.equal(eventTime({ updated_time: null, created_time: 5 }, ['updated_time', 'created_time'], 99), 5);
  assert.equal(eventTime({ updated_time: 7, created_time: 5 }, ['updated_time', 'created_time'], 99), 7);
  assert.equal(eventTime({}, ['created_time'], 99), 99);
  assert.equal(eventTime({ created_time: 'soon' }, ['created_time'], 99), 99);
});

test('registry failures: credentials and rejected schemas are fatal (exit 3), the rest retriable', () => {
  const auth = classifyRegistryError(
    Object.assign(new Error('Unauthorized'), { status: 401 }),
    's-value',
    'X',
  );
  assert.equal((auth as { exitCode?: number }).exitCode, 3);
  assert.match(String((auth as { hint?: string }).hint), /CHATSTREAM_SCHEMA_REGISTRY_USERNAME/);
  const incompatible = classifyRegistryError(
    Object.assign(new Error('incompatible'), { status: 409 }),
    's-value',
    'X',
  );
  assert.equal((incompatible as { exitCode?: number }).exitCode, 3);
  assert.ok(
    classifyRegistryError(Object.assign(new Error('boom'), { status: 500 }), 's', 'X') instanceof
      RetriableError,
  );
  assert.ok(
    classifyRegistryError(
      Object.assign(new Error('ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      's',
      'X',
    ) instanceof RetriableError,
  );
});

test('a transaction is sent in chunks under the size limit, in order, a too large message alone', async () => {
  const { chunkBySize } = await import('../../producers/runtime/transactions.ts');
  const message = (n: number) => ({ key: `k${n}`, value: Buffer.alloc(100) });
  const batch = [
    { topic: 'a', messages: [message(1), message(2), message(3)] },
    { topic: 'b', messages: [message(4), { key: 'big', value: Buffer.alloc(1000) }, message(5)] },
  ];
  const chunks = chunkBySize(batch, 400);
  const flat = chunks.flatMap((c) => c.flatMap((t) => t.messages.map((m) => `${t.topic}:${m.key}`)));
  assert.deepEqual(flat, ['a:k1', 'a:k2', 'a:k3', 'b:k4', 'b:big', 'b:k5']);
  for (const chunk of chunks) {
    const bytes = chunk
      .flatMap((t) => t.messages)
      .reduce((sum, m) => sum + (m.value as Buffer).length + 64, 0);
    assert.ok(bytes <= 400 || chunk.flatMap((t) => t.messages).length === 1, `chunk of ${bytes} bytes`);
  }
});

test('a transaction holds the records, the dead letters, the last offset per partition and the marker', async () => {
  const { transactionMessages, MARKER } = await import('../../producers/runtime/batch.ts');
  const encoded = (topic: string, key: string) => ({
    kind: topic,
    topic,
    key,
    value: Buffer.from(key),
    timestamp: 5,
  });
  const pages = [
    {
      page: { records: [], offsets: [{ partition: { resource: 'users', id: 'u' }, offset: { h: '1' } }] },
      encoded: { encoded: [encoded('t.users', 'u')], rejected: [], added: [] },
    },
    {
      page: { records: [], offsets: [{ partition: { id: 'u', resource: 'users' }, offset: { h: '2' } }] },
      encoded: {
        encoded: [],
        rejected: [
          { kind: 'freshchat.users', topic: 't.users', key: 'x', value: { id: 'x' }, reason: 'does not fit' },
        ],
        added: [],
      },
    },
  ];
  const out = transactionMessages(
    'freshchat',
    pages,
    { offsets: 'offs', deadLetters: 'dlq' },
    'txn-1',
    new Date(0),
  );
  const byTopic = Object.fromEntries(out.map((t) => [t.topic, t.messages]));
  assert.equal(byTopic['t.users']?.[0]?.timestamp, '5');
  assert.equal(byTopic.dlq?.[0]?.headers?.['dlq.reason'], 'does not fit');
  assert.equal(byTopic.dlq?.[0]?.headers?.['dlq.source'], 'freshchat');
  const offsets = (byTopic.offs ?? []).map((m) => [m.key, JSON.parse(String(m.value))]);
  assert.deepEqual(offsets, [
    ['["freshchat",{"id":"u","resource":"users"}]', { h: '2' }],
    [offsetKey('freshchat', MARKER), { transaction: 'txn-1', time: '1970-01-01T00:00:00.000Z' }],
  ]);
});

test('dead-letter JSON is cut on bytes, so non-Latin text still fits one Kafka record', async () => {
  const { truncated } = await import('../../producers/runtime/batch.ts');
  const korean = '안'.repeat(300_000); // 900,000 bytes in UTF-8
  const cut = truncated(JSON.stringify(korean));
  assert.ok(Buffer.byteLength(cut) <= 512 * 1024 + 100, `${Buffer.byteLength(cut)} bytes`);
  assert.match(cut, /truncated from 900002 bytes/);
  assert.equal(truncated('{"a":1}'), '{"a":1}');
});
