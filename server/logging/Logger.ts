import { pino, type Logger } from 'pino';

export type { Logger };

const root: Logger = pino({ level: process.env.CONFLUX_LOG_LEVEL ?? 'info', base: { service: 'conflux' } });
/** Module loggers are made at import time, before the config is read; they follow the configured level. */
const moduleLoggers: Logger[] = [];

/** Sets the level of every logger (done at start-up from the config). */
export function configureLogging(level: string): void {
  root.level = level;
  for (const logger of moduleLoggers) logger.level = level;
}

/** A logger whose lines carry `component`, the module that wrote them. */
export function createLogger(component: string, bindings: Record<string, unknown> = {}): Logger {
  const logger = root.child({ component, ...bindings });
  if (Object.keys(bindings).length === 0) moduleLoggers.push(logger);
  return logger;
}
