/**
 * The moves an operator makes, each behind a confirmation that says what changes. Advance and rollback
 * first ask the server for a dry run of exactly that move (with expectedStep), so the dialog shows the
 * plan's own from/to, weights, roles and gates; confirming sends the same expectedStep.
 */
import { useState } from 'preact/hooks';
import { PLAN, stepName } from '../../migration/domain/phase-plan';
import type { Api } from './api';
import { failingGates, gateSummary, moveChanges, moveTitle, PAUSE_CHANGES, RESUME_CHANGES } from './describe';
import { time } from './format';
import { GateTable } from './gate-table';
import type { DialogState, MoveResult, Notice, Status } from './types';

type Failed = (err: unknown) => Promise<void> | void;

function moveNotice(r: MoveResult): Notice {
  const change = r.trafficChange ? `; traffic change #${r.trafficChange.id} ${r.trafficChange.state}` : '';
  if (r.pending)
    return {
      kind: 'info',
      text: `${moveTitle(r)} accepted: the traffic change is still under way and the step commits when it is done${change}.`,
    };
  return { kind: 'ok', text: `${moveTitle(r)} done${r.forced ? ' (forced)' : ''}${change}.` };
}

/** Earlier steps a rollback may name: down to shadow (stopping dual writes is not a rollback). */
function rollbackTargets(step: string): string[] {
  const names = PLAN.map(stepName);
  const i = names.indexOf(step);
  return names.slice(1, Math.max(1, i)).reverse();
}

export function Actions(props: {
  api: Api;
  status: Status;
  setDialog: (d: DialogState | null) => void;
  setNotice: (n: Notice | null) => void;
  failed: Failed;
}) {
  const { api, status, setDialog, setNotice, failed } = props;
  const [dryRun, setDryRun] = useState<{ result: MoveResult; at: Date; revision: number } | null>(null);
  const [busy, setBusy] = useState(false);
  const step = status.step;
  const starting = step === 'not_started';
  const forwardPath = starting ? '/migration/start' : '/migration/advance';
  const canAdvance = starting || status.next.step !== null;
  const canRollBack = rollbackTargets(step).length > 0 && !['cleanup', 'complete'].includes(status.phase);
  const moving = status.pendingMove !== null;

  const guarded = async (fn: () => Promise<void>) => {
    setBusy(true);
    try {
      await fn();
    } catch (err) {
      await failed(err);
    } finally {
      setBusy(false);
    }
  };

  const runDry = () =>
    guarded(async () => {
      const result = await api.post<MoveResult>(forwardPath, { dryRun: true, expectedStep: step });
      setDryRun({ result, at: new Date(), revision: status.revision });
      setNotice(null);
    });

  const advance = () =>
    guarded(async () => {
      const result = await api.post<MoveResult>(forwardPath, { dryRun: true, expectedStep: step });
      const failing = failingGates(result.gates);
      const interlocks = failing.filter((g) => g.forceable === false);
      setDialog({
        title: moveTitle(result),
        lines: [...moveChanges(result), result.gates.length > 0 ? `gates: ${gateSummary(result.gates)}` : 'no gates for this move'],
        gates: result.gates,
        reason: 'optional',
        forceable: failing.length > 0 && interlocks.length === 0,
        blockedBy:
          interlocks.length > 0 ? `Force cannot pass ${interlocks.map((g) => `${g.name} (${g.threshold})`).join(', ')}` : undefined,
        confirmLabel: starting ? 'Start' : 'Advance',
        run: async ({ reason, force }) => {
          const body: Record<string, unknown> = { expectedStep: step };
          if (reason) body.reason = reason;
          if (force) body.force = true;
          return moveNotice(await api.post<MoveResult>(forwardPath, body));
        },
      });
    });

  const rollback = () =>
    guarded(async () => {
      const options = rollbackTargets(step);
      const open = async (to: string) => {
        const body = { dryRun: true, expectedStep: step, reason: 'dry run from the dashboard', ...(to === options[0] ? {} : { to }) };
        const result = await api.post<MoveResult>('/migration/rollback', body);
        setDialog({
          title: moveTitle(result),
          lines: moveChanges(result),
          reason: 'required',
          confirmLabel: 'Roll back',
          target: { options, value: to, change: (next) => open(next).catch(failed) },
          run: async ({ reason }) =>
            moveNotice(
              await api.post<MoveResult>('/migration/rollback', { reason, expectedStep: step, ...(to === options[0] ? {} : { to }) }),
            ),
        });
      };
      await open(options[0]);
    });

  const pauseOrResume = () => {
    const pausing = !status.paused;
    setDialog({
      title: pausing ? 'Pause the migration' : 'Resume the migration',
      lines: pausing ? PAUSE_CHANGES : RESUME_CHANGES,
      reason: 'optional',
      confirmLabel: pausing ? 'Pause' : 'Resume',
      run: async ({ reason }) => {
        await api.post(pausing ? '/migration/pause' : '/migration/resume', reason ? { reason } : {});
        return { kind: 'ok', text: pausing ? 'Paused.' : 'Resumed.' };
      },
    });
  };

  // A dry run describes the state it was made in: once the migration has moved (any revision), it is gone.
  const shown = dryRun && dryRun.revision === status.revision ? dryRun : null;
  return (
    <section class="actions" aria-label="Actions">
      {/* Handlers run their work on their own (the browser ignores what a handler returns); `guarded` catches. */}
      <div class="buttons">
        <button type="button" disabled={busy || moving || !canAdvance} onClick={() => void runDry()} data-testid="dry-run">
          Dry run
        </button>
        <button type="button" class="primary" disabled={busy || moving || !canAdvance} onClick={() => void advance()} data-testid="advance">
          {starting ? 'Start…' : status.next.step ? `Advance to ${status.next.step}…` : 'Advance'}
        </button>
        <button
          type="button"
          class="danger"
          disabled={busy || moving || !canRollBack}
          onClick={() => void rollback()}
          data-testid="rollback"
        >
          Roll back…
        </button>
        <button type="button" disabled={busy} onClick={pauseOrResume} data-testid="pause-resume">
          {status.paused ? 'Resume…' : 'Pause…'}
        </button>
        {moving && (
          <span class="badge warn">
            move in progress: {status.pendingMove!.from} → {status.pendingMove!.to}
          </span>
        )}
      </div>
      {shown && (
        <div class="dryrun" data-testid="dry-run-result">
          <p>
            <strong>Dry run</strong> at {time(shown.at.toISOString())}: {moveTitle(shown.result)} —{' '}
            {failingGates(shown.result.gates).length > 0 ? (
              <span class="bad">would be refused: {gateSummary(shown.result.gates)}</span>
            ) : (
              <span class="ok">{gateSummary(shown.result.gates)}</span>
            )}
          </p>
          <ul>
            {moveChanges(shown.result).map((l) => (
              <li key={l}>{l}</li>
            ))}
          </ul>
          <GateTable gates={shown.result.gates} />
        </div>
      )}
    </section>
  );
}

export function Dialog(props: {
  state: DialogState;
  close: () => void;
  failed: Failed;
  setNotice: (n: Notice | null) => void;
  refresh: () => Promise<void>;
}) {
  const { state, close, failed, setNotice, refresh } = props;
  const [reason, setReason] = useState('');
  const [force, setForce] = useState(false);
  const [busy, setBusy] = useState(false);
  const failing = state.gates ? failingGates(state.gates) : [];
  const needsReason = state.reason === 'required' || force;
  const blocked = state.blockedBy !== undefined || (failing.length > 0 && !force) || (needsReason && reason.trim() === '');

  const confirm = async () => {
    setBusy(true);
    try {
      const notice = await state.run({ reason: reason.trim(), force });
      close();
      setNotice(notice);
      await refresh();
    } catch (err) {
      close();
      await failed(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="overlay">
      <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="dialog-title" data-testid="dialog">
        <h2 id="dialog-title">{state.title}</h2>
        {state.target && (
          <label class="field">
            roll back to{' '}
            <select
              value={state.target.value}
              onChange={(e) => void state.target!.change((e.target as HTMLSelectElement).value)}
              data-testid="rollback-target"
            >
              {state.target.options.map((o) => (
                <option key={o} value={o}>
                  {o}
                </option>
              ))}
            </select>
          </label>
        )}
        {state.option && (
          <label class="field">
            <input
              type="checkbox"
              checked={state.option.checked}
              onChange={(e) => void state.option!.change((e.target as HTMLInputElement).checked).catch(failed)}
              data-testid="dialog-option"
            />
            {state.option.label}
          </label>
        )}
        <p>What changes:</p>
        <ul class="changes" data-testid="dialog-changes">
          {state.lines.map((l) => (
            <li key={l}>{l}</li>
          ))}
        </ul>
        {state.blockedBy && (
          <p class="bad" data-testid="dialog-blocked">
            {state.blockedBy}
          </p>
        )}
        {state.gates && state.gates.length > 0 && <GateTable gates={state.gates} />}
        {state.forceable && (
          <label class="field force">
            <input type="checkbox" checked={force} onChange={(e) => setForce((e.target as HTMLInputElement).checked)} data-testid="force" />
            Force past {failing.length} failing gate{failing.length === 1 ? '' : 's'} (needs a reason; audited as forced)
          </label>
        )}
        {state.reason !== 'none' && (
          <>
            <label class="field" for="reason">
              Reason{needsReason ? ' (required)' : ` (optional, ${state.reasonNote ?? 'goes to the audit log'})`}
            </label>
            <textarea
              id="reason"
              rows={2}
              maxLength={2000}
              value={reason}
              onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)}
              data-testid="reason"
            />
          </>
        )}
        <div class="buttons">
          <button type="button" class="quiet" onClick={close} disabled={busy}>
            Cancel
          </button>
          {/* `confirm` catches its own errors; the browser ignores what a handler returns. */}
          <button type="button" class="primary" onClick={() => void confirm()} disabled={busy || blocked} data-testid="confirm">
            {busy ? 'Working…' : state.confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}
