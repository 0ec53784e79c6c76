import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Shadow comparison results, shared by every replica and the phase gates.
 * - shadow_samples: one row per decided comparison (its outcome), so a sliding-window mismatch rate is
 *   exact and the same wherever it is computed; pruned after the retention period.
 * - shadow_mismatches: what differed (redacted, truncated paths and values), kept within a count and age.
 * - shadow_noisy_fields: paths calibration found differing between two reads of the same side.
 * - shadow_drops: samples dropped before they were queued (queue full, Redis down), flushed by each API
 *   process in small batches.
 */
export class CreateShadow1764000000004 implements MigrationInterface {
  name = 'CreateShadow1764000000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE shadow_samples (
        id          bigserial   PRIMARY KEY,
        kind        text        NOT NULL CHECK (kind IN ('stores', 'http')),
        endpoint    text        NOT NULL,
        outcome     text        NOT NULL CHECK (outcome IN ('matched', 'mismatched', 'lag', 'ignored', 'noisy', 'error')),
        calibration boolean     NOT NULL DEFAULT false,
        rechecks    integer     NOT NULL DEFAULT 0,
        sampled_at  timestamptz NOT NULL,
        decided_at  timestamptz NOT NULL DEFAULT clock_timestamp()
      )`);
    await q.query(`CREATE INDEX shadow_samples_decided_idx ON shadow_samples (decided_at)`);
    await q.query(`
      CREATE TABLE shadow_mismatches (
        id                bigserial   PRIMARY KEY,
        sample_id         bigint      NULL,
        kind              text        NOT NULL CHECK (kind IN ('stores', 'http')),
        endpoint          text        NOT NULL,
        conversation_id   text        NULL,
        user_id           text        NULL,
        request           jsonb       NOT NULL DEFAULT '{}'::jsonb,
        phase             text        NOT NULL,
        primary_side      text        NOT NULL,
        secondary_side    text        NOT NULL,
        primary_version   bigint      NULL,
        secondary_version bigint      NULL,
        paths             text[]      NOT NULL,
        path_patterns     text[]      NOT NULL,
        differences       jsonb       NOT NULL,
        difference_count  integer     NOT NULL,
        rechecks          integer     NOT NULL DEFAULT 0,
        sampled_at        timestamptz NOT NULL,
        detected_at       timestamptz NOT NULL DEFAULT clock_timestamp()
      )`);
    await q.query(`CREATE INDEX shadow_mismatches_detected_idx ON shadow_mismatches (detected_at)`);
    await q.query(`CREATE INDEX shadow_mismatches_paths_idx ON shadow_mismatches USING gin (paths)`);
    await q.query(`CREATE INDEX shadow_mismatches_patterns_idx ON shadow_mismatches USING gin (path_patterns)`);
    await q.query(`
      CREATE TABLE shadow_noisy_fields (
        kind        text        NOT NULL CHECK (kind IN ('stores', 'http')),
        source      text        NOT NULL,
        path        text        NOT NULL,
        occurrences bigint      NOT NULL DEFAULT 1,
        example     jsonb       NULL,
        first_seen  timestamptz NOT NULL DEFAULT clock_timestamp(),
        last_seen   timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (kind, source, path)
      )`);
    await q.query(`
      CREATE TABLE shadow_drops (
        id          bigserial   PRIMARY KEY,
        reason      text        NOT NULL,
        count       integer     NOT NULL CHECK (count > 0),
        recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
      )`);
    await q.query(`CREATE INDEX shadow_drops_recorded_idx ON shadow_drops (recorded_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE shadow_drops');
    await q.query('DROP TABLE shadow_noisy_fields');
    await q.query('DROP TABLE shadow_mismatches');
    await q.query('DROP TABLE shadow_samples');
  }
}
