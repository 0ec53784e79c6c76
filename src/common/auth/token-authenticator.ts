/**
 * Looks a presented token up among the configured ones. Tokens are compared in constant time (both
 * sides hashed to equal length, every configured token checked) and never logged. Shared by the route
 * guard and by what sits outside Nest's routing, which its guards do not cover: the OpenAPI document
 * and the /queues board.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ServerConfig } from '../server.config';
import type { ApiToken, AuthConfig } from './auth.config';

export interface Principal {
  name: string;
  role: ApiToken['role'];
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export class TokenAuthenticator {
  private readonly tokens: Array<{ digest: Buffer; principal: Principal }>;
  /** No tokens configured and LOCAL_DEV_MODE: everything is open (local development only). */
  readonly open: boolean;

  constructor(config: { auth: AuthConfig; app: Pick<ServerConfig, 'localDevMode'> }) {
    this.tokens = config.auth.tokens.map((t) => ({ digest: digest(t.token), principal: { name: t.name, role: t.role } }));
    this.open = this.tokens.length === 0 && config.app.localDevMode;
  }

  /** `Authorization: Bearer <token>`; with `basic`, also `Basic base64(<any name>:<token>)` (a browser's login prompt). */
  authenticate(header: string | undefined, options: { basic?: boolean } = {}): Principal | null {
    if (this.open) return { name: 'local-dev', role: 'operator' };
    const token = bearerToken(header) ?? (options.basic ? basicPassword(header) : null);
    return token === null ? null : this.lookup(token);
  }

  private lookup(token: string): Principal | null {
    const presented = digest(token);
    let found: Principal | null = null;
    for (const t of this.tokens) if (timingSafeEqual(t.digest, presented)) found ??= t.principal;
    return found;
  }
}

function bearerToken(header: string | undefined): string | null {
  return /^Bearer ([^\s]+)$/.exec(header ?? '')?.[1] ?? null;
}

function basicPassword(header: string | undefined): string | null {
  const encoded = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header ?? '')?.[1];
  if (!encoded) return null;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 || colon === decoded.length - 1 ? null : decoded.slice(colon + 1);
}
