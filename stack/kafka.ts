/**
 * Apache Kafka for the local stack: one KRaft node (broker + controller) on 127.0.0.1, run
 * from Kafka's own Maven Central artifacts (fetched once into the cache) or from $KAFKA_HOME.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, MissingDependencyError, ServiceError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { type CoreConfig, PROJECT_ROOT } from '../core/settings.ts';
import { createKafka } from '../kafka/client.ts';
import { isRunning, readPidFile, startDetached, which } from './process.ts';
import { isSecureStack, secureStack } from './secure.ts';
import { type PortClaim, type Service, type ServiceStatus, waitUntilReady } from './service.ts';
import { ensureCertificates } from './tls.ts';

function readFileIfAny(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8').trim() : undefined;
}

const NAME = 'kafka';

/** Secure mode: a SASL_SSL listener (SCRAM-SHA-512) with a PEM keystore and truststore. */
export interface SecureListener {
  port: number;
  /** Server key, certificate and CA in one PEM file. */
  keystore: string;
  /** The CA (PEM) client certificates are checked against, when a client sends one. */
  truststore: string;
}

/** The SASL_SSL listener's lines. Pure. */
function secureLines(secure: SecureListener): string[] {
  const l = 'listener.name.sasl_ssl';
  return [
    'sasl.enabled.mechanisms=SCRAM-SHA-512',
    `${l}.sasl.enabled.mechanisms=SCRAM-SHA-512`,
    `${l}.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
    `${l}.ssl.keystore.type=PEM`,
    `${l}.ssl.keystore.location=${secure.keystore}`,
    `${l}.ssl.truststore.type=PEM`,
    `${l}.ssl.truststore.location=${secure.truststore}`,
    `${l}.ssl.client.auth=requested`,
  ];
}

/** server.properties for a single KRaft node. Pure, so it is unit-tested. */
export function serverProperties(opts: {
  port: number;
  controllerPort: number;
  dataDir: string;
  secure?: SecureListener;
}): string {
  const secure = opts.secure;
  const sasl = secure ? `,SASL_SSL://127.0.0.1:${secure.port}` : '';
  return [
    '# Written by `chatstream stack up`; edits are overwritten.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${opts.controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${opts.port}${sasl},CONTROLLER://127.0.0.1:${opts.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${opts.port}${sasl}`,
    'controller.listener.names=CONTROLLER',
    // The stack's own processes (the registry, probes) and the broker itself stay on loopback PLAINTEXT.
    'inter.broker.listener.name=PLAINTEXT',
    `listener.security.protocol.map=PLAINTEXT:PLAINTEXT,${secure ? 'SASL_SSL:SASL_SSL,' : ''}CONTROLLER:PLAINTEXT`,
    ...(secure ? secureLines(secure) : []),
    `log.dirs=${opts.dataDir}`,
    'num.partitions=1',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    // Topics are created by the project with explicit settings, never by a stray produce.
    'auto.create.topics.enable=false',
    '',
  ].join('\n');
}

const LOG4J = [
  'log4j.rootLogger=INFO, stdout',
  'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
  'log4j.logger.kafka.request.logger=WARN',
  'log4j.logger.state.change.logger=WARN',
  'log4j.logger.org.apache.kafka.controller=WARN',
  'log4j.logger.kafka.log.LogCleaner=WARN',
  '',
].join('\n');

/** The Kafka version of a distribution folder, read from its libs/kafka_2.*-<version>.jar. */
export function distributionVersion(home: string): string | undefined {
  const libs = join(home, 'libs');
  const jar = existsSync(libs)
    ? readdirSync(libs).find((f) => /^kafka_2\.\d+-[\w.-]+\.jar$/.test(f) && !f.includes('-test'))
    : undefined;
  return jar?.replace(/^kafka_2\.\d+-/, '').replace(/\.jar$/, '');
}

/** A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (Kafka's Uuid form). */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export class KafkaService implements Service {
  readonly name = NAME;
  readonly endpoint: string;
  readonly logFile: string;
  readonly pidFile: string;
  private readonly dir: string;
  private readonly propertiesFile: string;
  private readonly version: string;

  private readonly config: CoreConfig;

  constructor(config: CoreConfig) {
    this.config = config;
    const home = config.stack.home;
    this.dir = join(home, 'kafka');
    this.propertiesFile = join(this.dir, 'server.properties');
    this.logFile = join(home, 'logs', 'kafka.log');
    this.pidFile = join(home, 'run', 'kafka.pid');
    this.endpoint = `127.0.0.1:${config.kafka.port}`;
    this.version = config.kafka.home
      ? (distributionVersion(config.kafka.home) ?? 'unknown')
      : config.kafka.version;
  }

  ports(): PortClaim[] {
    return [
      { port: this.config.kafka.port, setting: 'CHATSTREAM_KAFKA_PORT' },
      { port: this.config.kafka.controllerPort, setting: 'CHATSTREAM_KAFKA_CONTROLLER_PORT' },
      ...(isSecureStack(this.config)
        ? [{ port: this.config.kafka.securePort, setting: 'CHATSTREAM_KAFKA_SECURE_PORT' }]
        : []),
    ];
  }

  private java(): string {
    const java = which(this.config.kafka.java);
    if (!java) {
      throw new MissingDependencyError(
        'java',
        `Java is not installed: "${this.config.kafka.java}" was not found (set by JAVA_HOME or CHATSTREAM_KAFKA_JAVA).`,
        'install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless) or point JAVA_HOME at one',
      );
    }
    return java;
  }

  /** The folder of Kafka's jars: $KAFKA_HOME/libs, or the Maven-fetched cache. */
  private libs(log: Logger): string {
    const home = this.config.kafka.home;
    if (home) {
      if (!distributionVersion(home)) {
        throw new ConfigError('KAFKA_HOME', `${home} is not a Kafka distribution (no libs/kafka_2.*.jar)`);
      }
      return join(home, 'libs');
    }
    const libs = join(this.config.stack.cacheDir, `kafka-${this.version}`, 'libs');
    const done = join(libs, '.complete');
    if (existsSync(done)) return libs;
    const mvn = which(this.config.kafka.mvn);
    if (!mvn) {
      throw new MissingDependencyError(
        'mvn',
        `Maven is not installed: "${this.config.kafka.mvn}" was not found, and Kafka ${this.version} is not in the cache yet.`,
        'install Maven (Debian: apt-get install maven), or set KAFKA_HOME to a Kafka distribution',
      );
    }
    log.info('fetching Apache Kafka from Maven Central (first run only)', {
      version: this.version,
      into: libs,
    });
    const pom = join(PROJECT_ROOT, 'stack', 'kafka', 'pom.xml');
    const args = [
      '-B',
      '-q',
      '-f',
      pom,
      'dependency:copy-dependencies',
      `-Dkafka.version=${this.version}`,
      `-DoutputDirectory=${libs}`,
    ];
    const run = spawnSync(mvn, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (run.status !== 0) {
      throw new ServiceError(NAME, `Maven could not fetch Kafka ${this.version}`, {
        code: 'KAFKA_FETCH_FAILED',
        hint: `${mvn} ${args.join(' ')}\n${`${run.stdout}${run.stderr}`.trim().split('\n').slice(-15).join('\n')}`,
      });
    }
    writeFileSync(done, `${new Date().toISOString()}\n`);
    return libs;
  }

  async prepare(log: Logger): Promise<void> {
    const java = this.java();
    const libs = this.libs(log);
    const dataDir = join(this.dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    const { port, controllerPort, securePort } = this.config.kafka;
    const secure = secureStack(this.config);
    if (secure) ensureCertificates(this.config.stack.home);
    const listener = secure && {
      port: securePort,
      keystore: secure.certificates.serverKeystore,
      truststore: secure.certificates.ca,
    };
    writeFileSync(
      this.propertiesFile,
      serverProperties({ port, controllerPort, dataDir, secure: listener || undefined }),
    );
    writeFileSync(join(this.dir, 'log4j.properties'), LOG4J);
    const scramMarker = join(this.dir, 'scram-user');
    if (existsSync(join(dataDir, 'meta.properties'))) {
      if (secure && readFileIfAny(scramMarker) !== secure.kafka.user)
        throw new ServiceError(
          NAME,
          `the storage was formatted without the SCRAM user "${secure.kafka.user}"`,
          {
            code: 'KAFKA_NO_SCRAM_USER',
            hint: `secure mode creates its Kafka user when the storage is formatted: use a fresh CHATSTREAM_STACK_HOME for the secure stack (or \`chatstream stack reset --yes\`, which deletes the data)`,
          },
        );
      return;
    }
    log.info('formatting Kafka storage (KRaft)', {
      dataDir,
      scramUser: secure ? secure.kafka.user : undefined,
    });
    const format = spawnSync(
      java,
      [
        ...this.jvmArgs(libs),
        'kafka.tools.StorageTool',
        'format',
        '-t',
        newClusterId(),
        '-c',
        this.propertiesFile,
        // The SCRAM user, stored in the cluster metadata from the start (KRaft).
        ...(secure
          ? ['--add-scram', `SCRAM-SHA-512=[name=${secure.kafka.user},password=${secure.kafka.password}]`]
          : []),
      ],
      { encoding: 'utf8' },
    );
    if (format.status !== 0) {
      throw new ServiceError(NAME, 'formatting the storage failed', {
        code: 'KAFKA_FORMAT_FAILED',
        hint: `${format.stdout}${format.stderr}`.trim().split('\n').slice(-10).join('\n'),
      });
    }
    if (secure) writeFileSync(scramMarker, secure.kafka.user);
  }

  private jvmArgs(libs: string): string[] {
    return [
      '-Djava.awt.headless=true',
      `-Dlog4j.configuration=file:${join(this.dir, 'log4j.properties')}`,
      '-cp',
      `${libs}/*`,
    ];
  }

  async start(log: Logger): Promise<void> {
    const libs = this.libs(log);
    const heap = this.config.kafka.heap;
    await startDetached({
      command: this.java(),
      args: [
        `-Xmx${heap}`,
        `-Xms${heap}`,
        '-XX:+UseG1GC',
        ...this.jvmArgs(libs),
        'kafka.Kafka',
        this.propertiesFile,
      ],
      logFile: this.logFile,
      pidFile: this.pidFile,
      marker: this.propertiesFile,
    });
  }

  private async probe(timeoutMs: number): Promise<{ clusterId: string; brokers: number }> {
    const kafka = createKafka(this.config, {
      role: 'stack-check',
      quiet: true,
      plaintext: true,
      overrides: {
        brokers: [this.endpoint],
        connectionTimeout: timeoutMs,
        requestTimeout: timeoutMs,
        retry: { retries: 0 },
      },
    });
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      return { clusterId: cluster.clusterId, brokers: cluster.brokers.length };
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  waitReady(deadline: number): Promise<void> {
    return waitUntilReady(this, deadline, () => this.probe(2000));
  }

  async status(): Promise<ServiceStatus> {
    const record = readPidFile(this.pidFile);
    const base = {
      name: NAME,
      endpoint: this.endpoint,
      logFile: this.logFile,
      version: `Apache Kafka ${this.version} (KRaft)`,
    };
    if (!isRunning(record)) return { ...base, state: 'stopped' };
    try {
      const { clusterId, brokers } = await this.probe(3000);
      return {
        ...base,
        state: 'running',
        pid: record.pid,
        detail: `cluster ${clusterId}, ${brokers} broker(s)`,
      };
    } catch (error) {
      return { ...base, state: 'unhealthy', pid: record.pid, detail: (error as Error).message };
    }
  }
}
