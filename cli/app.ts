/**
 * The `chatstream` command line: finds the command, loads the configuration, runs it and
 * turns its outcome into an exit code (see core/errors.ts EXIT; documented in the README).
 * Loaded by cli/main.ts once the process runs with the heap cap its command needs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeError, EXIT, isChatstreamError, UsageError } from '../core/errors.ts';
import { configureLogging, createLogger } from '../core/log.ts';
import { PROJECT_ROOT } from '../core/settings.ts';
import { type Command, commandHelp, groupHelp, parseCommandLine } from './command.ts';
import { configCommands } from './commands/config.ts';
import { analyticsCommands, dashboardCommand } from './commands/dashboard.ts';
import { freshchatCommands } from './commands/freshchat.ts';
import { purechatCommands } from './commands/purechat.ts';
import { registryCommand } from './commands/registry.ts';
import { schemasCommands } from './commands/schemas.ts';
import { sinkCommand } from './commands/sink.ts';
import { stackCommands } from './commands/stack.ts';
import { startCommand } from './commands/start.ts';
import { loadConfig, unknownSettingsInEnvironment } from './settings.ts';

export const commands: Command[] = [
  startCommand,
  ...stackCommands,
  registryCommand,
  ...schemasCommands,
  sinkCommand,
  ...freshchatCommands,
  ...purechatCommands,
  dashboardCommand,
  ...analyticsCommands,
  ...configCommands,
];

const EXIT_CODES = `Exit codes: 0 ok, 1 internal error, 2 usage, 3 invalid setting, 4 missing dependency, 5 service failure.
Settings: environment variables CHATSTREAM_* or a JSON file (CHATSTREAM_CONFIG); see "chatstream config docs".`;

function version(): string {
  return (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string })
    .version;
}

/** The command whose path is the longest prefix of argv. */
function findCommand(argv: string[]): { command?: Command; rest: string[]; prefix: string[] } {
  let best: Command | undefined;
  for (const command of commands) {
    if (command.path.every((word, i) => argv[i] === word) && command.path.length > (best?.path.length ?? 0))
      best = command;
  }
  if (best) return { command: best, rest: argv.slice(best.path.length), prefix: best.path };
  const words = argv.filter((a) => !a.startsWith('-'));
  const prefix = words.length && commands.some((c) => c.path[0] === words[0]) ? [words[0] as string] : [];
  return { rest: argv, prefix };
}

export async function main(
  argv: string[],
  out: (text: string) => void = (t) => process.stdout.write(`${t}\n`),
): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-v') {
    out(version());
    return EXIT.ok;
  }
  const { command, rest, prefix } = findCommand(argv);
  const wantsHelp = rest.includes('--help') || rest.includes('-h');
  if (!command) {
    const group = commands.filter((c) => prefix.every((word, i) => c.path[i] === word));
    // Help for a group (or for everything) only when every word names it: `nosuch --help` is
    // an unknown command (exit 2), not a request for the general help.
    const words = argv.filter((a) => !a.startsWith('-'));
    const isGroup = words.length === prefix.length;
    if (isGroup && (wantsHelp || argv.length === 0 || (prefix.length > 0 && argv.length === 1))) {
      out(groupHelp(prefix, group, prefix.length ? undefined : EXIT_CODES));
      return EXIT.ok;
    }
    throw new UsageError(
      `unknown command "${(isGroup ? argv : words).join(' ')}"`,
      `see: chatstream ${prefix.join(' ')}${prefix.length ? ' ' : ''}--help`,
    );
  }
  if (wantsHelp) {
    out(commandHelp(command));
    return EXIT.ok;
  }
  const parsed = parseCommandLine(command, rest);
  const config = loadConfig();
  configureLogging({ level: config.log.level, format: config.log.format });
  const log = createLogger('cli');
  for (const name of unknownSettingsInEnvironment())
    log.warn('unknown setting in the environment is ignored', { variable: name });
  return command.run({ ...parsed, config, log, out });
}

export async function runCli(argv: string[]): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (error) {
    if (isChatstreamError(error)) {
      process.stderr.write(`chatstream: ${describeError(error)}\n`);
      process.exitCode = error.exitCode;
    } else {
      process.stderr.write(
        `chatstream: internal error (a bug; please report it)\n${(error as Error)?.stack ?? String(error)}\n`,
      );
      process.exitCode = EXIT.internal;
    }
  }
}
