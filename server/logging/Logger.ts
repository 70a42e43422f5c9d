import { pino, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';

export type { Logger };

/** Where log lines go: JSON lines on stdout, or (`pretty`) one readable line each. Switched at start-up. */
let sink: { write: (line: string) => unknown } = process.stdout;
const root: Logger = pino({ level: process.env.CONFLUX_LOG_LEVEL ?? 'info', base: { service: 'conflux' } }, {
  write: (line: string) => sink.write(line),
});
/** Module loggers are made at import time, before the config is read; they follow the configured level. */
const moduleLoggers: Logger[] = [];

/**
 * Sets the level of every logger and the format (done at start-up from the config): JSON lines, or with
 * `pretty` a line for a person: time, level, component, message, then the line's other fields.
 */
export function configureLogging(level: string, pretty = false): void {
  root.level = level;
  for (const logger of moduleLoggers) logger.level = level;
  if (!pretty) {
    sink = process.stdout;
    return;
  }
  // Formatted in the caller's turn, so that lines and what else goes to stdout keep their order.
  const format = prettyFactory({ colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service,component', messageFormat: '{if component}{component}: {end}{msg}', singleLine: true });
  sink = { write: (line: string) => process.stdout.write(format(line)) };
}

/** Whether logs are for a person: `log.pretty`, or `auto` and stdout is a terminal. */
export function wantsPrettyLogs(setting: boolean | 'auto'): boolean {
  return setting === 'auto' ? process.stdout.isTTY === true : setting;
}

/** A logger whose lines carry `component`, the module that wrote them. */
export function createLogger(component: string, bindings: Record<string, unknown> = {}): Logger {
  const logger = root.child({ component, ...bindings });
  if (Object.keys(bindings).length === 0) moduleLoggers.push(logger);
  return logger;
}
