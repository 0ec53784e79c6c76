/** The weights planned and read back from the router, the source of truth and the write mode. */
import { time } from '../format';
import type { Status } from '../types';
import { Facts, store } from './panel';

export function Router({ status }: { status: Status }) {
  const w = status.weights;
  const inEffect = w.inEffect === null ? (
    <span class="muted">nothing read back yet{w.provider === 'none' ? ' (provider none: no change made yet)' : ''}</span>
  ) : 'error' in w.inEffect ? (
    <span class="bad">could not read the records: {w.inEffect.error}</span>
  ) : (
    <span data-testid="weights-in-effect">legacy {w.inEffect.legacy} / new {w.inEffect.new}</span>
  );
  return (
    <section class="panel" aria-labelledby="router-title" data-testid="panel-router">
      <h2 id="router-title">Traffic and roles</h2>
      <div class="weightbar" aria-label={`new ${w.newPercent}%, legacy ${w.legacyPercent}%`}>
        <svg viewBox="0 0 100 6" preserveAspectRatio="none" role="img">
          <rect x="0" y="0" width={w.legacyPercent} height="6" class="legacy" />
          <rect x={w.legacyPercent} y="0" width={w.newPercent} height="6" class="new" />
        </svg>
      </div>
      <Facts
        rows={[
          ['planned weights', <span data-testid="planned-weights">new {w.newPercent}% / legacy {w.legacyPercent}%</span>],
          [`read back from the router (${w.provider})`, inEffect],
          ['source of truth', <strong data-testid="source-of-truth">{store(status.sourceOfTruth)}</strong>],
          ['writes', status.dualWrite ? 'dual (both stores)' : `${store(status.sourceOfTruth)} only`],
          ['reads served from', store(status.readFrom)],
          ['shadow comparison', status.shadowComparison ? 'on' : 'off'],
          ['automatic progression', status.autoProgression.enabled ? `on (${status.autoProgression.failedChecks}/${status.autoProgression.threshold} failed checks)` : 'off'],
          ['last traffic change', status.lastTrafficChange ? `#${status.lastTrafficChange.id} ${status.lastTrafficChange.state} at ${time(status.lastTrafficChange.requestedAt)}` : 'none'],
        ]}
      />
    </section>
  );
}
