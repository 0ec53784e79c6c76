/** The weights planned and read back from the router, the source of truth and the write mode, the follow-up lag and the last flip. */
import type { ComponentChildren } from 'preact';
import { duration, pause, time } from '../format';
import type { Status } from '../types';
import { Facts, store } from './panel';

type Row = [string, ComponentChildren];

/** Follow-ups not yet settled: only where dual writes keep the other store in step, or some are still pending. */
function followUps(status: Status): Row[] {
  const f = status.followUps;
  if (!f || (!status.dualWrite && f.pending === 0)) return [];
  const behind = status.sourceOfTruth === 'new' ? 'legacy' : 'the new store';
  const text =
    f.pending === 0
      ? `none pending: ${behind} is in step`
      : `${f.pending} pending, the oldest ${duration(f.oldestAgeSeconds * 1000)} old: ${behind} lags by up to that`;
  return [
    [
      'follow-ups',
      <span data-testid="follow-ups" class={f.pending > 0 ? 'warn' : ''}>
        {text}
      </span>,
    ],
  ];
}

function lastFlip(status: Status): Row[] {
  const f = status.lastFlip;
  if (!f) return [];
  const w = f.writePause;
  const paused = w ? `; writes waited ${pause(w.waitedMs)} for those in flight and were held ${pause(w.heldMs)}` : '';
  return [
    [
      'last flip',
      <span data-testid="last-flip">{`${f.action} to ${f.to} at ${time(f.at)}: source of truth ${store(f.sourceOfTruth)}${paused}`}</span>,
    ],
  ];
}

export function Router({ status }: { status: Status }) {
  const w = status.weights;
  const inEffect =
    w.inEffect === null ? (
      <span class="muted">nothing read back yet{w.provider === 'none' ? ' (provider none: no change made yet)' : ''}</span>
    ) : 'error' in w.inEffect ? (
      <span class="bad">could not read the records: {w.inEffect.error}</span>
    ) : (
      <span data-testid="weights-in-effect">
        legacy {w.inEffect.legacy} / new {w.inEffect.new}
      </span>
    );
  return (
    <section class="panel" aria-labelledby="router-title" data-testid="panel-router">
      <h2 id="router-title">Traffic and roles</h2>
      <div class="weightbar" aria-label={`new ${w.newPercent}%, legacy ${w.legacyPercent}%`}>
        <svg viewBox="0 0 100 6" preserveAspectRatio="none" role="img">
          <rect x="0" y="0" width={w.legacyPercent} height="6" class="legacy" />
          <rect x={w.legacyPercent} y="0" width={w.newPercent} height="6" class="new" />
        </svg>
        <ul class="legend" data-testid="weight-legend">
          <li>
            <span class="swatch legacy" aria-hidden="true" />
            legacy (MongoDB) {w.legacyPercent}%
          </li>
          <li>
            <span class="swatch new" aria-hidden="true" />
            new (PostgreSQL) {w.newPercent}%
          </li>
        </ul>
      </div>
      <Facts
        rows={[
          [
            'planned weights',
            <span data-testid="planned-weights">
              new {w.newPercent}% / legacy {w.legacyPercent}%
            </span>,
          ],
          [`read back from the router (${w.provider})`, inEffect],
          ['source of truth', <strong data-testid="source-of-truth">{store(status.sourceOfTruth)}</strong>],
          ['writes', status.dualWrite ? 'dual (both stores)' : `${store(status.sourceOfTruth)} only`],
          ...followUps(status),
          ['reads served from', store(status.readFrom)],
          ['shadow comparison', status.shadowComparison ? 'on' : 'off'],
          [
            'automatic progression',
            status.autoProgression.enabled
              ? `on (${status.autoProgression.failedChecks}/${status.autoProgression.threshold} failed checks)`
              : 'off',
          ],
          ...lastFlip(status),
          [
            'last traffic change',
            status.lastTrafficChange
              ? `#${status.lastTrafficChange.id} ${status.lastTrafficChange.state} at ${time(status.lastTrafficChange.requestedAt)}`
              : 'none',
          ],
        ]}
      />
    </section>
  );
}
