/**
 * Runs around every request (ShadowModule registers it app-wide) and acts on handlers marked
 * `@Shadowed('get')` (src/conversations/shadowed.decorator.ts): a share of their requests is handed to the shadow sampler once the
 * response has been sent ('finish'), so the comparison never adds to the client's latency. Successful
 * reads and 404s are sampled (a 404 where the other store has the record is a mismatch too).
 */
import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { Observable, tap } from 'rxjs';
import { SHADOWED_ENDPOINT } from '../conversations/shadowed.decorator';
import type { Endpoint } from './domain/response-body';
import { ShadowSampler } from './shadow-sampler';

@Injectable()
export class ShadowSamplingInterceptor implements NestInterceptor {
  constructor(
    private readonly sampler: ShadowSampler,
    private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const endpoint = this.reflector.get<Endpoint | undefined>(SHADOWED_ENDPOINT, context.getHandler());
    if (!endpoint || !this.sampler.shouldSample(endpoint)) return next.handle();
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<Response>();
    let body: unknown;
    res.once('finish', () => {
      if (res.statusCode !== 200 && res.statusCode !== 404) return;
      const length = Number(res.getHeader('content-length'));
      this.sampler.submit({
        endpoint,
        params: req.params as Record<string, string>,
        query: req.query,
        status: res.statusCode,
        body,
        bytes: Number.isFinite(length) ? length : undefined,
      });
    });
    if (!this.sampler.capturesBodies) return next.handle();
    return next.handle().pipe(tap((value) => (body = value)));
  }
}
