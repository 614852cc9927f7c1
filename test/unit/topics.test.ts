/**
 * How the topics chatstream creates keep records (kafka/topics.ts): entity topics compacted,
 * event topics forever unless a retention is set — Kafka counts retention from record
 * timestamps, which are the sources' event times, so a finite default would delete backfilled
 * history within minutes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../cli/settings.ts';
import { retentionMs, retentionShorter, topicConfig } from '../../kafka/topics.ts';

const entries = (env: NodeJS.ProcessEnv, retention: 'compact' | 'time') =>
  Object.fromEntries(
    (topicConfig(loadConfig({ env }), { topic: 't', retention }, 1).configEntries ?? []).map((e) => [
      e.name,
      e.value,
    ]),
  );

test('event topics keep records forever by default; a retention in hours when one is set', () => {
  assert.deepEqual(entries({}, 'time'), { 'cleanup.policy': 'delete', 'retention.ms': '-1' });
  assert.equal(
    entries({ CHATSTREAM_KAFKA_EVENT_RETENTION_HOURS: '48' }, 'time')['retention.ms'],
    '172800000',
  );
  assert.equal(retentionMs(0), '-1');
  assert.equal(retentionMs(1), '3600000');
});

test('entity topics are compacted whatever the event retention', () => {
  const compacted = entries({ CHATSTREAM_KAFKA_EVENT_RETENTION_HOURS: '48' }, 'compact');
  assert.equal(compacted['cleanup.policy'], 'compact');
  assert.equal(compacted['retention.ms'], undefined);
});

test('a negative retention is refused, naming the variable', () => {
  assert.throws(
    () => loadConfig({ env: { CHATSTREAM_KAFKA_EVENT_RETENTION_HOURS: '-1' } }),
    /CHATSTREAM_KAFKA_EVENT_RETENTION_HOURS/,
  );
});

test('an existing topic is warned about only when it keeps records for less time than the setting', () => {
  const week = String(168 * 3600 * 1000);
  assert.equal(retentionShorter(week, '-1'), true, '7 days where forever is set');
  assert.equal(retentionShorter(week, String(720 * 3600 * 1000)), true, '7 days where 30 are set');
  assert.equal(retentionShorter('-1', String(720 * 3600 * 1000)), false, 'forever deletes nothing early');
  assert.equal(retentionShorter(week, String(24 * 3600 * 1000)), false, 'longer than the setting');
  assert.equal(retentionShorter(week, week), false);
});
