import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AdvisoryLock, waitForTransactionLockWithin } from '../common/advisory-lock';
import { DATA_SOURCE } from '../stores/stores.module';
import { isPhase, Phase } from '../model/phases';

export interface MigrationStateRow {
  phase: Phase;
  step: number;
  revision: number;
  updatedAt: Date;
}

/** The single row of migration state. `revision` is the optimistic lock: every change names the one it read. */
@Injectable()
export class MigrationStateRepository {
  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  async read(): Promise<MigrationStateRow> {
    const rows: Array<{ phase: string; step: number; revision: number; updated_at: Date }> = await this.dataSource.query(
      'SELECT phase, step, revision, updated_at FROM migration_state WHERE id = 1',
    );
    if (rows.length === 0 || !isPhase(rows[0].phase)) throw new Error('migration_state is missing or corrupt: run the migrations');
    return { phase: rows[0].phase, step: rows[0].step, revision: rows[0].revision, updatedAt: rows[0].updated_at };
  }

  /**
   * Sets the phase only if nobody ever has (revision 0): a deployment setting must not undo operators' work.
   * Every process comes here at boot, so the usual answer (the migration has moved) is read without the fence: a
   * boot must neither wait for writes in flight (a frozen replica's would hold it for as long as it is frozen) nor,
   * while it waits, hold up every write of the deployment (no shared hold is granted while an exclusive one is
   * queued). On a migration nobody has moved, the change takes the fence like any other (src/mode/write-fence.ts),
   * waiting at most `lockTimeoutMs` for the writes in flight.
   */
  async initialise(phase: Phase, lockTimeoutMs: number): Promise<boolean> {
    if (Number((await this.read()).revision) !== 0) return false;
    return this.dataSource.transaction(async (em) => {
      if (!(await waitForTransactionLockWithin(em, AdvisoryLock.WriteFence, lockTimeoutMs))) {
        throw new Error(`the initial phase ${phase} was not applied: writes in flight held the write fence for ${lockTimeoutMs} ms`);
      }
      const [, count] = await em.query(
        `UPDATE migration_state SET phase = $1, revision = revision + 1, updated_at = now() WHERE id = 1 AND revision = 0`,
        [phase],
      );
      return count === 1;
    });
  }
}
