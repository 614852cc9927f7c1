/**
 * Secrets as a person sees them: passwords inside URLs are masked in `config show` and in
 * error messages; the registry's failures decide exit 3 (credentials, certificates) or 5 (not
 * reachable) even when the registry library keeps only the error's message.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../cli/settings.ts';
import { EXIT, FatalError, ServiceError } from '../../core/errors.ts';
import { certificateCode } from '../../core/tls.ts';
import { displayUrl } from '../../core/url.ts';
import { registryFailure } from '../../schemas/registry-client.ts';
import { runCli } from '../helpers/cli.ts';

test('displayUrl masks the password of any scheme and leaves everything else as it is', () => {
  assert.equal(
    displayUrl('https://key:s3cr3t@registry.example.com/x'),
    'https://key:***@registry.example.com/x',
  );
  assert.equal(displayUrl('postgres://app:p%40ss@db:5432/chat'), 'postgres://app:***@db:5432/chat');
  assert.equal(displayUrl('http://127.0.0.1:8081'), 'http://127.0.0.1:8081');
  assert.equal(displayUrl('http://user@host'), 'http://user@host');
  assert.equal(displayUrl('not a url'), 'not a url');
});

test('config show prints no password that sits inside a URL, nor in a refused URL setting', async () => {
  const env = {
    ...process.env,
    CHATSTREAM_SCHEMA_REGISTRY_URL: 'https://key:SeCrEtURL1@registry.example.com',
    CHATSTREAM_CLICKHOUSE_URL: 'https://default:SeCrEtURL2@clickhouse.example.com:8443',
    CHATSTREAM_POSTGRES_URL: 'postgres://app:SeCrEtURL3@db.example.com/chat',
  };
  const shown = await runCli(['config', 'show'], env, 30_000);
  assert.equal(shown.code, 0, shown.stderr);
  assert.doesNotMatch(shown.stdout + shown.stderr, /SeCrEtURL/);
  assert.match(shown.stdout, /https:\/\/key:\*\*\*@registry\.example\.com/);
  const refused = await runCli(
    ['config', 'show'],
    { ...process.env, CHATSTREAM_SCHEMA_REGISTRY_URL: 'ftp://key:SeCrEtURL4@registry.example.com' },
    30_000,
  );
  assert.equal(refused.code, EXIT.config);
  assert.match(refused.stderr, /CHATSTREAM_SCHEMA_REGISTRY_URL/);
  assert.doesNotMatch(refused.stdout + refused.stderr, /SeCrEtURL/);
});

test('a certificate failure is recognised from its message when a client kept nothing else', () => {
  const wrapped = Object.assign(new Error('Request failed with status 400: self-signed certificate'), {
    status: 400,
  });
  assert.equal(certificateCode(wrapped), 'DEPTH_ZERO_SELF_SIGNED_CERT');
  assert.equal(
    certificateCode(new Error('unable to get local issuer certificate')),
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  );
  assert.equal(certificateCode(new Error('status 500: internal error')), undefined);
});

test('registry failures for commands: 401/403 and certificates exit 3 naming the setting, no answer exit 5, the rest as is', () => {
  const config = loadConfig({
    env: { CHATSTREAM_SCHEMA_REGISTRY_URL: 'https://key:SeCrEt@registry.example.com' },
  });
  for (const status of [401, 403]) {
    const decided = registryFailure(Object.assign(new Error(`status ${status}`), { status }), config);
    assert.ok(decided instanceof FatalError);
    assert.equal(decided.exitCode, EXIT.config);
    assert.match(decided.hint ?? '', /CHATSTREAM_SCHEMA_REGISTRY_USERNAME/);
  }
  const certificate = registryFailure(
    Object.assign(new Error('Request failed: self-signed certificate in certificate chain'), { status: 400 }),
    config,
  );
  assert.ok(certificate instanceof FatalError);
  assert.equal(certificate.exitCode, EXIT.config);
  assert.match(`${certificate.message} ${certificate.hint}`, /CHATSTREAM_SCHEMA_REGISTRY_SSL_CA_LOCATION/);
  const down = registryFailure(
    Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    config,
  );
  assert.ok(down instanceof ServiceError);
  assert.equal(down.exitCode, EXIT.service);
  assert.doesNotMatch(down.message, /SeCrEt/);
  const other = new Error('something else');
  assert.equal(registryFailure(other, config), other);
});
