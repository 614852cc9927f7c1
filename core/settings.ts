/**
 * The shared settings: logging, the local stack and the connections every component makes
 * (Kafka, schema registry, chatstream's registry, PostgreSQL, ClickHouse). Components declare
 * their own sections beside their code (e.g. consumers/config.ts); the full catalogue, and the
 * README's configuration reference generated from it, is assembled above core/ in
 * cli/settings.ts. Code below cli/ asks for the narrowest config type it needs (CoreConfig here).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfigFile, type Settings, setting } from './config.ts';

/** The project's folder (where package.json is). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const KAFKA_DEFAULT_VERSION = '3.9.2';

/** Kafka's security.protocol values and the SASL mechanisms chatstream's client speaks. */
export const KAFKA_SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export const KAFKA_SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

/** Schema compatibility levels, as Confluent's registry names them (rules: schemas/compatibility.ts). */
export const COMPATIBILITY_LEVELS = [
  'NONE',
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
] as const;

/**
 * The registry port as configured — CHATSTREAM_REGISTRY_PORT, else `registry.port` in the
 * config file (found as loadSettingsFrom finds it) — for the registry URL's default. A default
 * sees only its own section, so the file is looked at here; a bad value is reported by
 * `registry.port` itself.
 */
function configuredRegistryPort(env: NodeJS.ProcessEnv): unknown {
  if (env.CHATSTREAM_REGISTRY_PORT) return env.CHATSTREAM_REGISTRY_PORT;
  const path =
    env.CHATSTREAM_CONFIG ?? (existsSync('chatstream.config.json') ? 'chatstream.config.json' : undefined);
  if (!path) return undefined;
  try {
    const data = readConfigFile(path).data as { registry?: { port?: unknown } } | null;
    return data?.registry?.port;
  } catch {
    return undefined; // the file's own error is raised where the file is read
  }
}

const postgres = {
  enabled: setting.bool({
    default: false,
    description:
      "Local stack: also run PostgreSQL (for `chatstream sink postgres`). Debian's `postgresql` is installed when missing and we are root.",
  }),
  port: setting.port({ default: 5432, description: 'Local stack: PostgreSQL port (127.0.0.1).' }),
  url: setting.string({
    default: (s) => `postgres://postgres@127.0.0.1:${s.port}/chatstream`,
    description: 'PostgreSQL connection string of the Postgres sink. Defaults to the local stack.',
    example: 'postgres://chatstream:secret@postgres:5432/analytics',
  }),
  password: setting.string({
    default: '',
    secret: true,
    description: 'PostgreSQL password (when not in the URL).',
  }),
  schema: setting.string({
    default: 'public',
    description: 'PostgreSQL schema the sink creates its tables in.',
  }),
};

export const coreSchema = {
  log: {
    level: setting.oneOf(['debug', 'info', 'warn', 'error'] as const, {
      default: 'info',
      description: 'Lowest log level written.',
    }),
    format: setting.oneOf(['auto', 'json', 'pretty'] as const, {
      default: 'auto',
      description: 'Log line format; `auto` is pretty on a terminal and JSON otherwise.',
    }),
  },
  stack: {
    home: setting.string({
      default: () => join(PROJECT_ROOT, '.chatstream'),
      description:
        'Folder of the local stack: configs, data, logs and pid files. Defaults to `.chatstream` in the project folder (git-ignored).',
      example: '/var/lib/chatstream',
    }),
    cacheDir: setting.string({
      default: (s) => join(String(s.home), 'cache'),
      description: 'Downloaded artifacts (Kafka jars). Defaults to `<home>/cache`; kept by `stack reset`.',
    }),
    startTimeout: setting.int({
      default: 120,
      min: 1,
      max: 3600,
      description: 'Seconds each service may take to become ready before `stack up` fails.',
    }),
    secure: setting.bool({
      default: false,
      description:
        'Local stack, secure mode (also `stack up --secure`): a throw-away CA and server certificate under `<home>/tls`, a Kafka `SASL_SSL` listener with a SCRAM-SHA-512 user, ClickHouse over HTTPS and the registry over HTTPS with basic auth; `stack up` prints the client settings.',
    }),
  },
  kafka: {
    port: setting.port({ default: 9092, description: 'Local stack: the Kafka broker listener (127.0.0.1).' }),
    controllerPort: setting.port({
      default: 9093,
      description: 'Local stack: the KRaft controller listener (127.0.0.1).',
    }),
    version: setting.string({
      default: KAFKA_DEFAULT_VERSION,
      description: 'Local stack: the Apache Kafka release fetched from Maven Central (`kafka_2.13`).',
      example: '3.9.2',
    }),
    home: setting.optionalString({
      env: 'KAFKA_HOME',
      description:
        'A Kafka distribution to run instead of the Maven artifacts (its `libs/` is the class path).',
    }),
    heap: setting.string({
      default: '512m',
      description: 'Local stack: the broker JVM heap (-Xmx).',
      example: '1g',
    }),
    brokers: setting.list({
      default: (s) => [`127.0.0.1:${s.port}`],
      description: 'Bootstrap brokers the clients connect to (comma-separated). Defaults to the local stack.',
      example: 'kafka:9092',
    }),
    clientId: setting.string({ default: 'chatstream', description: 'Kafka client id prefix.' }),
    securityProtocol: setting.oneOf(KAFKA_SECURITY_PROTOCOLS, {
      default: 'PLAINTEXT',
      description:
        'How the clients talk to the brokers: `SSL` is TLS, `SASL_*` adds a SASL login (as Kafka names them).',
      example: 'SASL_SSL',
    }),
    saslMechanism: setting.oneOf(KAFKA_SASL_MECHANISMS, {
      default: 'SCRAM-SHA-512',
      description: 'SASL mechanism for `SASL_PLAINTEXT` / `SASL_SSL` (Confluent Cloud: `PLAIN`).',
      example: 'PLAIN',
    }),
    saslUsername: setting.optionalString({
      description: 'SASL user name (Confluent Cloud: the API key).',
      example: 'ABCDEFGH12345678',
    }),
    saslPassword: setting.string({
      default: '',
      secret: true,
      description: 'SASL password (Confluent Cloud: the API secret).',
    }),
    sslCaLocation: setting.optionalString({
      description:
        "PEM file of the CA certificate(s) that signed the brokers' certificates; unset = the system's trusted CAs.",
      example: '/etc/chatstream/kafka-ca.pem',
    }),
    sslCertificateLocation: setting.optionalString({
      description: 'PEM client certificate, for brokers that require mutual TLS (with the key).',
      example: '/etc/chatstream/kafka-client.pem',
    }),
    sslKeyLocation: setting.optionalString({
      description: 'PEM private key of the client certificate (unencrypted).',
      example: '/etc/chatstream/kafka-client.key',
    }),
    sslCheckHostname: setting.bool({
      default: true,
      description:
        "Check that the broker's certificate names the host connected to. Turn off only for tests.",
    }),
    securePort: setting.port({
      default: 9094,
      description: 'Local stack, secure mode: the `SASL_SSL` listener (127.0.0.1).',
    }),
    topicPrefix: setting.string({
      default: '',
      description: 'Put in front of every topic name.',
      example: 'prod.',
    }),
    partitions: setting.int({
      default: 6,
      min: 1,
      max: 10000,
      description: 'Partitions of the topics chatstream creates.',
    }),
    replicationFactor: setting.int({
      default: 0,
      min: 0,
      max: 10,
      description: 'Replication factor of the topics chatstream creates; 0 = min(3, number of brokers).',
    }),
    eventRetentionHours: setting.int({
      default: 0,
      min: 0,
      max: 876000,
      description:
        "Retention in hours of the event topics chatstream creates (messages, conversation events, report rows, Pure Chat events); 0 keeps them forever. Kafka counts it from each record's timestamp, which is the source's event time: history older than this is deleted at the broker's next retention check (within minutes of a backfill), before a stopped or lagging sink reads it. Entity topics are compacted instead.",
    }),
    java: setting.string({
      default: (_, env) => (env.JAVA_HOME ? join(env.JAVA_HOME, 'bin', 'java') : 'java'),
      description:
        'The java binary that runs the local Kafka. Defaults to `$JAVA_HOME/bin/java`, else `java` on PATH.',
    }),
    mvn: setting.string({
      default: 'mvn',
      description: 'The Maven binary that fetches the Kafka artifacts.',
    }),
  },
  schemaRegistry: {
    url: setting.url({
      default: (_, env) => `http://127.0.0.1:${configuredRegistryPort(env) ?? 8081}`,
      description:
        'Confluent-compatible schema registry the producers and consumers use. Defaults to the local stack.',
      example: 'http://schema-registry:8081',
    }),
    username: setting.optionalString({
      description: 'Basic-auth user for the schema registry, if it needs one.',
    }),
    password: setting.string({
      default: '',
      secret: true,
      description: 'Basic-auth password for the schema registry (Confluent Cloud: the API secret).',
    }),
    sslCaLocation: setting.optionalString({
      description:
        "PEM file of the CA that signed an https registry's certificate; unset = the system's CAs.",
      example: '/etc/chatstream/registry-ca.pem',
    }),
  },
  registry: {
    port: setting.port({
      default: 8081,
      description: "chatstream's own registry (`chatstream registry`, part of the local stack): HTTP port.",
    }),
    host: setting.string({
      default: '127.0.0.1',
      description: 'Address the registry listens on.',
      example: '0.0.0.0',
    }),
    topic: setting.string({
      default: '_schemas',
      description: 'The compacted topic the registry stores schemas in.',
    }),
    compatibility: setting.oneOf(COMPATIBILITY_LEVELS, {
      default: 'BACKWARD',
      description:
        'Compatibility level for subjects that have none of their own, until changed with PUT /config.',
    }),
    user: setting.optionalString({
      description: 'When set (with the password), the registry requires HTTP basic auth.',
    }),
    password: setting.string({
      default: '',
      secret: true,
      description: 'Basic-auth password the registry requires.',
    }),
    tlsCertificateLocation: setting.optionalString({
      description: 'When set (with the key), the registry serves HTTPS with this PEM certificate chain.',
      example: '/etc/chatstream/registry.pem',
    }),
    tlsKeyLocation: setting.optionalString({
      description: "PEM private key of the registry's HTTPS certificate.",
      example: '/etc/chatstream/registry.key',
    }),
  },
  postgres,
  clickhouse: {
    httpPort: setting.port({ default: 8123, description: 'Local stack: ClickHouse HTTP port (127.0.0.1).' }),
    tcpPort: setting.port({ default: 9000, description: 'Local stack: ClickHouse native port (127.0.0.1).' }),
    httpsPort: setting.port({
      default: 8443,
      description: 'Local stack, secure mode: ClickHouse HTTPS port (127.0.0.1).',
    }),
    bin: setting.optionalString({
      description:
        'Local stack: the ClickHouse server to run. Defaults to `clickhouse` (run as `clickhouse server`) or `clickhouse-server` on PATH; when neither exists and we are root on Debian, `apt-get install clickhouse-server`.',
      example: '/opt/clickhouse/clickhouse',
    }),
    url: setting.url({
      default: (s) => `http://127.0.0.1:${s.httpPort}`,
      description: 'ClickHouse HTTP endpoint the clients use. Defaults to the local stack.',
      example: 'https://abc123.eu-west-1.aws.clickhouse.cloud:8443',
    }),
    sslCaLocation: setting.optionalString({
      description: "PEM file of the CA that signed an https URL's certificate; unset = the system's CAs.",
      example: '/etc/chatstream/clickhouse-ca.pem',
    }),
    sslCertificateLocation: setting.optionalString({
      description: 'PEM client certificate, for a server that asks for one (with the key and the CA).',
      example: '/etc/chatstream/clickhouse-client.pem',
    }),
    sslKeyLocation: setting.optionalString({
      description: 'PEM private key of the client certificate (unencrypted).',
      example: '/etc/chatstream/clickhouse-client.key',
    }),
    user: setting.string({ default: 'default', description: 'ClickHouse user.' }),
    password: setting.string({ default: '', secret: true, description: 'ClickHouse password.' }),
    database: setting.string({ default: 'chatstream', description: 'Database the sinks and views live in.' }),
    readonlyUser: setting.string({
      default: 'chatstream_readonly',
      description:
        'Read-only ClickHouse user the dashboard queries as (the local stack creates it with a `readonly` profile). When ClickHouse does not know it, the dashboard says so and queries as CHATSTREAM_CLICKHOUSE_USER with `readonly=2` on every query.',
    }),
    readonlyPassword: setting.string({
      default: '',
      secret: true,
      description: 'Password of CHATSTREAM_CLICKHOUSE_READONLY_USER.',
    }),
  },
};

/** The shared settings as loaded; every full configuration (cli/settings.ts) is one. */
export type CoreConfig = Settings<typeof coreSchema>;
