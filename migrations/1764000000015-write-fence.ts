import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the write fence and durable idempotency need (src/mode/write-fence.ts, src/conversations/idempotency.service.ts):
 * - repair_outbox rows now live until the repair is done, not until Redis took the job: `enqueued_at`
 *   says when a job was last handed to the queue (a row whose job Redis lost is handed over again), and
 *   the conversation index lets a repair clear every row of the conversation it copied. In
 *   `deprecation` every write leaves a row here in its own transaction (legacy follows from it).
 * - conversations(updated_at): the rollback out of deprecation reads what changed since the flip.
 * - idempotency_keys: an Idempotency-Key's claim, its attempt and its response, in the same database
 *   (and, for the new store, the same transaction) as the write it guards; rows expire by index.
 */
export class WriteFence1764000000015 implements MigrationInterface {
  name = 'WriteFence1764000000015';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE repair_outbox ADD COLUMN enqueued_at timestamptz NULL');
    await q.query('CREATE INDEX repair_outbox_conversation_idx ON repair_outbox (conversation_id)');
    await q.query('CREATE INDEX conversations_updated_idx ON conversations (updated_at)');
    await q.query(`
      CREATE TABLE idempotency_keys (
        key_hash        char(64)    PRIMARY KEY,
        fingerprint     char(64)    NOT NULL,
        state           text        NOT NULL CHECK (state IN ('pending', 'done')),
        claim_token     uuid        NOT NULL,
        lease_until     timestamptz NOT NULL,
        attempt         jsonb       NULL,
        response        jsonb       NULL,
        created_at      timestamptz NOT NULL DEFAULT now(),
        expires_at      timestamptz NOT NULL
      )`);
    await q.query('CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE idempotency_keys');
    await q.query('DROP INDEX conversations_updated_idx');
    await q.query('DROP INDEX repair_outbox_conversation_idx');
    await q.query('ALTER TABLE repair_outbox DROP COLUMN enqueued_at');
  }
}
