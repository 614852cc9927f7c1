/**
 * The structured logger every command shares. One line per event on stderr (stdout stays free
 * for command output): JSON for machines, or a compact pretty form on a terminal.
 *
 *   const log = createLogger('stack');
 *   log.info('kafka is ready', { port: 9092, ms: 4210 });
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
export type Fields = Record<string, unknown>;

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(component: string, fields?: Fields): Logger;
}

export interface LogOptions {
  level: Level;
  format: 'auto' | 'json' | 'pretty';
  write?: (line: string) => void;
}

/** Field names whose values never reach a log line. */
const SECRET_KEY = /pass(word)?|secret|token|api[-_]?key|authorization|credential/i;

let options: Required<LogOptions> = {
  level: 'info',
  format: 'auto',
  write: (line) => process.stderr.write(line),
};

/** Applies the log settings process-wide (called once by the CLI after loading config). */
export function configureLogging(next: Partial<LogOptions>): void {
  options = { ...options, ...next };
}

function isPretty(): boolean {
  return options.format === 'pretty' || (options.format === 'auto' && process.stderr.isTTY === true);
}

function scrub(fields: Fields): Fields {
  const out: Fields = {};
  for (const [key, value] of Object.entries(fields)) {
    if (SECRET_KEY.test(key)) out[key] = '***';
    else if (value instanceof Error)
      out[key] = { message: value.message, code: (value as { code?: unknown }).code };
    else out[key] = value;
  }
  return out;
}

function formatPretty(time: Date, level: Level, component: string, msg: string, fields: Fields): string {
  const extras = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const clock = time.toISOString().slice(11, 23);
  return `${clock} ${level.toUpperCase().padEnd(5)} ${component.padEnd(10)} ${msg}${extras ? `  ${extras}` : ''}\n`;
}

export function createLogger(component: string, bound: Fields = {}): Logger {
  const emit = (level: Level, msg: string, fields: Fields = {}) => {
    if (ORDER[level] < ORDER[options.level]) return;
    const time = new Date();
    const all = scrub({ ...bound, ...fields });
    options.write(
      isPretty()
        ? formatPretty(time, level, component, msg, all)
        : `${JSON.stringify({ time: time.toISOString(), level, component, msg, ...all })}\n`,
    );
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (name, fields = {}) => createLogger(`${component}.${name}`, { ...bound, ...fields }),
  };
}
