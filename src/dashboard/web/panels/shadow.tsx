/** The shadow mismatch rate over time and the paths that differed most. */
import { count, ratio, time } from '../format';
import { ShadowChart } from '../shadow-chart';
import type { LagKind, ShadowStatus } from '../types';
import type { PanelProps } from './panel';

const LAG_WORDS: Array<[LagKind, string]> = [
  ['not_copied', 'not copied yet'],
  ['not_caught_up', 'not caught up yet'],
  ['follow_up', 'follow-up pending'],
  ['converged', 'converged on a recheck'],
];

/** The lag share beside the rate: how much of what was compared was still being copied, and why. */
function LagShare({ w }: { w: ShadowStatus['window'] }) {
  const kinds = LAG_WORDS.filter(([k]) => (w.lagByKind?.[k] ?? 0) > 0).map(([k, words]) => `${count(w.lagByKind[k])} ${words}`);
  return (
    <span data-testid="shadow-lag" title="comparisons where one side was still being copied: counted as compared, not as mismatches">
      lag <strong>{ratio(w.lagShare ?? (w.compared > 0 ? w.lag / w.compared : null))}</strong> ({count(w.lag)}
      {kinds.length > 0 ? `: ${kinds.join(', ')}` : ''})
    </span>
  );
}

export const WINDOWS: Array<[number, string]> = [
  [15 * 60_000, '15 min'],
  [3_600_000, '1 h'],
  [6 * 3_600_000, '6 h'],
  [24 * 3_600_000, '24 h'],
];

export function Shadow(p: PanelProps) {
  const { snapshot, view, setView } = p;
  return (
    <section class="panel wide" aria-labelledby="shadow-title" data-testid="panel-shadow">
      <h2 id="shadow-title">Shadow comparison</h2>
      <div class="tabs" role="group" aria-label="window">
        {WINDOWS.map(([ms, label]) => (
          <button
            key={ms}
            type="button"
            class={ms === view.shadowWindowMs ? 'selected' : 'quiet'}
            onClick={() => setView({ ...view, shadowWindowMs: ms })}
          >
            {label}
          </button>
        ))}
      </div>
      <div class="split">
        <div>
          {snapshot.shadow.ok && (
            <p>
              {snapshot.shadow.value.active ? 'sampling on' : 'sampling off in this phase'} · {count(snapshot.shadow.value.window.compared)}{' '}
              compared · {count(snapshot.shadow.value.window.mismatched)} mismatched · rate{' '}
              <strong data-testid="shadow-rate">{ratio(snapshot.shadow.value.window.mismatchRate)}</strong> ·{' '}
              <LagShare w={snapshot.shadow.value.window} /> · {count(snapshot.shadow.value.window.dropped)} dropped
            </p>
          )}
          {snapshot.timeline.ok ? (
            <ShadowChart timeline={snapshot.timeline.value} />
          ) : (
            <p class="error">Could not load: {snapshot.timeline.error}</p>
          )}
        </div>
        <div>
          <h3>Top differing paths</h3>
          {snapshot.topPaths.ok ? (
            snapshot.topPaths.value.items.length === 0 ? (
              <p class="muted">No mismatch in this window.</p>
            ) : (
              <table data-testid="top-paths">
                <thead>
                  <tr>
                    <th>path</th>
                    <th>mismatches</th>
                    <th>last seen</th>
                  </tr>
                </thead>
                <tbody>
                  {snapshot.topPaths.value.items.map((x) => (
                    <tr key={x.path}>
                      <td>
                        <code class="id">{x.path}</code>
                      </td>
                      <td>{count(x.mismatches)}</td>
                      <td>{time(x.lastSeen)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          ) : (
            <p class="error">Could not load: {snapshot.topPaths.error}</p>
          )}
        </div>
      </div>
    </section>
  );
}
