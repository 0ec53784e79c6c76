/**
 * The second global guard, after AuthGuard has named the caller: every authenticated request takes one
 * token from its token's bucket (src/rate-limit/rate-limits.ts), or is refused with 429 and Retry-After.
 */
import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import { AuthenticatedRequest, IS_PUBLIC } from '../common/auth/auth.guard';
import { DomainError } from '../common/errors';
import { RateLimits } from './rate-limits';

@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly limits: RateLimits,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) return true;
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (!req.principal) return true;
    const waitMs = await this.limits.take(req.principal);
    if (waitMs === 0) return true;
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    context.switchToHttp().getResponse<Response>().setHeader('Retry-After', String(seconds));
    throw new DomainError('RATE_LIMITED', 429, `Too many requests for token "${req.principal.name}"; retry after ${seconds} s`);
  }
}
