/**
 * The sink runner's one decision table (consumers/runner/decisions.ts) on kafkajs's own error
 * classes: what Kafka refuses is exit 3 even when kafkajs's retrier wraps it in an aggregate.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { decide } from '../../consumers/runner/decisions.ts';
import { EXIT } from '../../core/errors.ts';

// kafkajs's typings leave out some of the error classes it exports.
type ErrorClass = new (...args: unknown[]) => Error;
const { KafkaJSAggregateError, KafkaJSCreateTopicError, KafkaJSProtocolError } = kafkajs as unknown as {
  KafkaJSAggregateError: ErrorClass;
  KafkaJSCreateTopicError: ErrorClass;
  KafkaJSProtocolError: ErrorClass;
};

/** kafkajs's protocol error for a broker error code (29 TOPIC_AUTHORIZATION_FAILED, 38 INVALID_REPLICATION_FACTOR, …). */
function protocolError(code: number, type: string): Error {
  return new KafkaJSProtocolError({ type, code, retriable: false, message: `${type} from the broker` });
}

test('a refusal inside a KafkaJSAggregateError (the retrier giving up) stops with exit 3 and a hint, not exit 5', () => {
  for (const [code, type, hint] of [
    [29, 'TOPIC_AUTHORIZATION_FAILED', /grant the sink/],
    [38, 'INVALID_REPLICATION_FACTOR', /CHATSTREAM_KAFKA_REPLICATION_FACTOR/],
    [40, 'INVALID_CONFIG', /topic settings/],
    [44, 'POLICY_VIOLATION', /topic policy/],
  ] as const) {
    const inner = new KafkaJSCreateTopicError(protocolError(code, type), 'chatstream.dead_letters');
    const aggregate = new KafkaJSAggregateError('Topic creation errors', [inner]);
    const decision = decide(aggregate);
    assert.equal(decision.action, 'stop', type);
    if (decision.action !== 'stop') continue;
    assert.equal(decision.error.exitCode, EXIT.config, type);
    assert.equal(decision.error.code, 'KAFKA_REFUSED', type);
    assert.match(decision.error.hint ?? '', hint, type);
  }
});

test('a plain Kafka failure kafkajs gives up on is a service error (exit 5), a rebalance a rejoin', () => {
  const gaveUp = new KafkaJSAggregateError('Topic creation errors', [
    new KafkaJSCreateTopicError(protocolError(7, 'REQUEST_TIMED_OUT'), 't'),
  ]);
  const decision = decide(gaveUp);
  assert.equal(decision.action, 'stop');
  if (decision.action === 'stop') assert.equal(decision.error.exitCode, EXIT.service);
  assert.equal(decide(protocolError(27, 'REBALANCE_IN_PROGRESS')).action, 'rejoin');
});
