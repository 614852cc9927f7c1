import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs, { type Kafka } from 'kafkajs';
import { EXIT, ServiceError } from '../../core/errors.ts';
import { createLogger } from '../../core/log.ts';
import { schemasEnd } from '../../registry/kafka-start.ts';
import { notLeaderError } from '../helpers/kafka-errors.ts';

const log = createLogger('test');
const notLeader = notLeaderError;

/** A Kafka whose admin answers fetchTopicOffsets with `answer` (called once per try). */
function fakeKafka(answer: (call: number) => unknown) {
  const seen = { calls: 0, disconnects: 0, retries: [] as unknown[] };
  const kafka = {
    admin: (options: { retry?: unknown }) => {
      seen.retries.push(options?.retry);
      return {
        connect: async () => {},
        disconnect: async () => {
          seen.disconnects += 1;
        },
        listTopics: async () => ['_schemas'],
        fetchTopicOffsets: async () => {
          seen.calls += 1;
          const result = answer(seen.calls);
          if (result instanceof Error) throw result;
          return result;
        },
      };
    },
  } as unknown as Kafka;
  return { kafka, seen };
}

test('the registry start reads where _schemas ends after "not the leader" answers, and lets go of its admin', async () => {
  const { kafka, seen } = fakeKafka((call) =>
    call < 3 ? notLeader() : [{ partition: 0, offset: '42', high: '42', low: '0' }],
  );
  assert.equal(await schemasEnd(kafka, '_schemas', log, 10_000), 42);
  assert.equal(seen.calls, 3);
  assert.equal(seen.disconnects, 1);
  // kafkajs' own retries are off: the step's time bounds the whole wait.
  assert.deepEqual(seen.retries, [{ retries: 0 }]);
});

test('Kafka not ready for the whole start time, or failing otherwise: exit 5 naming Kafka, never an internal error', {
  timeout: 10_000,
}, async () => {
  const refused = fakeKafka(
    () => new kafkajs.KafkaJSConnectionError('Connection error: connect ECONNREFUSED'),
  );
  const started = Date.now();
  await assert.rejects(schemasEnd(refused.kafka, '_schemas', log, 100), (error: unknown) => {
    assert.ok(error instanceof ServiceError, String(error));
    assert.equal(error.exitCode, EXIT.service);
    assert.match(error.message, /^kafka: reading the schemas topic _schemas: .*ECONNREFUSED/);
    return true;
  });
  assert.ok(Date.now() - started >= 100, 'it retried for its time');
  assert.ok(refused.seen.calls > 1);
  assert.equal(refused.seen.disconnects, 1);

  // kafkajs' plain Error for a broker that accepts connections and never answers.
  const silent = fakeKafka(() => new Error('Broker not connected'));
  await assert.rejects(schemasEnd(silent.kafka, '_schemas', log, 10_000), (error: unknown) => {
    assert.ok(error instanceof ServiceError, String(error));
    assert.match(error.message, /Broker not connected/);
    return true;
  });
  assert.equal(silent.seen.calls, 1, 'not retried: not a retriable failure');
});
