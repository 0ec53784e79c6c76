/** Backfill progress (rate, ETA) and the catch-up lag; starting (or resuming) a backfill and a catch-up pass. */
import { count, duration, time } from '../format';
import { confirmBackfill, confirmCatchup } from '../operations';
import { Facts, Panel, PanelProps } from './panel';

export function Progress({ value, label }: { value: number | null; label: string }) {
  return <progress max={100} value={value ?? undefined} aria-label={label} />;
}

export function Backfill(p: PanelProps) {
  return (
    <Panel title="Backfill and catch-up" id="backfill" data={p.snapshot.sync}>
      {(s) => {
        const b = s.backfill;
        return (
          <>
            <div class="buttons panel-actions">
              <button type="button" onClick={() => void confirmBackfill(p).catch(p.failed)} data-testid="start-backfill">
                {b?.status === 'running' ? 'Resume backfill…' : 'Start backfill…'}
              </button>
              <button type="button" onClick={() => void confirmCatchup(p).catch(p.failed)} data-testid="run-catchup">
                Catch-up pass…
              </button>
            </div>
            {b ? (
              <>
                <p>
                  Run #{b.runId} <span class="badge">{b.status}</span>{' '}
                  {s.paused && <span class="badge warn">paused{s.pause?.reason ? `: ${s.pause.reason}` : ''}</span>}
                </p>
                <Progress value={b.percent} label="backfill progress" />
                <Facts
                  rows={[
                    ['progress', `${b.percent} % (${count(b.counts.read)} of ${count(b.counts.expected)} read)`],
                    ['written / skipped / dead', `${count(b.counts.written)} / ${count(b.counts.skipped)} / ${count(b.counts.dead)}`],
                    ['rate', `${count(b.rate.docsPerSecond)} docs/s (last ${b.rate.windowSeconds} s)`],
                    ['ETA', b.etaSeconds === null ? '—' : b.etaSeconds === 0 ? 'done' : duration(b.etaSeconds * 1000)],
                    ['ranges', `${b.ranges.done} done, ${b.ranges.running} running, ${b.ranges.pending} pending of ${b.ranges.total}`],
                  ]}
                />
              </>
            ) : (
              <p class="muted">No backfill has run yet.</p>
            )}
            <Facts
              rows={[
                [
                  'catch-up lag',
                  <span data-testid="catchup-lag">
                    {s.catchup.lagSeconds === null ? 'no pass yet' : duration(s.catchup.lagSeconds * 1000)}
                  </span>,
                ],
                ['watermark', s.catchup.watermark ? time(s.catchup.watermark.updated) : '—'],
                [
                  'throttle',
                  s.throttle.maxDocsPerSecond === 0 ? 'none' : `${count(s.throttle.maxDocsPerSecond)} docs/s (${s.throttle.source})`,
                ],
                ['dead letters', `${count(s.deadLetters.open)} open, ${count(s.deadLetters.resolved)} resolved`],
              ]}
            />
          </>
        );
      }}
    </Panel>
  );
}
