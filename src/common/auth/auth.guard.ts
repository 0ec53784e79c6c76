/**
 * Bearer-token authentication for every route not marked @Public() (tokens are looked up by
 * TokenAuthenticator: constant time, never logged). Operator tokens also open the application
 * endpoints; @OperatorOnly() routes refuse app tokens (403).
 */
import { CanActivate, ExecutionContext, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { SERVER_CONFIG, ServerConfig } from '../server.config';
import { AUTH_CONFIG, AuthConfig } from './auth.config';
import { DomainError } from '../errors';
import { Principal, TokenAuthenticator } from './token-authenticator';

export const IS_PUBLIC = 'auth:public';
export const OPERATOR_ONLY = 'auth:operator';
export const Public = () => SetMetadata(IS_PUBLIC, true);
export const OperatorOnly = () => SetMetadata(OPERATOR_ONLY, true);

export type { Principal } from './token-authenticator';

export type AuthenticatedRequest = Request & { principal?: Principal; id?: string };

@Injectable()
export class AuthGuard implements CanActivate {
  private readonly authenticator: TokenAuthenticator;

  constructor(
    private readonly reflector: Reflector,
    @Inject(AUTH_CONFIG) auth: AuthConfig,
    @Inject(SERVER_CONFIG) server: ServerConfig,
  ) {
    this.authenticator = new TokenAuthenticator({ auth, app: server });
  }

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const principal = this.authenticator.authenticate(req.headers.authorization);
    if (!principal) throw new DomainError('UNAUTHORIZED', 401, 'A valid bearer token is required');
    if (this.reflector.getAllAndOverride<boolean>(OPERATOR_ONLY, targets) && principal.role !== 'operator') {
      throw new DomainError('FORBIDDEN', 403, 'This endpoint needs an operator token');
    }
    req.principal = principal;
    return true;
  }
}
