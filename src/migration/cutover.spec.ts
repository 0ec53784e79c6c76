import type { DataSource } from 'typeorm';
import { DomainError } from '../common/errors';
import { FenceBudget } from '../mode/write-fence';
import { modeForPhase } from '../model/phases';
import type { PostgresRepairOutbox } from '../repair/repair-outbox';
import type { RepairService } from '../repair/repair.service';
import type { ConversationStore, StoreTransaction, TransactionalStore } from '../stores/conversation-store.port';
import type { CatchupService } from '../sync/catchup/catchup.service';
import { Cutover, CutoverPlan } from './cutover';
import type { MigrationConfig } from './migration.config';

/** A cutover whose outbox answers its first page as `firstPage` says (the fenced half starts with it). */
function cutover(firstPage: () => Promise<[]>): Cutover {
  const outbox = { rowsAfter: firstPage } as unknown as PostgresRepairOutbox;
  return new Cutover(
    {} as DataSource,
    outbox,
    {} as RepairService,
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
    let answer: (rows: []) => void = () => undefined;
    const c = cutover(() => new Promise<[]>((resolve) => (answer = resolve)));
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
