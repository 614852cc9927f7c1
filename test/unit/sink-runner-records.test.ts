/**
 * What the sink runner does with records that are not plain values: tombstones (a Kafka record
 * without a value) and a partition whose end lies before the offset the sink has stored.
 * Driven through `SinkRunner.handle` with fakes (test/helpers/sink-runner-harness.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TOMBSTONE_SCHEMA } from '../../consumers/sink.ts';
import { EXIT } from '../../core/errors.ts';
import {
  assertLettersFirst,
  fatalReported,
  harness,
  type Message,
  messages,
} from '../helpers/sink-runner-harness.ts';

/** Six records, of which offsets 2 and 4 are tombstones (key, no value). */
function withTombstones(): Message[] {
  return messages(6).map((m, i) => (i === 2 || i === 4 ? { ...m, value: null } : m));
}

test('a tombstone is a dead letter (kind "tombstone", with the reason) for a sink that does not take them; the stream goes on', async () => {
  const h = harness();
  await h.handle(withTombstones());
  assert.deepEqual(
    h.sink.rows.map((r) => r.offset),
    [0n, 1n, 3n, 5n],
  );
  assert.deepEqual(
    h.dlq.sent.map((l) => [l.headers['dlq.offset'], l.kind, l.key?.toString(), l.value]),
    [
      ['2', 'tombstone', 'k2', null],
      ['4', 'tombstone', 'k4', null],
    ],
  );
  assert.match(h.dlq.sent[0]?.reason ?? '', /tombstone \(null value\); the fake sink does not write deletes/);
  assert.deepEqual(h.consumer.commits, [6]);
  assertLettersFirst(h.log);
  assert.deepEqual(h.fatal, []);
});

test('a sink that takes tombstones gets them in order, with a null value and the tombstone schema, and no dead letters', async () => {
  const h = harness();
  h.sink.tombstones = true;
  await h.handle(withTombstones());
  assert.deepEqual(
    h.sink.rows.map((r) => [r.offset, r.key, r.value === null ? null : r.value.id]),
    [
      [0n, 'k0', 'r0'],
      [1n, 'k1', 'r1'],
      [2n, 'k2', null],
      [3n, 'k3', 'r3'],
      [4n, 'k4', null],
      [5n, 'k5', 'r5'],
    ],
  );
  const tombstone = h.sink.rows[2];
  assert.equal(tombstone?.schema, TOMBSTONE_SCHEMA);
  assert.equal(tombstone?.schemaId, 0);
  assert.deepEqual(h.dlq.sent, []);
  assert.deepEqual(h.consumer.commits, [6]);
});

test('a stored offset beyond the partition end (the topic was recreated) stops the runner with exit 3, skipping and committing nothing', async () => {
  const h = harness();
  h.sink.stored = 41n; // written before the topic was deleted and created again
  await h.handle(messages(5)); // the new topic: offsets 0..4, end 5
  await fatalReported(h);
  assert.equal(h.fatal.length, 1);
  const [error] = h.fatal;
  assert.equal(error?.code, 'STORED_OFFSET_BEYOND_END');
  assert.equal(error?.exitCode, EXIT.config);
  assert.match(
    error?.message ?? '',
    /stored offset 41 for t:0 \(group g\), but the partition ends at offset 5/,
  );
  assert.match(error?.hint ?? '', /CHATSTREAM_SINK_GROUP/);
  assert.deepEqual(h.sink.rows, []);
  assert.deepEqual(h.consumer.commits, []);
  assert.deepEqual(h.dlq.sent, []);
});

test('a stored offset just below the partition end is trusted: what it covers is skipped, the rest written', async () => {
  const h = harness();
  h.sink.stored = 3n;
  await h.handle(messages(5));
  assert.deepEqual(h.fatal, []);
  assert.deepEqual(
    h.sink.rows.map((r) => r.offset),
    [4n],
  );
  assert.deepEqual(h.consumer.commits, [5]);
});
