/** Minimal structured logger the stack writes to; a pino logger satisfies it. */
export interface SipLogger {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
  child(bindings: Record<string, unknown>): SipLogger;
}

const noop = (): void => undefined;

/** A logger that discards everything, for callers that do not care. */
export const silentLogger: SipLogger = {
  debug: noop, info: noop, warn: noop, error: noop,
  child: () => silentLogger,
};
