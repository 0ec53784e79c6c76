/** The plan as a timeline, the current step marked. */
import { PLAN, stepName } from '../../../migration/domain/phase-plan';
import { time } from '../format';
import type { Status } from '../types';

export function Timeline({ status }: { status: Status }) {
  const names = PLAN.map(stepName);
  const current = names.indexOf(status.step);
  const phases = ['not_started', 'shadow', 'canary', 'rollout', 'deprecation', 'cleanup', 'complete'];
  return (
    <section class="panel timeline" aria-label="Timeline" data-testid="panel-timeline">
      <h2>
        Phase <span data-testid="current-step">{status.step}</span>
        {status.paused && <span class="badge warn">paused</span>}
        <span class="muted">
          {' '}
          · entered {time(status.enteredAt)} · revision {status.revision} · gate profile {status.gateProfile.name}
        </span>
      </h2>
      <ol class="phases">
        {phases.map((phase) => {
          const steps = PLAN.map((p, i) => ({ p, i })).filter(({ p }) => p.phase === phase);
          const state = steps.some(({ i }) => i === current) ? 'current' : steps.every(({ i }) => i < current) ? 'done' : 'todo';
          return (
            <li key={phase} class={state} data-phase={phase} data-state={state}>
              <span class="phase-name">{phase.replace('_', ' ')}</span>
              <span class="steps">
                {steps.map(({ p, i }) => (
                  <span key={i} class={`step ${i === current ? 'current' : i < current ? 'done' : 'todo'}`}>
                    {p.weight}%
                  </span>
                ))}
              </span>
            </li>
          );
        })}
      </ol>
    </section>
  );
}
