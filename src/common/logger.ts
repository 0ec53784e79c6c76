import { LoggerService } from '@nestjs/common';
import type { LogLevel } from './server.config';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * One JSON object per line on stdout, the shape log pipelines expect. Callers pass context objects;
 * secrets never reach here because tokens and URLs with passwords are never put in log fields
 * (`redactUrl` exists for the places that need to name a server).
 */
export class JsonLogger implements LoggerService {
  constructor(private readonly level: LogLevel = 'info', private readonly out: NodeJS.WritableStream = process.stdout) {}

  private write(level: LogLevel, message: unknown, context?: unknown, extra?: Record<string, unknown>): void {
    if (ORDER[level] < ORDER[this.level]) return;
    const entry: Record<string, unknown> = { time: new Date().toISOString(), level };
    if (typeof context === 'string') entry.context = context;
    if (message instanceof Error) {
      entry.msg = message.message;
      entry.err = { name: message.name, stack: message.stack };
    } else if (typeof message === 'object' && message !== null) {
      Object.assign(entry, message);
    } else {
      entry.msg = String(message);
    }
    if (extra) Object.assign(entry, extra);
    this.out.write(`${JSON.stringify(entry)}\n`);
  }

  log(message: unknown, context?: string): void {
    this.write('info', message, context);
  }
  error(message: unknown, stackOrContext?: string, context?: string): void {
    const ctx = context ?? (stackOrContext && !stackOrContext.includes('\n') ? stackOrContext : undefined);
    const stack = context || (stackOrContext && stackOrContext.includes('\n')) ? stackOrContext : undefined;
    this.write('error', message, ctx, stack ? { stack } : undefined);
  }
  warn(message: unknown, context?: string): void {
    this.write('warn', message, context);
  }
  debug(message: unknown, context?: string): void {
    this.write('debug', message, context);
  }
  verbose(message: unknown, context?: string): void {
    this.write('debug', message, context);
  }
}

/** `scheme://user:***@host/db`: a server may be named in a log or error, its password never. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparsable url>';
  }
}
