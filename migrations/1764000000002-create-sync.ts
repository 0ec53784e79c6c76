import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * State of the sync engine.
 * - sync_runs / sync_ranges: a backfill run splits the legacy `_id` space into ranges; a worker holds a
 *   range by a lease (claimed_by, lease_until) and commits each batch together with the range's
 *   checkpoint, so a killed worker's range resumes from its checkpoint on another worker.
 * - dead_letters: documents that could not be read, with the reason and the raw document.
 * - sync_state: small named values (catch-up watermark, pause flag, throttle settings).
 * - verification_runs / verification_differences: every differing id of a run, not a sample.
 */
export class CreateSync1764000000002 implements MigrationInterface {
  name = 'CreateSync1764000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE sync_runs (
        id            bigserial   PRIMARY KEY,
        status        text        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed', 'cancelled')),
        batch_size    integer     NOT NULL,
        total_estimate bigint     NOT NULL DEFAULT 0,
        started_at    timestamptz NOT NULL DEFAULT now(),
        finished_at   timestamptz NULL,
        error         text        NULL
      )`);
    await q.query(`
      CREATE TABLE sync_ranges (
        run_id        bigint      NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
        range_no      integer     NOT NULL,
        start_after   char(24)    NULL,
        end_at        char(24)    NULL,
        checkpoint    char(24)    NULL,
        status        text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done')),
        docs_read     bigint      NOT NULL DEFAULT 0,
        docs_written  bigint      NOT NULL DEFAULT 0,
        docs_skipped  bigint      NOT NULL DEFAULT 0,
        docs_dead     bigint      NOT NULL DEFAULT 0,
        bytes_read    bigint      NOT NULL DEFAULT 0,
        batches       integer     NOT NULL DEFAULT 0,
        claimed_by    text        NULL,
        lease_until   timestamptz NULL,
        claims        integer     NOT NULL DEFAULT 0,
        updated_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (run_id, range_no)
      )`);
    await q.query(`
      CREATE TABLE dead_letters (
        id              bigserial   PRIMARY KEY,
        conversation_id text        NOT NULL,
        source          text        NOT NULL,
        reason          text        NOT NULL,
        raw             jsonb       NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now(),
        resolved_at     timestamptz NULL
      )`);
    await q.query(`CREATE UNIQUE INDEX dead_letters_open_idx ON dead_letters (conversation_id) WHERE resolved_at IS NULL`);
    await q.query(`
      CREATE TABLE sync_state (
        key         text        PRIMARY KEY,
        value       jsonb       NOT NULL,
        updated_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE verification_runs (
        id                bigserial   PRIMARY KEY,
        mode              text        NOT NULL CHECK (mode IN ('report', 'repair')),
        status            text        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed')),
        chunk_size        integer     NOT NULL,
        chunks_done       integer     NOT NULL DEFAULT 0,
        chunks_differing  integer     NOT NULL DEFAULT 0,
        records_compared  bigint      NOT NULL DEFAULT 0,
        missing           integer     NOT NULL DEFAULT 0,
        extra             integer     NOT NULL DEFAULT 0,
        different         integer     NOT NULL DEFAULT 0,
        repaired          integer     NOT NULL DEFAULT 0,
        started_at        timestamptz NOT NULL DEFAULT now(),
        finished_at       timestamptz NULL,
        error             text        NULL
      )`);
    await q.query(`
      CREATE TABLE verification_differences (
        run_id          bigint   NOT NULL REFERENCES verification_runs (id) ON DELETE CASCADE,
        conversation_id text     NOT NULL,
        kind            text     NOT NULL CHECK (kind IN ('missing', 'extra', 'different')),
        paths           jsonb    NOT NULL DEFAULT '[]'::jsonb,
        legacy_version  bigint   NULL,
        new_version     bigint   NULL,
        repaired        boolean  NOT NULL DEFAULT false,
        PRIMARY KEY (run_id, conversation_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE verification_differences');
    await q.query('DROP TABLE verification_runs');
    await q.query('DROP TABLE sync_state');
    await q.query('DROP TABLE dead_letters');
    await q.query('DROP TABLE sync_ranges');
    await q.query('DROP TABLE sync_runs');
  }
}
