/**
 * The collector's write path without Kafka: requests of one event-loop turn share one write and
 * its outcome (acknowledged together or refused together), and the recent-ids set stays bounded
 * at a constant cost.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { RecentKeys } from '../../producers/http/recent-keys.ts';
import { GroupWriter, MAX_GROUP_RECORDS } from '../../producers/purechat/group-writer.ts';
import type { SourceRecord } from '../../producers/source.ts';

const records = (n: number, tag: string): SourceRecord[] =>
  Array.from({ length: n }, (_, i) => ({ kind: 'purechat.events', value: { tag, i } }));

test('requests of one turn are written together and answered once the write is acknowledged', async () => {
  const writes: SourceRecord[][] = [];
  let acknowledge: () => void = () => {};
  const writer = new GroupWriter((list) => {
    writes.push(list);
    return new Promise<void>((resolve) => {
      acknowledge = resolve;
    });
  });
  const settled: string[] = [];
  const a = writer.add(records(1, 'a')).then(() => settled.push('a'));
  const b = writer.add(records(10, 'b')).then(() => settled.push('b'));
  await nextTurn();
  assert.equal(writes.length, 1, 'one write for both requests');
  assert.deepEqual(
    writes[0]?.map((r) => r.value.tag),
    ['a', ...Array(10).fill('b')],
  );
  await nextTurn();
  assert.deepEqual(settled, [], 'nothing is answered before Kafka acknowledged');
  acknowledge();
  await Promise.all([a, b]);
  assert.deepEqual(settled, ['a', 'b']);

  // A later turn is a new group.
  const c = writer.add(records(2, 'c'));
  await nextTurn();
  assert.equal(writes.length, 2);
  acknowledge();
  await c;
});

test('a refused write refuses every request of its group, and only those', async () => {
  let calls = 0;
  const writer = new GroupWriter(async () => {
    calls++;
    if (calls === 1) throw Object.assign(new Error('Kafka is unavailable'), { retriable: true });
  });
  const first = [writer.add(records(1, 'a')), writer.add(records(1, 'b'))];
  for (const p of first) await assert.rejects(p, /Kafka is unavailable/);
  await writer.add(records(1, 'c')); // the next turn's group is written again, and succeeds
  assert.equal(calls, 2);

  const throwing = new GroupWriter(() => {
    throw new Error('thrown, not rejected');
  });
  await assert.rejects(throwing.add(records(1, 'd')), /thrown, not rejected/);
});

test('a group is written as soon as the next request would take it past the limit', async () => {
  const sizes: number[] = [];
  const writer = new GroupWriter(async (list) => {
    sizes.push(list.length);
  });
  const half = Math.ceil(MAX_GROUP_RECORDS / 2) + 1;
  const done = [writer.add(records(half, 'a')), writer.add(records(half, 'b')), writer.add(records(1, 'c'))];
  assert.deepEqual(sizes, [half], 'the full group went before the turn ended');
  await Promise.all(done);
  assert.deepEqual(sizes, [half, half + 1]);
});

test('RecentKeys remembers at least the last half of its size, never more than its size', () => {
  const recent = new RecentKeys(10);
  for (let i = 0; i < 100; i++) recent.add(`k${i}`);
  assert.ok(recent.size <= 10);
  for (let i = 95; i < 100; i++) assert.ok(recent.has(`k${i}`), `k${i} is remembered`);
  assert.equal(recent.has('k0'), false);
  assert.equal(recent.has('never'), false);

  // A hit keeps a key: touched after every add, k95 outlives many generations.
  for (let i = 100; i < 200; i++) {
    recent.add(`k${i}`);
    assert.ok(recent.has('k95'));
  }
  assert.ok(recent.size <= 10);
  assert.throws(() => new RecentKeys(0), RangeError);
});
