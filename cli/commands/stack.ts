/** `chatstream stack up | status | down | logs | reset`: the local stack of real services. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { EXIT, UsageError } from '../../core/errors.ts';
import { renderTable } from '../../core/table.ts';
import { tail } from '../../stack/process.ts';
import { CONFIGURED, secureClientSettings, secureStack } from '../../stack/secure.ts';
import type { ServiceStatus } from '../../stack/service.ts';
import { Stack } from '../../stack/stack.ts';
import type { Command, Context } from '../command.ts';

function stackOf(ctx: Context): Stack {
  return new Stack(ctx.config, ctx.log.child('stack'));
}

/** Secure mode: the settings a client needs, ready to paste (passwords as `_FILE`, never their values). */
export function secureSettingsText(config: Context['config']): string | undefined {
  const secure = secureStack(config);
  if (!secure) return undefined;
  // A configured password is never printed: its line is a comment to paste the value into.
  const lines = secureClientSettings(config, secure).map(([name, value]) =>
    value === CONFIGURED ? `# export ${name}=<the password you configured>` : `export ${name}=${value}`,
  );
  return ['', 'Secure mode: a client of this stack sets', ...lines].join('\n');
}

function checkNames(stack: Stack, names: string[]): string[] {
  const known = stack.known;
  for (const name of names) {
    if (!known.includes(name))
      throw new UsageError(`unknown service "${name}"`, `services: ${known.join(', ')}`);
  }
  return names;
}

export function statusTable(statuses: ServiceStatus[]): string {
  return renderTable(
    ['SERVICE', 'STATE', 'VERSION', 'ENDPOINT', 'PID', 'DETAIL'],
    statuses.map((s) => [s.name, s.state, s.version ?? '', s.endpoint, s.pid ?? '', s.detail ?? '']),
  );
}

const up: Command = {
  path: ['stack', 'up'],
  argsUsage: '[service...]',
  summary: 'Start the local stack (Kafka, ClickHouse) and wait until every service answers.',
  details:
    'Idempotent: running services are left alone. Kafka is fetched from Maven Central on first use;\nClickHouse is installed with apt-get when missing (root on Debian). Data lives under CHATSTREAM_STACK_HOME.\n--secure (or CHATSTREAM_STACK_SECURE=true) adds a throw-away CA, Kafka SASL_SSL (SCRAM-SHA-512), ClickHouse HTTPS and\nthe registry over HTTPS with basic auth, and prints the settings a client needs. A stack once secure stays so.',
  options: {
    secure: { type: 'boolean', description: 'Secure mode (same as CHATSTREAM_STACK_SECURE=true).' },
  },
  async run(ctx) {
    const config = ctx.flags.secure
      ? { ...ctx.config, stack: { ...ctx.config.stack, secure: true } }
      : ctx.config;
    const stack = new Stack(config, ctx.log.child('stack'));
    const statuses = await stack.up(checkNames(stack, ctx.args));
    ctx.out(statusTable(statuses));
    const settings = secureSettingsText(config);
    if (settings) ctx.out(settings);
    return statuses.every((s) => s.state === 'running') ? EXIT.ok : EXIT.service;
  },
};

const status: Command = {
  path: ['stack', 'status'],
  argsUsage: '[service...]',
  summary: 'Show each service: state, version, endpoint, pid. Exits 0 only when all are running.',
  options: { json: { type: 'boolean', description: 'Print JSON instead of a table.' } },
  async run(ctx) {
    const stack = stackOf(ctx);
    const statuses = await stack.status(checkNames(stack, ctx.args));
    ctx.out(ctx.flags.json ? JSON.stringify(statuses, null, 2) : statusTable(statuses));
    return statuses.every((s) => s.state === 'running') ? EXIT.ok : EXIT.service;
  },
};

const down: Command = {
  path: ['stack', 'down'],
  argsUsage: '[service...]',
  summary: 'Stop the processes the stack started (by pid file, never by name). Data is kept.',
  async run(ctx) {
    const stack = stackOf(ctx);
    const stopped = await stack.down(checkNames(stack, ctx.args));
    ctx.out(stopped.length ? `stopped: ${stopped.join(', ')}` : 'nothing was running');
    return EXIT.ok;
  },
};

const logs: Command = {
  path: ['stack', 'logs'],
  argsUsage: '[service...]',
  summary: "Print the end of each service's log file.",
  options: {
    lines: { type: 'string', short: 'n', description: 'How many lines per service.', default: '40' },
    follow: {
      type: 'boolean',
      short: 'f',
      description: 'Keep printing new lines (tail -F) until interrupted.',
    },
  },
  async run(ctx) {
    const stack = stackOf(ctx);
    const names = checkNames(stack, ctx.args);
    const lines = Number(ctx.flags.lines);
    if (!Number.isInteger(lines) || lines < 0)
      throw new UsageError(`--lines must be a whole number, got "${ctx.flags.lines}"`);
    const services = stack.services.filter((s) => names.length === 0 || names.includes(s.name));
    if (ctx.flags.follow) {
      const files = services.map((s) => s.logFile);
      const child = spawn('tail', ['-n', String(lines), '-F', ...files], { stdio: 'inherit' });
      return new Promise((resolve) => child.on('exit', () => resolve(EXIT.ok)));
    }
    for (const service of services) {
      ctx.out(`==> ${service.name}: ${service.logFile}${existsSync(service.logFile) ? '' : ' (no log yet)'}`);
      const text = tail(service.logFile, lines);
      if (text) ctx.out(text);
    }
    return EXIT.ok;
  },
};

const reset: Command = {
  path: ['stack', 'reset'],
  summary: 'Stop the stack and delete its data, configs and logs (keeps downloaded artifacts).',
  options: { yes: { type: 'boolean', short: 'y', description: 'Confirm: without it nothing is deleted.' } },
  async run(ctx) {
    if (!ctx.flags.yes) {
      throw new UsageError(
        `this deletes every topic and table under ${ctx.config.stack.home}`,
        'run again with --yes to confirm',
      );
    }
    await stackOf(ctx).reset();
    ctx.out(`reset: ${ctx.config.stack.home}`);
    return EXIT.ok;
  },
};

export const stackCommands: Command[] = [up, status, down, logs, reset];
