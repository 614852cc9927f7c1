/**
 * Group commit (consumers/group-commit.ts): writes of one key that queue while one runs go
 * together in the next; each submitter gets its own outcome; keys never wait on each other.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GroupCommit } from '../../consumers/group-commit.ts';

/** A writer whose writes finish when the test says so. */
function gatedWriter() {
  const calls: {
    key: string;
    items: number[];
    finish: (outcomes?: PromiseSettledResult<string>[]) => void;
  }[] = [];
  const write = (key: string, items: number[]) =>
    new Promise<PromiseSettledResult<string>[]>((resolve) => {
      calls.push({
        key,
        items,
        finish: (outcomes) =>
          resolve(outcomes ?? items.map((i) => ({ status: 'fulfilled', value: `${key}:${i}` }))),
      });
    });
  return { calls, write };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('items submitted together go in one write; items queued while it runs go together in the next', async () => {
  const { calls, write } = gatedWriter();
  const group = new GroupCommit<number, string>(write);
  const first = [group.submit('t', 1), group.submit('t', 2)];
  await tick();
  assert.deepEqual(
    calls.map((c) => c.items),
    [[1, 2]],
  );
  const second = [group.submit('t', 3), group.submit('t', 4), group.submit('t', 5)];
  await tick();
  assert.equal(calls.length, 1, 'nothing starts while the first write runs');
  calls[0]?.finish();
  assert.deepEqual(await Promise.all(first), ['t:1', 't:2']);
  await tick();
  assert.deepEqual(
    calls.map((c) => c.items),
    [
      [1, 2],
      [3, 4, 5],
    ],
  );
  calls[1]?.finish();
  assert.deepEqual(await Promise.all(second), ['t:3', 't:4', 't:5']);
});

test('each item gets its own outcome; a write that throws fails every item it held, and the next write goes on', async () => {
  const { calls, write } = gatedWriter();
  const group = new GroupCommit<number, string>(write);
  const a = group.submit('t', 1);
  const b = group.submit('t', 2);
  await tick();
  calls[0]?.finish([
    { status: 'fulfilled', value: 'ok' },
    { status: 'rejected', reason: new Error('bad row in item 2') },
  ]);
  assert.equal(await a, 'ok');
  await assert.rejects(b, /bad row in item 2/);

  const throwing = new GroupCommit<number, string>(async () => {
    throw new Error('server gone');
  });
  const c = throwing.submit('t', 1);
  const d = throwing.submit('t', 2);
  await assert.rejects(c, /server gone/);
  await assert.rejects(d, /server gone/);
  assert.equal(
    await throwing.submit('t', 3).catch((e: Error) => e.message),
    'server gone',
    'the key is not stuck',
  );
});

test('keys do not wait on each other', async () => {
  const { calls, write } = gatedWriter();
  const group = new GroupCommit<number, string>(write);
  const a = group.submit('a', 1);
  await tick();
  const b = group.submit('b', 2);
  await tick();
  assert.deepEqual(
    calls.map((c) => [c.key, c.items]),
    [
      ['a', [1]],
      ['b', [2]],
    ],
  );
  calls[1]?.finish();
  assert.equal(await b, 'b:2');
  calls[0]?.finish();
  assert.equal(await a, 'a:1');
});

test('a write that gives too few outcomes (a bug) fails the items left without one, and the key goes on', async () => {
  let calls = 0;
  const group = new GroupCommit<number, string>(async (_key, items) => {
    calls += 1;
    return calls === 1
      ? [{ status: 'fulfilled', value: 'first' }]
      : items.map(() => ({ status: 'fulfilled', value: 'ok' }));
  });
  const a = group.submit('t', 1);
  const b = group.submit('t', 2);
  assert.equal(await a, 'first');
  await assert.rejects(b, /no outcome for this item/);
  assert.equal(await group.submit('t', 3), 'ok');
});
