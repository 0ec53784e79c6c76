import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What catch-up copied into PostgreSQL, one row per document it wrote (never for a document the version
 * guard skipped), with the time the legacy application changed it. Once the new store is the source of
 * truth every such row is a write the new store did not make: a stray legacy write, which the gate into
 * cleanup reads from here instead of scanning the legacy collection.
 */
export class CatchupApplied1764000000013 implements MigrationInterface {
  name = 'CatchupApplied1764000000013';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE catchup_applied (
        id              bigserial   PRIMARY KEY,
        conversation_id text        NOT NULL,
        changed_at      timestamptz NULL,
        applied_at      timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX catchup_applied_changed_idx ON catchup_applied (changed_at)');
    await q.query('CREATE INDEX catchup_applied_applied_idx ON catchup_applied (applied_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE catchup_applied');
  }
}
