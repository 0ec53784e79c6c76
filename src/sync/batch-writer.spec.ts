import type { QueryRunner } from 'typeorm';
import type { Conversation } from '../model/conversation.model';
import type { LegacyDocument } from '../model/legacy-document';
import type { LegacyStore } from '../stores/legacy-store.port';
import type { PostgresConversationStore } from '../stores/postgres/postgres-conversation.store';
import { BatchWriter } from './batch-writer';
import type { DeadLetterRepository, NewDeadLetter } from './dead-letters/dead-letter.repository';

const created = new Date('2022-01-02T03:04:05.006Z');
const hex = (n: number) => n.toString(16).padStart(24, '0');
const readable = (n: number): LegacyDocument => ({ _id: hex(n), user_id: `u${n}`, created, v: 1 });

/** A fake store: records statements, and refuses (as PostgreSQL would, SQLSTATE 22P05) the ids in `refuse`. */
function fakes(refuse: Set<string> = new Set(), existingVersion = new Map<string, number>()) {
  const log: string[] = [];
  const dead: NewDeadLetter[] = [];
  const resolved: string[] = [];
  const q = { query: async (sql: string) => void log.push(sql) } as unknown as QueryRunner;
  const put = async (how: string, cs: Conversation[]) => {
    log.push(`${how} ${cs.length}`);
    if (cs.some((c) => refuse.has(c.id)))
      throw Object.assign(new Error('unsupported Unicode escape sequence'), { driverError: { code: '22P05' } });
    return cs.filter((c) => (existingVersion.get(c.id) ?? -1) < c.version).map((c) => c.id);
  };
  const store = {
    transaction: async <T>(fn: (q: QueryRunner) => Promise<T>) => {
      log.push('BEGIN');
      try {
        const out = await fn(q);
        log.push('COMMIT');
        return out;
      } catch (err) {
        log.push('ROLLBACK');
        throw err;
      }
    },
    putMany: async (cs: Conversation[]) => put('putMany', cs),
    putManyStaged: async (cs: Conversation[]) => put('putManyStaged', cs),
  } as unknown as PostgresConversationStore;
  const legacy = { rawJson: (d: LegacyDocument) => ({ ...d, _id: { $oid: d._id } }) } as unknown as LegacyStore;
  const deadLetters = {
    record: async (_q: unknown, letters: NewDeadLetter[]) => void dead.push(...letters),
    resolve: async (_q: unknown, ids: string[]) => void resolved.push(...ids),
  } as unknown as DeadLetterRepository;
  return { log, dead, resolved, writer: new BatchWriter(store, legacy, deadLetters) };
}

describe('BatchWriter', () => {
  it("writes the readable documents, dead-letters the rest, and brackets both with the caller's begin and commit", async () => {
    const f = fakes(new Set(), new Map([[hex(2), 5]]));
    const docs = [readable(1), readable(2), { _id: hex(3), created } as LegacyDocument, readable(4)];
    const order: string[] = [];
    const result = await f.writer.write(f.writer.prepare(docs, 'backfill'), {
      begin: async () => void order.push(`begin after ${f.log.join(',')}`),
      commit: async (_q, r) => void order.push(`commit ${r.written}/${r.skipped}/${r.dead}`),
    });
    expect(result).toEqual({ read: 4, written: 2, skipped: 1, dead: 1, writtenIds: [hex(1), hex(4)] });
    expect(order).toEqual(['begin after BEGIN', 'commit 2/1/1']);
    expect(f.dead).toEqual([
      {
        conversationId: hex(3),
        source: 'backfill',
        reason: 'user_id: missing (and no legacy userId)',
        raw: { _id: { $oid: hex(3) }, created },
      },
    ]);
    expect(f.resolved).toEqual([hex(1), hex(4)]);
    expect(f.log).toEqual(['BEGIN', 'putManyStaged 3', 'COMMIT']);
  });

  it('finds the rows PostgreSQL refuses by halving under savepoints, dead-letters them, and writes the others', async () => {
    const f = fakes(new Set([hex(3), hex(6)]));
    const docs = Array.from({ length: 8 }, (_, i) => readable(i + 1));
    const result = await f.writer.write(f.writer.prepare(docs, 'catchup'), { commit: async () => undefined });
    expect(result.written).toBe(6);
    expect(result.dead).toBe(2);
    expect(f.dead.map((d) => [d.conversationId, d.source])).toEqual([
      [hex(3), 'catchup'],
      [hex(6), 'catchup'],
    ]);
    expect(f.dead[0].reason).toMatch(/^postgresql refused the row: unsupported Unicode escape sequence/);
    expect(f.dead[0].raw).toEqual({ _id: { $oid: hex(3) }, user_id: 'u3', created, v: 1 });
    // The first attempt (COPY) rolled back as a whole; the second committed once, with every part under a savepoint.
    expect(f.log[1]).toBe('putManyStaged 8');
    expect(f.log.filter((l) => ['BEGIN', 'COMMIT', 'ROLLBACK'].includes(l))).toEqual(['BEGIN', 'ROLLBACK', 'BEGIN', 'COMMIT']);
    expect(f.log.filter((l) => l.startsWith('ROLLBACK TO SAVEPOINT')).length).toBeGreaterThan(0);
  });

  it('does not retry errors that are not about the data', async () => {
    const f = fakes();
    const boom = Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
    await expect(
      f.writer.write(f.writer.prepare([readable(1)], 'backfill'), {
        commit: async () => {
          throw boom;
        },
      }),
    ).rejects.toBe(boom);
    expect(f.log.filter((l) => l === 'BEGIN')).toHaveLength(1);
  });
});
