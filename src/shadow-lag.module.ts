import { Global, Module } from '@nestjs/common';
import { RepairModule } from './repair/repair.module';
import type { PostgresRepairOutbox } from './repair/repair-outbox';
import { POSTGRES_OUTBOX } from './repair/repair.service';
import type { CopyState } from './shadow/domain/lag';
import { SHADOW_LAG, ShadowLagPort } from './shadow/shadow-lag.port';
import type { StoreName } from './model/store-name';
import { SyncModule } from './sync/sync.module';
import { SyncStatusService } from './sync/sync-status.service';

/**
 * Binds shadow/'s lag port to where the copying stands: the backfill's checkpoints and catch-up's watermarks
 * (sync/) and the pending follow-ups (repair/). Wings of one floor do not import each other, so the
 * composition wires them, in the API and in every worker (the comparison runs in the shadow worker).
 */
@Global()
@Module({
  imports: [SyncModule, RepairModule],
  providers: [
    {
      provide: SHADOW_LAG,
      inject: [SyncStatusService, POSTGRES_OUTBOX],
      useFactory: (sync: SyncStatusService, outbox: PostgresRepairOutbox): ShadowLagPort => ({
        async copyState(ids): Promise<CopyState> {
          const [position, followUps] = await Promise.all([sync.copyPosition(ids), outbox.pendingFor(ids)]);
          const sources = new Map<string, StoreName[]>();
          for (const f of followUps) sources.set(f.conversationId, [...(sources.get(f.conversationId) ?? []), f.source]);
          return {
            notCopied: new Set(position.notCopied),
            insertsPending: new Set(position.insertsPending),
            changesAppliedBefore: position.changesAppliedBefore,
            followUps: sources,
          };
        },
      }),
    },
  ],
  exports: [SHADOW_LAG],
})
export class ShadowLagModule {}
