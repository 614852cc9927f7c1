/**
 * The shape of a CLI command and the help text built from it. Every command declares its
 * options with a description, so `--help` is always complete and unknown flags are refused.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Config } from './settings.ts';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  description: string;
  default?: string | boolean;
}

export interface Context {
  args: string[];
  flags: Record<string, string | boolean | undefined>;
  config: Config;
  log: Logger;
  out: (text: string) => void;
}

export interface Command {
  /** Words that select it, e.g. ['stack', 'up']. */
  path: string[];
  summary: string;
  /** Positional arguments as shown in usage, e.g. '[service...]'. */
  argsUsage?: string;
  /** Longer text under the usage line. */
  details?: string;
  options?: Record<string, OptionSpec>;
  /** Returns the exit code. */
  run(ctx: Context): Promise<number>;
}

export function parseCommandLine(command: Command, argv: string[]): Pick<Context, 'args' | 'flags'> {
  const options = Object.fromEntries(
    Object.entries(command.options ?? {}).map(([name, spec]) => [
      name,
      {
        type: spec.type,
        ...(spec.short ? { short: spec.short } : {}),
        ...(spec.default !== undefined ? { default: spec.default } : {}),
      },
    ]),
  );
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { args: positionals, flags: values as Context['flags'] };
  } catch (error) {
    throw new UsageError((error as Error).message, `see: chatstream ${command.path.join(' ')} --help`);
  }
}

export function commandHelp(command: Command): string {
  const lines = [
    `Usage: chatstream ${command.path.join(' ')}${command.options ? ' [options]' : ''}${command.argsUsage ? ` ${command.argsUsage}` : ''}`,
    '',
    command.summary,
  ];
  if (command.details) lines.push('', command.details);
  const entries = Object.entries(command.options ?? {});
  entries.push(['help', { type: 'boolean', short: 'h', description: 'Show this help.' }]);
  lines.push('', 'Options:');
  for (const [name, spec] of entries) {
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.type === 'string' ? ' <value>' : ''}`;
    const fallback = spec.default !== undefined ? ` (default: ${spec.default})` : '';
    lines.push(`  ${flag.padEnd(26)} ${spec.description}${fallback}`);
  }
  return lines.join('\n');
}

/** Help for a group of commands sharing a prefix (e.g. `chatstream stack --help`). */
export function groupHelp(prefix: string[], commands: Command[], footer?: string): string {
  const lines = [
    `Usage: chatstream ${prefix.length ? `${prefix.join(' ')} ` : ''}<command> [options]`,
    '',
    'Commands:',
  ];
  const width = Math.max(...commands.map((c) => c.path.join(' ').length));
  for (const c of commands) lines.push(`  ${c.path.join(' ').padEnd(width)}  ${c.summary}`);
  lines.push(
    '',
    `Run "chatstream ${prefix.length ? `${prefix.join(' ')} ` : ''}<command> --help" for a command's options.`,
  );
  if (footer) lines.push('', footer);
  return lines.join('\n');
}

/** A whole-number flag (e.g. --port), or the fallback when not given; a UsageError naming the flag otherwise. */
export function intFlag(ctx: Pick<Context, 'flags'>, flag: string, fallback: number): number {
  const raw = ctx.flags[flag];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(n) || n < 0)
    throw new UsageError(`--${flag} must be a whole number, got "${raw}"`);
  return n;
}
