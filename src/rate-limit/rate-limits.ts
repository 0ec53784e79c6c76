/**
 * Per-token request rates, shared by every replica: one token bucket per token name in Redis (the same
 * arithmetic as the sync throttle's, on the Redis server's clock), refilled at the token's rate with one
 * second's worth of burst. The rate of a token is, first found: an operator's override (PostgreSQL, so it
 * survives Redis losing its data; each process re-reads them every few seconds), RATE_LIMIT_OVERRIDES, the
 * default of its role. 0 means unlimited.
 *
 * A limiter must not become the outage: with Redis unreachable requests are let through, counted in
 * rate_limit_unchecked_total, and the outage is logged once when it starts and once when it ends. A Redis that hangs
 * (frozen, or a network that drops packets) would make every request wait out the command timeout (a second), so
 * once Redis has failed, requests skip it and one a second asks it again (ProbeGate).
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { RATE_LIMIT_CONFIG, RateLimitConfig } from './rate-limit.config';
import type { Principal } from '../common/auth/token-authenticator';
import { MetricsService } from '../common/metrics/metrics.service';
import { ProbeGate } from '../common/probe-gate';
import { TOKEN_BUCKET_LUA } from '../common/token-bucket';
import { Connections } from '../stores/connections';
import type { RedisClient } from '../stores/redis';
import { DATA_SOURCE, REDIS } from '../stores/stores.module';

const OVERRIDES_TTL_MS = 5000;
/** How long requests skip a Redis that failed before one asks it again: the request client's command timeout. */
const REDIS_PROBE_INTERVAL_MS = 1000;

export interface RateLimitOverride {
  tokenName: string;
  rps: number;
  setBy: string;
  reason: string | null;
  setAt: string;
}

export interface EffectiveLimit {
  tokenName: string;
  role: Principal['role'];
  rps: number;
  source: 'override' | 'configured' | 'default';
}

@Injectable()
export class RateLimits {
  private readonly logger = new Logger('RateLimits');
  private overrides: { byName: Map<string, RateLimitOverride>; at: number } | null = null;
  private refreshing?: Promise<Map<string, RateLimitOverride>>;
  /** Redis failed lately: requests skip it, one a second probes it. */
  private readonly redisGate = new ProbeGate(REDIS_PROBE_INTERVAL_MS);
  private readonly limited;
  private readonly unchecked;
  /** `<REDIS_KEY_PREFIX>:ratelimit:`, then the token's name. */
  private readonly keyPrefix: string;

  constructor(
    @Inject(REDIS) private readonly redis: RedisClient,
    connections: Connections,
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(RATE_LIMIT_CONFIG) private readonly config: RateLimitConfig,
    metrics: MetricsService,
  ) {
    this.limited = metrics.counter('rate_limited_total', 'Requests refused with 429, by token name', ['token']);
    this.keyPrefix = `${connections.keyPrefix}:ratelimit:`;
    this.unchecked = metrics.counter('rate_limit_unchecked_total', 'Requests let through unchecked because Redis did not answer');
  }

  async limitFor(p: Principal): Promise<EffectiveLimit> {
    const override = (await this.currentOverrides()).get(p.name);
    if (override) return { tokenName: p.name, role: p.role, rps: override.rps, source: 'override' };
    const configured = this.config.overrides[p.name];
    if (configured !== undefined) return { tokenName: p.name, role: p.role, rps: configured, source: 'configured' };
    return {
      tokenName: p.name,
      role: p.role,
      rps: p.role === 'operator' ? this.config.operatorRps : this.config.appRps,
      source: 'default',
    };
  }

  /** Milliseconds the caller must wait before its next request; 0 when this one may go ahead. */
  async take(p: Principal): Promise<number> {
    const { rps } = await this.limitFor(p);
    if (rps <= 0) return 0;
    if (!this.redisGate.shouldTry()) {
      this.unchecked.inc();
      return 0;
    }
    try {
      const wait = Number(await this.redis.eval(TOKEN_BUCKET_LUA, 1, `${this.keyPrefix}${p.name}`, String(rps), '1'));
      if (this.redisGate.succeeded()) this.logger.log({ msg: 'rate limits checked again: Redis answers' });
      if (wait > 0) this.limited.inc({ token: p.name });
      return wait;
    } catch (err) {
      this.unchecked.inc();
      if (this.redisGate.failed()) {
        this.logger.warn({
          msg: 'rate limits not checked while Redis does not answer: requests go through',
          error: (err as Error).message,
        });
      }
      return 0;
    }
  }

  async list(): Promise<RateLimitOverride[]> {
    return [...(await this.readOverrides()).values()];
  }

  async set(tokenName: string, rps: number, setBy: string, reason: string | null): Promise<RateLimitOverride> {
    const [row] = await this.dataSource.query(
      `INSERT INTO rate_limit_overrides (token_name, rps, set_by, reason) VALUES ($1, $2, $3, $4)
       ON CONFLICT (token_name) DO UPDATE SET rps = EXCLUDED.rps, set_by = EXCLUDED.set_by, reason = EXCLUDED.reason, set_at = now()
       RETURNING token_name, rps, set_by, reason, set_at`,
      [tokenName, rps, setBy, reason],
    );
    this.overrides = null;
    return toOverride(row);
  }

  async clear(tokenName: string): Promise<boolean> {
    const [, n] = await this.dataSource.query('DELETE FROM rate_limit_overrides WHERE token_name = $1', [tokenName]);
    this.overrides = null;
    return n === 1;
  }

  private async currentOverrides(): Promise<Map<string, RateLimitOverride>> {
    if (this.overrides && Date.now() - this.overrides.at < OVERRIDES_TTL_MS) return this.overrides.byName;
    this.refreshing ??= this.readOverrides()
      .then((byName) => {
        this.overrides = { byName, at: Date.now() };
        return byName;
      })
      // PostgreSQL down: keep the last known overrides (the requests fail on the stores anyway).
      .catch(() => this.overrides?.byName ?? new Map<string, RateLimitOverride>())
      .finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async readOverrides(): Promise<Map<string, RateLimitOverride>> {
    const rows = await this.dataSource.query(
      'SELECT token_name, rps, set_by, reason, set_at FROM rate_limit_overrides ORDER BY token_name',
    );
    return new Map(rows.map((r: Record<string, unknown>) => [r.token_name as string, toOverride(r)]));
  }
}

function toOverride(r: Record<string, unknown>): RateLimitOverride {
  return {
    tokenName: r.token_name as string,
    rps: Number(r.rps),
    setBy: r.set_by as string,
    reason: (r.reason as string | null) ?? null,
    setAt: new Date(r.set_at as string).toISOString(),
  };
}
