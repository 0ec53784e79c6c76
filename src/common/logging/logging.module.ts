import { DynamicModule, LoggerService, Module } from '@nestjs/common';
import { LoggerModule, Logger as NestPinoLogger, Params, PinoLogger } from 'nestjs-pino';
import type { Logger } from 'pino';
import { LogContext, ROOT_LOGGER } from './log-context';
import { createRootLogger, LogOutput } from './root-logger';

/**
 * nestjs-pino's module on the process's root logger. Its request middleware is not mounted
 * (`forRoutes: []`): Nest mounts module middleware after the Express middleware of http-setup.ts, so
 * requests refused there (413, 415, a malformed body) would carry no id and leave no line;
 * http-setup.ts mounts request-logging.ts first instead. `wrapSerializers: false` keeps the root's
 * serializers (pino-http would wrap them for the requests it logs, and it logs none here).
 */
function params(root: Logger): Params {
  return { pinoHttp: { logger: root, wrapSerializers: false }, forRoutes: [] };
}

function isLogger(log: Logger | LogOutput): log is Logger {
  return typeof (log as Logger).child === 'function';
}

@Module({})
export class LoggingModule {
  /** `log`: the process's root logger (see nestLogger), or the output to make one for. */
  static forRoot(log: Logger | LogOutput): DynamicModule {
    const root = isLogger(log) ? log : createRootLogger(log);
    return {
      module: LoggingModule,
      global: true,
      imports: [LoggerModule.forRoot(params(root))],
      providers: [{ provide: ROOT_LOGGER, useValue: root }, LogContext],
      exports: [ROOT_LOGGER, LogContext, LoggerModule],
    };
  }
}

/**
 * nestjs-pino's Logger over `root`, for NestFactory's `logger` option: Nest's own lines and every
 * `new Logger(context)` are JSON lines from the first one on. Handed over at creation rather than by
 * `useLogger` after it, so no line is buffered: a buffered line is written later, outside the
 * LogContext it was logged in (a worker takes jobs while Nest is still starting).
 */
export function nestLogger(root: Logger): LoggerService {
  const p = params(root);
  return new NestPinoLogger(new PinoLogger(p), p);
}
