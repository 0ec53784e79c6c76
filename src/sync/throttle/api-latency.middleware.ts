/**
 * Feeds the API's latency to the Throttler: the duration of every application request (the
 * `/conversations` endpoints, which are what production users feel). Runs in the API process only.
 */
import { Inject, Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { THROTTLER, type Throttler } from './throttler';

@Injectable()
export class ApiLatencyMiddleware implements NestMiddleware {
  constructor(@Inject(THROTTLER) private readonly throttler: Throttler) {}

  use(req: Request, res: Response, next: NextFunction): void {
    if (req.originalUrl.startsWith('/conversations')) {
      const started = process.hrtime.bigint();
      res.on('finish', () => this.throttler.observeLatency('api', Number(process.hrtime.bigint() - started) / 1e6));
    }
    next();
  }
}
