/** docker-compose.yml cannot run here (no Docker engine), so it is validated by docker-compose itself. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { KAFKA_DEFAULT_VERSION, PROJECT_ROOT } from '../../core/settings.ts';
import { which } from '../../stack/process.ts';

test('docker-compose.yml is valid and wires every service with health checks', () => {
  const compose = which('docker-compose');
  assert.ok(
    compose,
    'docker-compose is not installed (Debian: apt-get install docker-compose; .ci/run installs it)',
  );
  const run = spawnSync(compose, ['-f', join(PROJECT_ROOT, 'docker-compose.yml'), 'config'], {
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  const resolved = run.stdout;
  assert.match(
    resolved,
    new RegExp(`image: apache/kafka:${KAFKA_DEFAULT_VERSION.replace(/\./g, '\\.')}`),
    'same Kafka version as the local stack',
  );
  for (const image of [
    'confluentinc/cp-schema-registry:',
    'clickhouse/clickhouse-server:',
    'grafana/grafana:',
  ]) {
    assert.ok(resolved.includes(`image: ${image}`), `${image} is in the stack`);
  }
  const services = [...resolved.matchAll(/^ {2}([a-z-]+):$/gm)].map((m) => m[1]);
  assert.deepEqual(services.sort(), ['chatstream', 'clickhouse', 'grafana', 'kafka', 'schema-registry']);
  assert.equal((resolved.match(/healthcheck:/g) ?? []).length, 5, 'every service has a health check');
  assert.ok((resolved.match(/condition: service_healthy/g) ?? []).length >= 4);
});
