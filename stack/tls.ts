/**
 * The local stack's secure mode, its material: a throw-away CA, a server certificate for
 * 127.0.0.1 / localhost and a client certificate (for mutual TLS), made once with `openssl`
 * under `<home>/tls`, and generated passwords (files readable only by us). Nothing here is
 * meant for production: the CA's key sits beside it.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MissingDependencyError, ServiceError } from '../core/errors.ts';
import { which } from './process.ts';

export interface StackCertificates {
  dir: string;
  /** The CA certificate clients trust (`*_SSL_CA_LOCATION`). */
  ca: string;
  serverCert: string;
  serverKey: string;
  /** Server key + certificate + CA in one PEM file (Kafka's PEM keystore). */
  serverKeystore: string;
  clientCert: string;
  clientKey: string;
}

export function certificatePaths(home: string): StackCertificates {
  const dir = join(home, 'tls');
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    serverKeystore: join(dir, 'server-keystore.pem'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
  };
}

function openssl(args: string[], cwd: string): void {
  const run = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (run.status !== 0)
    throw new ServiceError('tls', `openssl ${args[0]} failed`, {
      code: 'CERTIFICATES_FAILED',
      hint: `${run.stdout}${run.stderr}`.trim().split('\n').slice(-6).join('\n'),
    });
}

/** Signs `<name>.pem` (key `<name>.key`) with the CA, for the given extended key usage. */
function issue(dir: string, name: string, subject: string, extensions: string): void {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      subject,
    ],
    dir,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '825',
      '-sha256',
      '-out',
      `${name}.pem`,
      '-extfile',
      `${name}.ext`,
    ],
    dir,
  );
  chmodSync(join(dir, `${name}.key`), 0o600);
}

/** Makes the CA and certificates once (kept across restarts, removed by `stack reset`). */
export function ensureCertificates(home: string): StackCertificates {
  const paths = certificatePaths(home);
  if (existsSync(paths.serverKeystore) && existsSync(paths.clientKey)) return paths;
  if (!which('openssl'))
    throw new MissingDependencyError(
      'openssl',
      'openssl is not installed; the secure stack makes its certificates with it.',
      'install it (Debian: apt-get install openssl)',
    );
  const { dir } = paths;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '825',
      '-sha256',
      '-subj',
      '/CN=chatstream local stack CA (throw-away)',
    ],
    dir,
  );
  chmodSync(join(dir, 'ca.key'), 0o600);
  issue(
    dir,
    'server',
    '/CN=localhost',
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n',
  );
  issue(
    dir,
    'client',
    '/CN=chatstream-client',
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n',
  );
  const keystore = ['server.key', 'server.pem', 'ca.pem'].map((f) => readFileSync(join(dir, f), 'utf8'));
  writeFileSync(paths.serverKeystore, keystore.join(''), { mode: 0o600 });
  return paths;
}

/** A generated password kept in `<home>/tls/<name>.password` (made once, mode 0600); returns its path. */
export function stackSecretFile(home: string, name: string): string {
  const dir = join(home, 'tls');
  const path = join(dir, `${name}.password`);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(path, `${randomBytes(18).toString('base64url')}\n`, { mode: 0o600 });
  }
  return path;
}

export function readSecret(path: string): string {
  return readFileSync(path, 'utf8').trim();
}
