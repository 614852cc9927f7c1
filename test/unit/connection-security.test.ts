/**
 * Connection security from the settings, without servers: kafkajs's ssl/sasl options per
 * security protocol, PEM files named by their setting, the decisions on refused logins and
 * certificates that do not verify (exit 3, naming the setting), ClickHouse's tls option, and
 * the secure local stack's Kafka and ClickHouse configs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../cli/settings.ts';
import { decide } from '../../consumers/runner/decisions.ts';
import { clickhouseTls } from '../../consumers/sinks/clickhouse/connection.ts';
import { classify } from '../../consumers/sinks/clickhouse/service.ts';
import { ChatstreamError, ConfigError, EXIT } from '../../core/errors.ts';
import { certificateError } from '../../core/tls.ts';
import { kafkaAccessError, kafkaSecurity } from '../../kafka/security.ts';
import { serverConfig } from '../../stack/clickhouse.ts';
import { serverProperties } from '../../stack/kafka.ts';

const dir = mkdtempSync(join(tmpdir(), 'chatstream-tls-unit-'));
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const ca = join(dir, 'ca.pem');
writeFileSync(ca, PEM);
const notPem = join(dir, 'not.pem');
writeFileSync(notPem, 'hello');

const config = (env: Record<string, string>) => loadConfig({ env });

function thrown(fn: () => unknown): ChatstreamError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ChatstreamError, String(error));
    return error;
  }
  assert.fail('expected an error');
}

test('PLAINTEXT (the default) adds neither ssl nor sasl', () => {
  assert.deepEqual(kafkaSecurity(loadConfig({ env: {} })), {});
});

test('SASL_SSL: the CA file, the mechanism in kafkajs spelling, user and password', () => {
  const security = kafkaSecurity(
    config({
      CHATSTREAM_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      CHATSTREAM_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
      CHATSTREAM_KAFKA_SASL_USERNAME: 'key',
      CHATSTREAM_KAFKA_SASL_PASSWORD: 'secret',
      CHATSTREAM_KAFKA_SSL_CA_LOCATION: ca,
    }),
  );
  assert.equal(security.ssl?.ca, PEM);
  assert.equal(security.ssl?.checkServerIdentity, undefined, 'host names are checked by default');
  assert.deepEqual(security.sasl, { mechanism: 'scram-sha-256', username: 'key', password: 'secret' });
});

test('SSL without a CA trusts the system CAs; the host-name check can be turned off', () => {
  const security = kafkaSecurity(
    config({ CHATSTREAM_KAFKA_SECURITY_PROTOCOL: 'SSL', CHATSTREAM_KAFKA_SSL_CHECK_HOSTNAME: 'false' }),
  );
  assert.equal(security.ssl?.ca, undefined);
  assert.equal(typeof security.ssl?.checkServerIdentity, 'function');
  assert.equal(security.sasl, undefined);
});

test('the SASL password may come from CHATSTREAM_KAFKA_SASL_PASSWORD_FILE', () => {
  const file = join(dir, 'password');
  writeFileSync(file, 'from-a-file\n');
  const security = kafkaSecurity(
    config({
      CHATSTREAM_KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
      CHATSTREAM_KAFKA_SASL_MECHANISM: 'PLAIN',
      CHATSTREAM_KAFKA_SASL_USERNAME: 'u',
      CHATSTREAM_KAFKA_SASL_PASSWORD_FILE: file,
    }),
  );
  assert.deepEqual(security.sasl, { mechanism: 'plain', username: 'u', password: 'from-a-file' });
  assert.equal(security.ssl, undefined);
});

test('missing SASL credentials, unreadable or non-PEM files, half a client certificate: exit 3 naming the setting', () => {
  const sasl = { CHATSTREAM_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' };
  const noUser = thrown(() => kafkaSecurity(config(sasl)));
  assert.ok(noUser instanceof ConfigError);
  assert.equal(noUser.exitCode, EXIT.config);
  assert.match(noUser.message, /^CHATSTREAM_KAFKA_SASL_USERNAME: is required/);
  assert.match(
    thrown(() => kafkaSecurity(config({ ...sasl, CHATSTREAM_KAFKA_SASL_USERNAME: 'u' }))).message,
    /^CHATSTREAM_KAFKA_SASL_PASSWORD: is required/,
  );
  const ssl = { CHATSTREAM_KAFKA_SECURITY_PROTOCOL: 'SSL' };
  assert.match(
    thrown(() => kafkaSecurity(config({ ...ssl, CHATSTREAM_KAFKA_SSL_CA_LOCATION: join(dir, 'nope.pem') })))
      .message,
    /^CHATSTREAM_KAFKA_SSL_CA_LOCATION: cannot read .*nope\.pem \(ENOENT\)/,
  );
  assert.match(
    thrown(() => kafkaSecurity(config({ ...ssl, CHATSTREAM_KAFKA_SSL_CA_LOCATION: notPem }))).message,
    /^CHATSTREAM_KAFKA_SSL_CA_LOCATION: .* is not a PEM file/,
  );
  assert.match(
    thrown(() => kafkaSecurity(config({ ...ssl, CHATSTREAM_KAFKA_SSL_CERTIFICATE_LOCATION: ca }))).message,
    /^CHATSTREAM_KAFKA_SSL_KEY_LOCATION: is not set/,
  );
  assert.match(
    thrown(() => config({ CHATSTREAM_KAFKA_SECURITY_PROTOCOL: 'TLS' })).message,
    /^CHATSTREAM_KAFKA_SECURITY_PROTOCOL: expected one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL/,
  );
});

/** What kafkajs rejects with when the broker's certificate does not verify. */
function kafkaTlsError(code: string): Error {
  return Object.assign(new Error('Connection error: self-signed certificate in certificate chain'), {
    name: 'KafkaJSConnectionError',
    code,
    retriable: true,
  });
}

test('Kafka: a certificate that does not verify and a refused login stop with exit 3 naming the setting', () => {
  const cert = kafkaAccessError(kafkaTlsError('SELF_SIGNED_CERT_IN_CHAIN'));
  assert.equal(cert?.exitCode, EXIT.config);
  assert.match(
    cert?.message ?? '',
    /does not verify \(SELF_SIGNED_CERT_IN_CHAIN\) against CHATSTREAM_KAFKA_SSL_CA_LOCATION/,
  );
  const name = kafkaAccessError(kafkaTlsError('ERR_TLS_CERT_ALTNAME_INVALID'));
  assert.match(name?.hint ?? '', /CHATSTREAM_KAFKA_SSL_CHECK_HOSTNAME=false/);
  const login = Object.assign(new Error('SASL SCRAM SHA512 authentication failed: invalid credentials'), {
    name: 'KafkaJSSASLAuthenticationError',
  });
  const refused = kafkaAccessError(login);
  assert.equal(refused?.exitCode, EXIT.config);
  assert.match(refused?.message ?? '', /CHATSTREAM_KAFKA_SASL_PASSWORD/);
  const plaintextListener = new Error('Connection error: ssl3_get_record:wrong version number');
  assert.match(kafkaAccessError(plaintextListener)?.hint ?? '', /CHATSTREAM_KAFKA_SECURITY_PROTOCOL/);
  assert.equal(
    kafkaAccessError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    undefined,
  );
});

test('the sink runner stops on a certificate kafkajs would retry, and still retries a broker that is down', () => {
  const stop = decide(kafkaTlsError('UNABLE_TO_VERIFY_LEAF_SIGNATURE'));
  assert.equal(stop.action, 'stop');
  assert.equal(stop.action === 'stop' && stop.error.exitCode, EXIT.config);
  const down = Object.assign(new Error('Connection error: connect ECONNREFUSED'), {
    name: 'KafkaJSConnectionError',
    code: 'ECONNREFUSED',
    retriable: true,
  });
  assert.deepEqual(decide(down), { action: 'retry' });
});

test('ClickHouse: a certificate that does not verify is exit 3 naming CHATSTREAM_CLICKHOUSE_SSL_CA_LOCATION; wrong password names the password', () => {
  const cause = Object.assign(new Error('self-signed certificate in certificate chain'), {
    code: 'SELF_SIGNED_CERT_IN_CHAIN',
  });
  const cert = classify(cause) as ChatstreamError;
  assert.equal(cert.exitCode, EXIT.config);
  assert.match(cert.message, /CHATSTREAM_CLICKHOUSE_SSL_CA_LOCATION/);
  const wrong = classify(
    Object.assign(new Error('Wrong password for user default'), { code: '193' }),
  ) as ChatstreamError;
  assert.equal(wrong.exitCode, EXIT.config);
  assert.match(wrong.message, /CHATSTREAM_CLICKHOUSE_PASSWORD/);
  assert.equal(certificateError('x', 'Y', new Error('socket hang up')), undefined);
});

test("ClickHouse's tls option: none without a CA; the CA; a client certificate needs its key and a CA", () => {
  assert.equal(clickhouseTls(loadConfig({ env: {} })), undefined);
  assert.deepEqual(clickhouseTls(config({ CHATSTREAM_CLICKHOUSE_SSL_CA_LOCATION: ca })), {
    ca_cert: Buffer.from(PEM),
  });
  const mutual = clickhouseTls(
    config({
      CHATSTREAM_CLICKHOUSE_SSL_CA_LOCATION: ca,
      CHATSTREAM_CLICKHOUSE_SSL_CERTIFICATE_LOCATION: ca,
      CHATSTREAM_CLICKHOUSE_SSL_KEY_LOCATION: ca,
    }) as never,
  ) as { cert?: Buffer; key?: Buffer };
  assert.ok(mutual.cert && mutual.key);
  assert.match(
    thrown(() =>
      clickhouseTls(
        config({
          CHATSTREAM_CLICKHOUSE_SSL_CERTIFICATE_LOCATION: ca,
          CHATSTREAM_CLICKHOUSE_SSL_KEY_LOCATION: ca,
        }),
      ),
    ).message,
    /^CHATSTREAM_CLICKHOUSE_SSL_CA_LOCATION: is required with a client certificate/,
  );
});

test('secure stack: Kafka gets a SASL_SSL listener (SCRAM-SHA-512, PEM stores) beside loopback PLAINTEXT', () => {
  const text = serverProperties({
    port: 19092,
    controllerPort: 19093,
    dataDir: '/d',
    secure: { port: 19094, keystore: '/t/ks.pem', truststore: '/t/ca.pem' },
  });
  const p = new Map(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  assert.equal(
    p.get('listeners'),
    'PLAINTEXT://127.0.0.1:19092,SASL_SSL://127.0.0.1:19094,CONTROLLER://127.0.0.1:19093',
  );
  assert.equal(p.get('advertised.listeners'), 'PLAINTEXT://127.0.0.1:19092,SASL_SSL://127.0.0.1:19094');
  assert.equal(
    p.get('listener.security.protocol.map'),
    'PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT',
  );
  assert.equal(p.get('inter.broker.listener.name'), 'PLAINTEXT');
  assert.equal(p.get('listener.name.sasl_ssl.sasl.enabled.mechanisms'), 'SCRAM-SHA-512');
  assert.match(
    p.get('listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config') ?? '',
    /ScramLoginModule required;$/,
  );
  assert.equal(p.get('listener.name.sasl_ssl.ssl.keystore.type'), 'PEM');
  assert.equal(p.get('listener.name.sasl_ssl.ssl.keystore.location'), '/t/ks.pem');
  assert.equal(p.get('listener.name.sasl_ssl.ssl.truststore.location'), '/t/ca.pem');
  assert.ok(
    !serverProperties({ port: 1, controllerPort: 2, dataDir: '/d' }).includes('SASL_SSL'),
    'plaintext by default',
  );
});

test('secure stack: ClickHouse gets an https_port with the certificate, key and CA', () => {
  const base = { dir: '/c', logDir: '/l', httpPort: 18123, tcpPort: 19000 };
  const xml = serverConfig({
    ...base,
    https: { port: 18443, certificate: '/t/s.pem', key: '/t/s.key', ca: '/t/ca.pem' },
  });
  assert.match(xml, /<https_port>18443<\/https_port>/);
  assert.match(xml, /<certificateFile>\/t\/s\.pem<\/certificateFile>/);
  assert.match(xml, /<privateKeyFile>\/t\/s\.key<\/privateKeyFile>/);
  assert.match(xml, /<caConfig>\/t\/ca\.pem<\/caConfig>/);
  assert.doesNotMatch(serverConfig(base), /https_port/, 'plaintext by default');
});
