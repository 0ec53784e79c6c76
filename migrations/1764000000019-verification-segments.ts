import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A verification run's walk split into `_id` segments that workers take in parallel, as the backfill's ranges are:
 * - verification_segments: each segment's bounds (after `start_after`, up to and including `end_at`; null: open),
 *   its own cursor (the last `_id` whose chunk is committed), its counters, and its lease (`claimed_by`,
 *   `lease_until`), so a segment is walked by one worker at a time and resumed by another after a crash.
 *   `claimed_by` stays set once a segment is done: it names the worker that finished it.
 * A run with no segment rows has not been planned yet; a run created before this migration keeps its
 * `scan_cursor`, and its segments start after it.
 */
export class VerificationSegments1764000000019 implements MigrationInterface {
  name = 'VerificationSegments1764000000019';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE verification_segments (
        run_id            bigint      NOT NULL REFERENCES verification_runs (id) ON DELETE CASCADE,
        segment           integer     NOT NULL CHECK (segment >= 0),
        start_after       char(24)    NULL,
        end_at            char(24)    NULL,
        cursor            char(24)    NULL,
        done              boolean     NOT NULL DEFAULT false,
        chunks_done       integer     NOT NULL DEFAULT 0,
        records_compared  bigint      NOT NULL DEFAULT 0,
        claimed_by        text        NULL,
        lease_until       timestamptz NULL,
        walks             integer     NOT NULL DEFAULT 0,
        PRIMARY KEY (run_id, segment)
      )`);
    await q.query(`ALTER TABLE verification_runs ADD COLUMN segments_wanted integer NULL CHECK (segments_wanted BETWEEN 1 AND 64)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE verification_runs DROP COLUMN segments_wanted');
    await q.query('DROP TABLE verification_segments');
  }
}
