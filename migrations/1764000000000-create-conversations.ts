import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The new store's conversations. Messages live in their own table, ordered by `seq` (0-based).
 * `version` only moves forward (every writer guards on it); `message_count` lets a reader know the
 * shape of a conversation without touching `messages`.
 */
export class CreateConversations1764000000000 implements MigrationInterface {
  name = 'CreateConversations1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE conversations (
        id            char(24)    PRIMARY KEY CHECK (id ~ '^[0-9a-f]{24}$'),
        user_id       text        NOT NULL,
        title         text        NULL,
        metadata      jsonb       NOT NULL DEFAULT '{}'::jsonb,
        created_at    timestamptz NOT NULL,
        updated_at    timestamptz NOT NULL,
        version       bigint      NOT NULL CHECK (version >= 0),
        deleted       boolean     NOT NULL DEFAULT false,
        message_count integer     NOT NULL DEFAULT 0
      )`);
    await q.query(`
      CREATE INDEX conversations_user_created_idx
        ON conversations (user_id, created_at DESC, id DESC) WHERE NOT deleted`);
    await q.query(`
      CREATE TABLE messages (
        conversation_id char(24)    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        seq             integer     NOT NULL CHECK (seq >= 0),
        role            text        NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
        content         text        NOT NULL,
        created_at      timestamptz NOT NULL,
        PRIMARY KEY (conversation_id, seq)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE messages');
    await q.query('DROP TABLE conversations');
  }
}
