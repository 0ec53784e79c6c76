/**
 * Rechecker: a difference found during the walk is only a suspect. A record in flight (a dual write whose
 * second half has not landed, a legacy change catch-up has not copied yet) differs for a moment and then
 * agrees, so each suspect is read again from both stores once the run's recheck delay has passed:
 * - equal now: dropped, never reported;
 * - still different but either side's version moved since the last look, or either side was written
 *   within the last IN_FLIGHT_MS (the second half of a dual write on a loaded store, or its repair, can
 *   take that long to land): still in flight, looked at again after another delay (at most MAX_RECHECKS
 *   times, so a record written without pause is reported rather than chased forever);
 * - otherwise: confirmed and reported, with the differing paths named from what was read now (the
 *   walk kept hashes only). An unreadable legacy document that the sync has already dead-lettered is
 *   reported as `unreadable` (tracked there) instead of `different`.
 */
import { compareRecord, Finding } from './domain/compare';
import type { VerifyRecord } from './domain/verify-record';
import { readBoth } from './point-reads';
import type { RunContext } from './run-context';
import type { VerifyMetrics } from './verify.metrics';
import type { Classified, VerifyRunRepository } from './verify-run.repository';
import { HEX_ID, LegacyVerifySource, NewVerifySource } from './verify-sources';

export const MAX_RECHECKS = 10;
/** A write younger than this may still be landing on the other store (or be queued for repair). */
export const IN_FLIGHT_MS = 5000;
const BATCH = 500;

function moved(before: Finding, now: Finding): boolean {
  return before.legacyVersion !== now.legacyVersion || before.newVersion !== now.newVersion;
}

/** Either side's record was written within IN_FLIGHT_MS of `nowMs`. */
export function writtenRecently(records: Array<VerifyRecord | undefined>, nowMs: number): boolean {
  return records.some((r) => {
    const at = r?.canonical?.updatedAt;
    return at !== undefined && at !== null && nowMs - Date.parse(String(at)) < IN_FLIGHT_MS;
  });
}

export class Rechecker {
  constructor(
    private readonly legacy: LegacyVerifySource,
    private readonly next: NewVerifySource,
    private readonly runs: VerifyRunRepository,
    private readonly metrics: VerifyMetrics,
  ) {}

  /** The kind a finding is reported as. */
  static async classify(runs: VerifyRunRepository, findings: Finding[]): Promise<Classified[]> {
    const dead = await runs.openDeadLetters(findings.filter((f) => f.legacyUnreadable).map((f) => f.id));
    return findings.map((finding) => ({ finding, kind: finding.legacyUnreadable && dead.has(finding.id) ? 'unreadable' : finding.kind }));
  }

  /** Rechecks every suspect due now; returns the milliseconds until the next one is due, or null when none is left. */
  async recheckDue(ctx: RunContext): Promise<number | null> {
    for (;;) {
      ctx.checkStop();
      const due = await this.runs.dueSuspects(ctx.run.id, BATCH);
      if (due.length === 0) return this.runs.msUntilNextDue(ctx.run.id);
      const seen = await readBoth(
        this.legacy,
        this.next,
        due.map((d) => d.id),
      );
      const resolved: string[] = [];
      const again: Finding[] = [];
      const confirmed: Finding[] = [];
      for (const before of due) {
        // An `_id` that is not an ObjectId cannot be read by id: it stays what the walk found.
        const pair = [seen.legacy.get(before.id), seen.next.get(before.id)];
        const now = HEX_ID.test(before.id) ? compareRecord(before.id, pair[0], pair[1]) : before;
        if (now === null) resolved.push(before.id);
        else if ((moved(before, now) || writtenRecently(pair, Date.now())) && before.rechecks < MAX_RECHECKS) again.push(now);
        else confirmed.push(now);
      }
      const [againClassified, confirmedClassified] = await Promise.all([
        Rechecker.classify(this.runs, again),
        Rechecker.classify(this.runs, confirmed),
      ]);
      await this.runs.commitRecheck(ctx.run, ctx.worker, { resolved, again: againClassified, confirmed: confirmedClassified });
      this.metrics.rechecks.inc({ outcome: 'resolved' }, resolved.length);
      this.metrics.rechecks.inc({ outcome: 'again' }, again.length);
      this.metrics.rechecks.inc({ outcome: 'confirmed' }, confirmed.length);
      for (const c of confirmedClassified) this.metrics.confirmed(c.kind);
    }
  }

  /** Waits for, and rechecks, every suspect left. */
  async drain(ctx: RunContext): Promise<void> {
    for (;;) {
      const wait = await this.recheckDue(ctx);
      if (wait === null) return;
      await ctx.sleep(Math.max(wait, 20));
    }
  }
}
