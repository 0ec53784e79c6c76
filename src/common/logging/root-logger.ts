/**
 * The process's one pino logger: JSON lines (`level` as a word, `time` in ISO 8601), LOG_LEVEL's levels,
 * and redaction at two depths. pino's `redact` paths blank the fields that are secrets by name (an
 * Authorization or Cookie header, a password) wherever a logged object carries them; `redactSecrets`
 * then scrubs the finished line, so a connection string or token inside any message or error is caught
 * too. Writes are synchronous, as process.stdout's are on a pipe: a line logged just before an exit
 * is not lost, and lines of one process keep their order.
 */
import pino, { DestinationStream, Logger } from 'pino';
import type { LogLevel } from '../server.config';
import { redactSecrets } from './redact';

export interface LogOutput {
  /** LOG_LEVEL's levels, or `silent` (nothing at all: what tests get when they start an app with `{ logger: false }`). */
  level: LogLevel | 'silent';
  /** stdout (the default: what log pipelines read), or stderr for a program whose stdout is its result (bench, CLIs). */
  stream?: 'stdout' | 'stderr';
  /** Instead of `stream`: where the lines go (tests read them here). */
  destination?: DestinationStream;
}

const REDACT_PATHS = [
  'authorization',
  'cookie',
  'password',
  '*.authorization',
  '*.cookie',
  '*.password',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["proxy-authorization"]',
  '*.headers["set-cookie"]',
];

export function createRootLogger(output: LogOutput): Logger {
  return pino(
    {
      level: output.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
      // An Error becomes {type, message, stack}; what a caller already shaped (`{name, message}`) stays as it is.
      serializers: { err: (err: unknown) => (err instanceof Error ? pino.stdSerializers.err(err) : err) },
      hooks: { streamWrite: redactSecrets },
    },
    output.destination ?? pino.destination({ dest: output.stream === 'stderr' ? 2 : 1, sync: true }),
  );
}
