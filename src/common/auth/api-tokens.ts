/**
 * The configured bearer tokens and the one check of a presented token, shared by the route guard and
 * by what sits outside Nest's routing (the /queues board). Tokens are compared in constant time (both
 * sides hashed to equal length, every configured token checked) and never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiToken, AppConfig } from '../../config/app-config';

export interface Principal {
  name: string;
  role: ApiToken['role'];
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export class ApiTokens {
  private readonly tokens: Array<{ digest: Buffer; principal: Principal }>;

  constructor(private readonly config: Pick<AppConfig, 'auth' | 'app'>) {
    this.tokens = config.auth.tokens.map((t) => ({ digest: digest(t.token), principal: { name: t.name, role: t.role } }));
  }

  /** The principal of an `Authorization` header value, or null. */
  authenticate(header: string | undefined): Principal | null {
    if (this.openForLocalDev()) return { name: 'local-dev', role: 'operator' };
    const match = /^Bearer ([^\s]+)$/.exec(header ?? '');
    return match ? this.principalOf(match[1]) : null;
  }

  /** The principal of a bare token, or null. */
  principalOf(token: string): Principal | null {
    const presented = digest(token);
    let found: Principal | null = null;
    for (const t of this.tokens) if (timingSafeEqual(t.digest, presented)) found ??= t.principal;
    return found;
  }

  /** LOCAL_DEV_MODE with no tokens configured: everyone is an operator. */
  openForLocalDev(): boolean {
    return this.tokens.length === 0 && this.config.app.localDevMode;
  }
}
