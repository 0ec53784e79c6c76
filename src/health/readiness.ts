/**
 * The readiness checks both process kinds answer with: PostgreSQL, the legacy store and Redis, each
 * bounded by a timeout so a hung server reads as down rather than hanging the probe.
 */
import type { RedisClient } from '../stores/redis';
import { withTimeout } from '../common/timeout';
import type { MigrationMode } from '../model/phases';
import type { Db } from 'mongodb';
import type { DataSource } from 'typeorm';

export const CHECK_TIMEOUT_MS = 2000;

export type CheckResult = { status: 'up' } | { status: 'down'; error: string };

export async function check(fn: () => Promise<unknown>, timeoutMs = CHECK_TIMEOUT_MS): Promise<CheckResult> {
  try {
    await withTimeout(fn(), timeoutMs, `no answer within ${timeoutMs} ms`);
    return { status: 'up' };
  } catch (err) {
    // The driver's message, never a connection string: drivers here do not echo passwords.
    return { status: 'down', error: err instanceof Error ? err.message.slice(0, 200) : 'unknown error' };
  }
}

export type StoreChecks = Record<'postgres' | 'legacy' | 'redis', CheckResult>;

export async function checkStores(dataSource: DataSource, legacy: Db, redis: RedisClient): Promise<StoreChecks> {
  const [postgres, legacyCheck, redisCheck] = await Promise.all([
    check(() => dataSource.query('SELECT 1')),
    check(() => legacy.command({ ping: 1 })),
    check(() => redis.ping()),
  ]);
  return { postgres, legacy: legacyCheck, redis: redisCheck };
}

/** The names of the checks that are down, in their order. */
export function downChecks(checks: Record<string, CheckResult>): string[] {
  return Object.entries(checks)
    .filter(([, c]) => c.status === 'down')
    .map(([name]) => name);
}

/**
 * What an API pod needs to acknowledge writes: PostgreSQL always (the migration state and the write fence
 * live there) and the current phase's source of truth. Anything else that is down only degrades it.
 * `mode` null: the phase could not be read, so PostgreSQL is what is missing.
 */
export function readiness(
  checks: StoreChecks,
  mode: MigrationMode | null,
): { status: 'ready' | 'degraded' | 'not_ready'; required: string[]; degraded: string[] } {
  const required = ['postgres', mode === null ? null : mode.sourceOfTruth === 'legacy' ? 'legacy' : null].filter(
    (n): n is string => n !== null,
  );
  const down = downChecks(checks);
  if (mode === null || required.some((r) => down.includes(r))) return { status: 'not_ready', required, degraded: [] };
  const degraded = down.filter((d) => !required.includes(d));
  return { status: degraded.length > 0 ? 'degraded' : 'ready', required, degraded };
}
