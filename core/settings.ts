/**
 * Every setting chatstream reads, in one catalogue. Components add their section here; the
 * README's configuration reference is generated from it (`chatstream config docs`).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sinkSettings } from '../consumers/config.ts';
import { postgresSettings } from '../consumers/sinks/postgres/config.ts';
import { LEVELS } from '../registry/compatibility.ts';
import { loadSettings, readConfigFile, type Settings, setting, unknownEnvironment } from './config.ts';

/** The project's folder (where package.json is). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const KAFKA_DEFAULT_VERSION = '3.9.2';

export const schema = {
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
      default: 168,
      min: 1,
      max: 876000,
      description:
        'Retention of event topics (messages, conversation events, Pure Chat events); entity topics are compacted instead.',
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
      default: (_, env) => `http://127.0.0.1:${env.CHATSTREAM_REGISTRY_PORT || 8081}`,
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
      description: 'Basic-auth password for the schema registry.',
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
    compatibility: setting.oneOf(LEVELS, {
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
  },
  sink: sinkSettings,
  postgres: postgresSettings,
  clickhouse: {
    httpPort: setting.port({ default: 8123, description: 'Local stack: ClickHouse HTTP port (127.0.0.1).' }),
    tcpPort: setting.port({ default: 9000, description: 'Local stack: ClickHouse native port (127.0.0.1).' }),
    bin: setting.optionalString({
      description:
        'Local stack: the ClickHouse server to run. Defaults to `clickhouse` (run as `clickhouse server`) or `clickhouse-server` on PATH; when neither exists and we are root on Debian, `apt-get install clickhouse-server`.',
      example: '/opt/clickhouse/clickhouse',
    }),
    url: setting.url({
      default: (s) => `http://127.0.0.1:${s.httpPort}`,
      description: 'ClickHouse HTTP endpoint the clients use. Defaults to the local stack.',
      example: 'http://clickhouse:8123',
    }),
    user: setting.string({ default: 'default', description: 'ClickHouse user.' }),
    password: setting.string({ default: '', secret: true, description: 'ClickHouse password.' }),
    database: setting.string({ default: 'chatstream', description: 'Database the sinks and views live in.' }),
  },
};

export type Config = Settings<typeof schema>;

export interface ConfigSource {
  env?: NodeJS.ProcessEnv;
  /** Path of a JSON config file; defaults to $CHATSTREAM_CONFIG, else ./chatstream.config.json if present. */
  file?: string;
}

/** Loads the whole configuration: defaults < config file < environment. */
export function loadConfig(source: ConfigSource = {}): Config {
  const env = source.env ?? process.env;
  const path =
    source.file ??
    env.CHATSTREAM_CONFIG ??
    (existsSync('chatstream.config.json') ? 'chatstream.config.json' : undefined);
  return loadSettings(schema, { env, file: path ? readConfigFile(path) : undefined });
}

export function unknownSettingsInEnvironment(env: NodeJS.ProcessEnv = process.env): string[] {
  return unknownEnvironment(schema, env);
}
