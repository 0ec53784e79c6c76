/** The rate-limit section (AppConfig `rateLimit`): requests per second per token (0 = unlimited), by role and per token name. */
import type { EnvReader } from '../config/env-reader';

export interface RateLimitConfig {
  appRps: number;
  operatorRps: number;
  overrides: Record<string, number>;
}

export const RATE_LIMIT_CONFIG = Symbol('RATE_LIMIT_CONFIG');

export function readRateLimitConfig(r: EnvReader): RateLimitConfig {
  const overrides: Record<string, number> = {};
  for (const entry of r.list('RATE_LIMIT_OVERRIDES')) {
    const m = /^([A-Za-z0-9._-]{1,100}):(\d+(?:\.\d+)?)$/.exec(entry);
    if (m) overrides[m[1]] = Number(m[2]);
    else r.problem('RATE_LIMIT_OVERRIDES', `"${entry.slice(0, 40)}" is not name:requestsPerSecond`);
  }
  return {
    appRps: r.number('RATE_LIMIT_APP_RPS', 1000, 0),
    operatorRps: r.number('RATE_LIMIT_OPERATOR_RPS', 100, 0),
    overrides,
  };
}
