import { MigrationInterface, QueryRunner } from 'typeorm';

/** Operators' per-token rate overrides (src/rate-limit/rate-limits.ts): durable, read by every replica. */
export class RateLimitOverrides1764000000016 implements MigrationInterface {
  name = 'RateLimitOverrides1764000000016';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE rate_limit_overrides (
        token_name text        PRIMARY KEY,
        rps        numeric     NOT NULL CHECK (rps >= 0),
        set_by     text        NOT NULL,
        reason     text        NULL,
        set_at     timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE rate_limit_overrides');
  }
}
