import { Inject, Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import type { Bindings, Logger } from 'pino';

export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

/**
 * Fields on every line logged while a piece of work runs: a request's id, a job's queue and id. The
 * fields live in nestjs-pino's AsyncLocalStorage, so every `new Logger(context)` from @nestjs/common
 * picks them up, through every `await` and in whatever the work starts, without being handed a logger.
 */
@Injectable()
export class LogContext {
  constructor(
    @Inject(ROOT_LOGGER) readonly root: Logger,
    private readonly pino: PinoLogger,
  ) {}

  run<T>(bindings: Bindings, work: () => T): T {
    return this.pino.runInContext(work, { bindings });
  }
}
