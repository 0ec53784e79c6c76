/**
 * Reads a set of ids from both stores, for rechecks and for verifying repairs. Legacy reads are one
 * `findOne` per id with bounded concurrency (answered from the `_id` index on every server, unlike `$in`
 * on FerretDB); PostgreSQL reads the whole set in one snapshot.
 */
import { forEachLimit } from '../common/for-each-limit';
import type { VerifyRecord } from './domain/verify-record';
import { HEX_ID, LegacyVerifySource, NewVerifySource } from './verify-sources';

// Point reads are latency-bound (one round trip each): 32 in flight measured ~4x faster than 1 on FerretDB.
const LEGACY_CONCURRENCY = 32;

export interface BothSides {
  legacy: Map<string, VerifyRecord>;
  next: Map<string, VerifyRecord>;
}

/** Ids that are not 24-hex (legacy `_id`s of other types) cannot be looked up and are left out. */
export async function readBoth(legacy: LegacyVerifySource, next: NewVerifySource, ids: readonly string[]): Promise<BothSides> {
  const hex = ids.filter((id) => HEX_ID.test(id));
  const legacyFound = new Map<string, VerifyRecord>();
  const [, nextFound] = await Promise.all([
    forEachLimit(hex, LEGACY_CONCURRENCY, async (id) => {
      const record = await legacy.byId(id);
      if (record) legacyFound.set(id, record);
    }),
    next.byIds(hex),
  ]);
  return { legacy: legacyFound, next: nextFound };
}
