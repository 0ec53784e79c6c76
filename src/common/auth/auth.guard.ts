/**
 * Bearer-token authentication for every route not marked @Public(). Tokens are compared in constant
 * time (both sides hashed to equal length, every configured token checked) and never logged.
 * Operator tokens also open the application endpoints; @OperatorOnly() routes refuse app tokens (403).
 */
import { CanActivate, ExecutionContext, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import type { ApiToken, AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { DomainError } from '../errors';

export const IS_PUBLIC = 'auth:public';
export const OPERATOR_ONLY = 'auth:operator';
export const Public = () => SetMetadata(IS_PUBLIC, true);
export const OperatorOnly = () => SetMetadata(OPERATOR_ONLY, true);

export interface Principal {
  name: string;
  role: ApiToken['role'];
}

export type AuthenticatedRequest = Request & { principal?: Principal; id?: string };

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

@Injectable()
export class AuthGuard implements CanActivate {
  private readonly tokens: Array<{ digest: Buffer; principal: Principal }>;

  constructor(
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.tokens = config.auth.tokens.map((t) => ({ digest: digest(t.token), principal: { name: t.name, role: t.role } }));
  }

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const principal = this.authenticate(req.headers.authorization);
    if (!principal) throw new DomainError('UNAUTHORIZED', 401, 'A valid bearer token is required');
    if (this.reflector.getAllAndOverride<boolean>(OPERATOR_ONLY, targets) && principal.role !== 'operator') {
      throw new DomainError('FORBIDDEN', 403, 'This endpoint needs an operator token');
    }
    req.principal = principal;
    return true;
  }

  private authenticate(header: string | undefined): Principal | null {
    if (this.tokens.length === 0 && this.config.app.localDevMode) return { name: 'local-dev', role: 'operator' };
    const match = /^Bearer ([^\s]+)$/.exec(header ?? '');
    if (!match) return null;
    const presented = digest(match[1]);
    let found: Principal | null = null;
    for (const t of this.tokens) if (timingSafeEqual(t.digest, presented)) found ??= t.principal;
    return found;
  }
}
