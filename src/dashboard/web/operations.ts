/**
 * What the CLI does with the sync and verification (`npm run sync -- backfill|catchup|verify [--repair]`),
 * from the screen. Each opens a confirmation described from the state read when it opens, as a move is
 * described from its dry run (not from the last poll, which may be 5 s old), and says what happened.
 */
import type { Api } from './api';
import { backfillText, catchupText, OperationText, verifyText } from './describe';
import { count } from './format';
import type { BackfillStart, CatchupRun, DialogState, Notice, Status, SyncStatus, VerifyRun } from './types';

export interface OperationProps {
  api: Api;
  setDialog: (d: DialogState | null) => void;
}

const dialog = (text: OperationText, rest: Omit<DialogState, 'title' | 'lines' | 'confirmLabel' | 'blockedBy'>): DialogState => ({
  ...text,
  ...rest,
});

export async function confirmBackfill(p: OperationProps): Promise<void> {
  const sync = await p.api.get<SyncStatus>('/migration/sync');
  p.setDialog(
    dialog(backfillText(sync), {
      reason: 'none',
      run: async (): Promise<Notice> => {
        const r = await p.api.post<BackfillStart>('/migration/sync/backfill');
        if (r.resumed) return { kind: 'ok', text: `Backfill run #${r.runId} resumed (${r.enqueued} job(s) queued again).` };
        return {
          kind: 'ok',
          text: `Backfill run #${r.runId} started: the split of the _id space is ${r.split}; progress shows under Backfill and catch-up.`,
        };
      },
    }),
  );
}

function catchupNotice(r: CatchupRun): Notice {
  if (r.state !== 'completed' || !r.result) {
    return r.state === 'failed'
      ? { kind: 'error', text: `The catch-up pass failed: ${r.failedReason ?? 'no reason given'}.` }
      : {
          kind: 'info',
          text: `The catch-up pass is ${r.state} (job ${r.jobId}); the lag under Backfill and catch-up shows when it is done.`,
        };
  }
  const x = r.result;
  if (typeof x.skipped === 'string') return { kind: 'info', text: `The catch-up pass did not run: ${x.skipped}.` };
  if (!('read' in x)) return { kind: 'info', text: 'The catch-up pass is done.' };
  return {
    kind: 'ok',
    text:
      `Catch-up pass done: ${count(x.read)} read, ${count(x.written)} written, ${count(x.skipped)} already up to date, ${count(x.dead)} dead-lettered` +
      (x.exhausted ? '; caught up.' : '; more to copy, the next pass goes on.'),
  };
}

export async function confirmCatchup(p: OperationProps): Promise<void> {
  const sync = await p.api.get<SyncStatus>('/migration/sync');
  p.setDialog(
    dialog(catchupText(sync), {
      reason: 'none',
      run: async () => catchupNotice(await p.api.post<CatchupRun>('/migration/sync/catchup?wait=true')),
    }),
  );
}

export async function confirmVerify(p: OperationProps, repair = false): Promise<void> {
  const [status, runs] = await Promise.all([
    p.api.get<Status>('/migration/status'),
    p.api.get<{ items: VerifyRun[] }>('/migration/verify?limit=5'),
  ]);
  const running = runs.items.find((r) => r.status === 'queued' || r.status === 'running') ?? null;
  p.setDialog(
    dialog(verifyText(status.sourceOfTruth, repair, running), {
      reason: 'optional',
      reasonNote: 'kept with the run',
      option: { label: 'Repair: copy each difference from the source of truth', checked: repair, change: (next) => confirmVerify(p, next) },
      run: async ({ reason }): Promise<Notice> => {
        const r = await p.api.post<VerifyRun>('/migration/verify', { repair, ...(reason ? { reason } : {}) });
        return { kind: 'ok', text: `Verification run #${r.id} (${r.mode}) ${r.status}: it shows under Verification runs.` };
      },
    }),
  );
}
