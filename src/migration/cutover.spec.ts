import type { DataSource } from 'typeorm';
import { DomainError } from '../common/errors';
import { FenceBudget } from '../mode/write-fence';
import { modeForPhase } from '../model/phases';
import type { OutboxRow, PostgresRepairOutbox } from '../repair/repair-outbox';
import type { RepairService } from '../repair/repair.service';
import type { ConversationStore, StoreTransaction, TransactionalStore } from '../stores/conversation-store.port';
import type { CatchupService } from '../sync/catchup/catchup.service';
import { Cutover, CutoverPlan } from './cutover';
import type { MigrationConfig } from './migration.config';

/** A cutover whose outbox answers its pages as `rowsAfter` says (the fenced half starts with them). */
function cutover(
  rowsAfter: (after: string) => Promise<OutboxRow[]>,
  parts: { dataSource?: DataSource; repairs?: RepairService } = {},
): Cutover {
  const outbox = { rowsAfter } as unknown as PostgresRepairOutbox;
  return new Cutover(
    parts.dataSource ?? ({} as DataSource),
    outbox,
    parts.repairs ?? ({} as RepairService),
    {} as CatchupService,
    {} as TransactionalStore,
    {} as ConversationStore,
    { cutoverLockTimeoutMs: 10_000 } as MigrationConfig,
  );
}

const plan: CutoverPlan = { kind: 'stop_dual_write', recheck: [], prepared: { settled: 0, compared: 0, copied: 0, caughtUp: 0 } };
const leaving = modeForPhase('deprecation');
const budgetOf = (ms: number) => new FenceBudget(performance.now() + ms, ms);

describe('Cutover.fenced against a store that stops answering', () => {
  it('is refused at its budget end, naming the step it was waiting in, without waiting for the store', async () => {
    let answer: (rows: OutboxRow[]) => void = () => undefined;
    const c = cutover(() => new Promise<OutboxRow[]>((resolve) => (answer = resolve)));
    const refusal = await c.fenced(plan, leaving, {} as StoreTransaction, null, budgetOf(50)).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(DomainError);
    expect(refusal).toMatchObject({ code: 'CUTOVER_FAILED', statusCode: 409 });
    const message = (refusal as Error).message;
    expect(message).toMatch(/ran out of its 50 ms /);
    expect(message).toMatch(/ at: settling follow-ups, waiting for a store that did not answer;/);
    // The store answers only now: the refusal did not wait for it. The half given up on then ends quietly (no
    // unhandled rejection, nothing committed).
    answer([]);
    await new Promise((r) => setTimeout(r, 10));
  });

  it("gives up a settle's transaction at the budget's end, so that its connection does not wait for the store", async () => {
    const row = { id: '7', conversationId: 'c1', source: 'legacy', reason: 'secondary write failed' } as OutboxRow;
    const transactions: string[] = [];
    const dataSource = {
      transaction: async <T>(fn: (m: { query(sql: string): Promise<void> }) => Promise<T>): Promise<T> => {
        try {
          const result = await fn({ query: async () => undefined });
          transactions.push('committed');
          return result;
        } catch (err) {
          transactions.push('rolled back');
          throw err;
        }
      },
    } as unknown as DataSource;
    // The settle's store never answers.
    const repairs = { settle: () => new Promise(() => undefined) } as unknown as RepairService;
    const c = cutover(async (after) => (after === '0' ? [row] : []), { dataSource, repairs });
    const refusal = await c.fenced(plan, leaving, {} as StoreTransaction, null, budgetOf(50)).catch((e: unknown) => e);
    expect(refusal).toMatchObject({ code: 'CUTOVER_FAILED', statusCode: 409 });
    expect((refusal as Error).message).toMatch(/ at: the settle, waiting for a store that did not answer;/);
    await new Promise((r) => setTimeout(r, 10));
    expect(transactions).toEqual(['rolled back']);
  });

  it('answers as its steps do when they end within the budget', async () => {
    const c = cutover(() => Promise.resolve([]));
    await expect(c.fenced(plan, leaving, {} as StoreTransaction, null, budgetOf(5_000))).resolves.toEqual({
      settled: 0,
      caughtUp: 0,
      verified: 0,
      different: [],
    });
  });
});
