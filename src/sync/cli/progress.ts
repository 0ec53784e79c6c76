/**
 * How the sync CLI draws a status: a progress bar with counts, rate and ETA. Pure, so it is tested
 * without a terminal.
 */
import type { CatchupPassResult } from '../catchup/catchup.service';
import type { SyncStatus } from '../sync-status.service';

const int = (n: number) => Math.round(n).toLocaleString('en-US');

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

export function bar(percent: number, width: number): string {
  const filled = Math.max(0, Math.min(width, Math.round((percent / 100) * width)));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** One line: the bar, percent, documents, rate, ETA, then the outcome counts and ranges. */
export function progressLine(status: SyncStatus, width = 30): string {
  const b = status.backfill;
  if (!b) return 'no backfill run yet (npm run sync -- backfill starts one)';
  const c = b.counts;
  const total = Math.max(c.expected, c.read);
  const parts = [
    `${bar(b.percent, width)} ${b.percent.toFixed(1).padStart(5)}%`,
    `${int(c.read)}/${b.splitComplete ? int(total) : `${int(total)}+`} docs`,
    `${int(b.rate.docsPerSecond)} docs/s`,
    `ETA ${b.status === 'completed' ? 'done' : formatDuration(b.etaSeconds)}`,
    `written ${int(c.written)} skipped ${int(c.skipped)} dead ${int(c.dead)}`,
    `ranges ${b.ranges.done}/${b.ranges.total}`,
  ];
  if (status.paused) parts.push('PAUSED');
  return parts.join(' | ');
}

/** The multi-line summary `status` prints. */
export function statusReport(status: SyncStatus): string {
  const lines = [progressLine(status)];
  const b = status.backfill;
  if (b) lines.push(`run ${b.runId}: ${b.status}, started ${b.startedAt}${b.finishedAt ? `, finished ${b.finishedAt}` : ''}`);
  if (b?.jobs?.failed) lines.push(`${b.jobs.failed} range job(s) failed: npm run sync -- backfill re-queues them`);
  const cu = status.catchup;
  lines.push(
    cu.watermark
      ? `catch-up: watermark ${cu.watermark.updated}, lag ${formatDuration(cu.lagSeconds)}${cu.newIdsAfter ? `, new ids after ${cu.newIdsAfter}` : ''}`
      : 'catch-up: no watermark yet',
  );
  const ceiling = status.throttle.maxDocsPerSecond > 0 ? `${int(status.throttle.maxDocsPerSecond)} docs/s` : 'no ceiling';
  const paused = status.paused ? `; PAUSED by ${status.pause?.by ?? '?'}${status.pause?.reason ? `: ${status.pause.reason}` : ''}` : '';
  lines.push(`throttle: ${ceiling} (${status.throttle.source})${paused}`);
  lines.push(`dead letters: ${int(status.deadLetters.open)} open, ${int(status.deadLetters.resolved)} resolved`);
  return lines.join('\n');
}

/**
 * What one catch-up pass did, in a line: why it did not run, or its counts. A pass that ran also has a
 * `skipped` field (the documents already current), a number, not a reason.
 */
export function catchupPassLine(r: CatchupPassResult): string {
  if (typeof r.skipped === 'string') return `catch-up pass skipped: ${r.skipped}`;
  const more = r.exhausted ? '' : ' (more to do: the next pass continues)';
  return `catch-up pass: ${int(r.read)} read, ${int(r.written)} written, ${int(r.skipped)} already current, ${int(r.dead)} dead-lettered in ${int(r.batches)} batches${more}`;
}
