import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Why a shadow comparison was lag (src/shadow/domain/lag.ts): `converged` (a recheck found both sides equal),
 * `not_copied` (the backfill had not reached the conversation), `not_caught_up` (catch-up had not applied the
 * legacy change), `follow_up` (a pending follow-up copies it). Set on `lag` outcomes only; the ones recorded
 * before this column were all found by a recheck.
 */
export class ShadowLagKind1764000000017 implements MigrationInterface {
  name = 'ShadowLagKind1764000000017';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE shadow_samples ADD COLUMN lag_kind text NULL CHECK (lag_kind IN ('converged', 'not_copied', 'not_caught_up', 'follow_up'))`,
    );
    await q.query(`UPDATE shadow_samples SET lag_kind = 'converged' WHERE outcome = 'lag'`);
    // Only on lag; a lag row without one (written by an older version) reads as converged.
    await q.query(
      `ALTER TABLE shadow_samples ADD CONSTRAINT shadow_samples_lag_kind_only_on_lag CHECK (lag_kind IS NULL OR outcome = 'lag')`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE shadow_samples DROP COLUMN lag_kind');
  }
}
