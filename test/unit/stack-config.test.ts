import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { serverConfig, usersConfig } from '../../stack/clickhouse.ts';
import { distributionVersion, newClusterId, serverProperties } from '../../stack/kafka.ts';

function properties(text: string): Map<string, string> {
  return new Map(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

test('Kafka runs as one KRaft node on loopback with the configured ports', () => {
  const p = properties(serverProperties({ port: 19092, controllerPort: 19093, dataDir: '/d' }));
  assert.equal(p.get('process.roles'), 'broker,controller');
  assert.equal(p.get('controller.quorum.voters'), '1@127.0.0.1:19093');
  assert.equal(p.get('listeners'), 'PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093');
  assert.equal(p.get('advertised.listeners'), 'PLAINTEXT://127.0.0.1:19092');
  assert.equal(p.get('log.dirs'), '/d');
  assert.equal(p.get('offsets.topic.replication.factor'), '1');
  assert.equal(p.get('transaction.state.log.min.isr'), '1');
  assert.equal(p.get('auto.create.topics.enable'), 'false');
});

test('cluster ids are 22-character URL-safe base64 that do not start with a dash', () => {
  const ids = Array.from({ length: 200 }, newClusterId);
  for (const id of ids) assert.match(id, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  assert.equal(new Set(ids).size, ids.length);
});

test('the version of a Kafka distribution is read from its libs folder', () => {
  const home = mkdtempSync(join(tmpdir(), 'kafka-home-'));
  assert.equal(distributionVersion(home), undefined);
  mkdirSync(join(home, 'libs'));
  writeFileSync(join(home, 'libs', 'kafka_2.13-3.9.2-test.jar'), '');
  writeFileSync(join(home, 'libs', 'kafka-clients-3.9.2.jar'), '');
  assert.equal(distributionVersion(home), undefined);
  writeFileSync(join(home, 'libs', 'kafka_2.13-3.9.2.jar'), '');
  assert.equal(distributionVersion(home), '3.9.2');
});

test('ClickHouse listens on loopback only, keeps data and logs in the stack folder, escapes paths', () => {
  const xml = serverConfig({ dir: '/s/a&b', logDir: '/s/logs', httpPort: 18123, tcpPort: 19000 });
  assert.match(xml, /<listen_host>127\.0\.0\.1<\/listen_host>/);
  assert.doesNotMatch(xml, /<listen_host>(0\.0\.0\.0|::)<\/listen_host>/);
  assert.match(xml, /<http_port>18123<\/http_port>/);
  assert.match(xml, /<tcp_port>19000<\/tcp_port>/);
  assert.match(xml, /<path>\/s\/a&amp;b\/data\/<\/path>/);
  assert.match(xml, /<errorlog>\/s\/logs\/clickhouse-server\.err\.log<\/errorlog>/);
  assert.match(usersConfig('p<w'), /<password>p&lt;w<\/password>/);
});
