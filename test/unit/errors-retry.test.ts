import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import {
  ChatstreamError,
  EXIT,
  FatalError,
  isNetworkError,
  isRetriable,
  PoisonError,
  RetriableError,
  ServiceError,
} from '../../core/errors.ts';
import { backoffMs, sleep, withRetries, withRetriesFor } from '../../core/retry.ts';
import { notLeaderError } from '../helpers/kafka-errors.ts';

const connectionError = () => new kafkajs.KafkaJSConnectionError('Connection error: broker went away');

test('one hierarchy: retriable, poison and fatal errors are ChatstreamErrors with a code and an exit code', () => {
  const retriable = new RetriableError('ClickHouse unreachable', { cause: new Error('ECONNREFUSED') });
  assert.ok(retriable instanceof ChatstreamError);
  assert.equal(retriable.name, 'RetriableError');
  assert.equal(retriable.retriable, true);
  assert.equal(retriable.exitCode, EXIT.service);
  assert.match(String((retriable.cause as Error).message), /ECONNREFUSED/);

  const poison = new PoisonError('bad_data', 'not a number');
  assert.ok(poison instanceof ChatstreamError);
  assert.deepEqual([poison.name, poison.kind, poison.retriable], ['PoisonError', 'bad_data', false]);

  const fatal = new FatalError('wrong password; check CHATSTREAM_CLICKHOUSE_PASSWORD', {
    code: 'AUTH_FAILED',
    exitCode: EXIT.config,
    hint: 'set the password',
  });
  assert.ok(fatal instanceof ChatstreamError);
  assert.deepEqual(
    [fatal.name, fatal.code, fatal.exitCode, fatal.retriable, fatal.hint],
    ['FatalError', 'AUTH_FAILED', EXIT.config, false, 'set the password'],
  );
});

test('isRetriable: ChatstreamError.retriable decides; kafkajs flags and network failures count, down the cause chain', () => {
  assert.equal(isRetriable(new RetriableError('later')), true);
  assert.equal(isRetriable(new PoisonError('bad_data', 'never')), false);
  assert.equal(isRetriable(new ServiceError('kafka', 'down', { code: 'DOWN', retriable: true })), true);
  assert.equal(isRetriable(new Error('a bug')), false);
  assert.equal(isRetriable(undefined), false);
  assert.equal(isRetriable('a string'), false);

  assert.equal(isRetriable(connectionError()), true);
  assert.equal(isRetriable(new kafkajs.KafkaJSNonRetriableError('no')), false);
  // kafkajs' own retrier gives up with a non-retriable error whose cause is the transient one.
  const Exhausted = kafkajs.KafkaJSNumberOfRetriesExceeded as unknown as new (
    e: Error,
    m: { retryCount: number; retryTime: number },
  ) => Error;
  const exhausted = new Exhausted(connectionError(), { retryCount: 5, retryTime: 1000 });
  assert.equal(isRetriable(exhausted), true, 'kafkajs gave up on a transient failure: we keep trying');
  assert.equal(
    isRetriable(Object.assign(new Error('nope'), { retriable: true })),
    false,
    'only kafkajs errors',
  );

  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
  assert.equal(isRetriable(refused), true);
  assert.equal(isRetriable(new Error('insert failed', { cause: refused })), true);
  assert.equal(
    isRetriable(new FatalError('stop', { code: 'X', exitCode: EXIT.service, cause: refused })),
    false,
    'an explicit decision wins over its cause',
  );
});

test('isNetworkError: connection-level codes and messages, here or in a cause', () => {
  assert.equal(isNetworkError(Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' })), true);
  assert.equal(isNetworkError(new Error('socket hang up')), true);
  assert.equal(isNetworkError(new Error('outer', { cause: new Error('read ECONNRESET') })), true);
  assert.equal(isNetworkError(new Error('Code: 27. Cannot parse input')), false);
});

test('back-off grows exponentially with jitter up to the cap; only retriable errors are retried', async () => {
  const policy = { initialMs: 100, maxMs: 1000 };
  assert.equal(
    backoffMs(0, policy, () => 0),
    50,
  );
  assert.equal(
    backoffMs(0, policy, () => 1),
    100,
  );
  assert.equal(
    backoffMs(3, policy, () => 1),
    800,
  );
  assert.equal(
    backoffMs(10, policy, () => 1),
    1000,
  );
  let calls = 0;
  const result = await withRetries(
    async () => {
      calls += 1;
      if (calls < 3) throw new RetriableError('not yet');
      return 'done';
    },
    { initialMs: 1, maxMs: 2 },
  );
  assert.deepEqual([result, calls], ['done', 3]);
  calls = 0;
  await assert.rejects(
    withRetries(async () => {
      calls += 1;
      throw new Error('a bug');
    }, policy),
    /a bug/,
  );
  assert.equal(calls, 1, 'programming errors are never retried');
});

test('withRetries retries retriable kafkajs errors too, and stops when the signal aborts', async () => {
  let calls = 0;
  const result = await withRetries(
    async () => {
      calls += 1;
      if (calls < 2) throw connectionError();
      return 'done';
    },
    { initialMs: 1, maxMs: 2 },
  );
  assert.deepEqual([result, calls], ['done', 2]);

  const stop = new AbortController();
  const started = Date.now();
  setTimeout(() => stop.abort(), 50);
  await assert.rejects(
    withRetries(
      async () => {
        throw new RetriableError('down');
      },
      { initialMs: 60_000, maxMs: 60_000 },
      { signal: stop.signal },
    ),
    /down/,
  );
  assert.ok(Date.now() - started < 5_000, 'the abort ends the wait');
});

test('sleep resolves early, without throwing, when the signal aborts', async () => {
  const stop = new AbortController();
  const started = Date.now();
  setTimeout(() => stop.abort(), 20);
  await sleep(60_000, stop.signal);
  assert.ok(Date.now() - started < 5_000);
  await sleep(60_000, stop.signal); // already aborted: at once
  await sleep(1);
});

test('withRetriesFor retries "not the leader" until it works, gives up after its time, and throws the rest at once', {
  timeout: 10_000,
}, async () => {
  const notLeader = notLeaderError;
  const policy = { initialMs: 1, maxMs: 5 };
  let calls = 0;
  const retried: number[] = [];
  const value = await withRetriesFor(
    async () => {
      calls += 1;
      if (calls < 3) throw notLeader();
      return 'end offset';
    },
    policy,
    10_000,
    (_error, attempt) => retried.push(attempt),
  );
  assert.equal(value, 'end offset');
  assert.deepEqual(retried, [1, 2]);

  const started = Date.now();
  await assert.rejects(
    withRetriesFor(
      async () => {
        throw notLeader();
      },
      policy,
      50,
    ),
    /not the leader/,
  );
  assert.ok(Date.now() - started >= 50, 'it kept trying for its time');

  let fatalCalls = 0;
  await assert.rejects(
    withRetriesFor(
      async () => {
        fatalCalls += 1;
        throw new FatalError('wrong password', { code: 'AUTH', exitCode: EXIT.config });
      },
      policy,
      10_000,
    ),
    /wrong password/,
  );
  assert.equal(fatalCalls, 1);
});
