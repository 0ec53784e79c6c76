/**
 * What a confirmation says will change, from the server's own dry run of the move (so the words are
 * the plan's, not the page's guess). Pure, so it is unit-tested.
 */
import { count, duration, time } from './format';
import type { Gate, MoveResult, SyncStatus } from './types';

const store = (s: string) => (s === 'new' ? 'new store (PostgreSQL)' : 'legacy store (MongoDB)');

export function moveTitle(r: Pick<MoveResult, 'action' | 'from' | 'to'>): string {
  const verb = r.action === 'start' ? 'Start' : r.action === 'advance' ? 'Advance' : 'Roll back';
  return `${verb}: ${r.from} → ${r.to}`;
}

/** One line per thing that changes, then what stays as it is. */
export function moveChanges(r: MoveResult): string[] {
  const lines: string[] = [];
  const { before, after } = r.mode;
  if (r.weights.before !== r.weights.after) {
    lines.push(
      `${r.from} → ${r.to}: new weight ${r.weights.before}% → ${r.weights.after}% (legacy ${100 - r.weights.before}% → ${100 - r.weights.after}%)`,
    );
  } else if (r.to === 'complete') {
    lines.push(`${r.from} → ${r.to}: the legacy weighted record is deleted (new keeps 100%)`);
  } else {
    lines.push(`${r.from} → ${r.to}: weights stay new ${r.weights.after}% / legacy ${100 - r.weights.after}%`);
  }
  if (before.sourceOfTruth !== after.sourceOfTruth) {
    lines.push(`source of truth: ${store(before.sourceOfTruth)} → ${store(after.sourceOfTruth)}`);
  } else {
    lines.push(`source of truth stays the ${store(after.sourceOfTruth)}`);
  }
  if (before.dualWrite !== after.dualWrite)
    lines.push(
      after.dualWrite ? 'dual writes start (both stores written)' : `dual writes stop: only the ${store(after.sourceOfTruth)} is written`,
    );
  if (before.readFrom !== after.readFrom) lines.push(`reads served from: ${store(before.readFrom)} → ${store(after.readFrom)}`);
  if (before.shadow !== after.shadow) lines.push(after.shadow ? 'shadow comparison starts' : 'shadow comparison stops');
  if (r.action === 'rollback' && before.sourceOfTruth === 'new' && after.sourceOfTruth === 'legacy') {
    lines.push('first, every write since the flip is copied to legacy and verified; the flip back happens only if they all agree');
  }
  if (r.to === 'cleanup') lines.push('the legacy collection is archived and no longer written');
  return lines;
}

export function failingGates(gates: Gate[]): Gate[] {
  return gates.filter((g) => !g.pass);
}

export function gateSummary(gates: Gate[]): string {
  if (gates.length === 0) return 'no gates for this move';
  const failing = failingGates(gates).length;
  return failing === 0 ? `all ${gates.length} gates pass` : `${failing} of ${gates.length} gates fail`;
}

export const PAUSE_CHANGES = [
  'automatic progression stops (no step is taken or rolled back by itself)',
  'backfill and catch-up stop between batches, keeping their checkpoints',
  'the phase, the weights and the dual writes stay as they are',
];

export const RESUME_CHANGES = ['automatic progression (if enabled) and backfill and catch-up scheduling start again'];

/** What a confirmation of a sync or verification action says, from the state read when it opens. */
export interface OperationText {
  title: string;
  lines: string[];
  confirmLabel: string;
  blockedBy?: string;
}

const sourceStore = (s: string) => (s === 'new' ? 'new store (PostgreSQL)' : 'legacy store (MongoDB)');

function pausedLine(s: SyncStatus, what: string): string[] {
  if (!s.paused) return [];
  return [`the sync is paused${s.pause?.reason ? ` (${s.pause.reason})` : ''}: ${what} until it is resumed`];
}

/** Starting a backfill, or resuming the running one (POST /migration/sync/backfill does whichever applies). */
export function backfillText(s: SyncStatus): OperationText {
  const b = s.backfill;
  if (b && b.status === 'running') {
    return {
      title: `Resume backfill run #${b.runId}`,
      lines: [
        `run #${b.runId} is at ${b.percent} % (${count(b.counts.read)} of ${count(b.counts.expected)} read): its ranges go on from their checkpoints, and a range whose job was lost is queued again`,
        'nothing is copied twice: a batch writes only what is newer than the copy in the new store',
        ...pausedLine(s, 'no range is copied'),
      ],
      confirmLabel: 'Resume backfill',
    };
  }
  const last = b
    ? [
        `the last run (#${b.runId}) ${b.status}${b.finishedAt ? ` at ${time(b.finishedAt)}` : ''}: the new run reads the whole collection again, and copies already up to date are skipped`,
      ]
    : [];
  return {
    title: 'Start a backfill',
    lines: [
      "a new run cuts the legacy collection's _id space into ranges, and workers copy them batch by batch, each range from its checkpoint",
      'version-guarded: a copy never overwrites a newer version in the new store',
      ...last,
      s.catchup.intervalMs > 0
        ? `catch-up then copies what legacy changes, every ${duration(s.catchup.intervalMs)}`
        : 'catch-up then runs only when asked (no schedule)',
      ...pausedLine(s, 'no range is copied'),
    ],
    confirmLabel: 'Start backfill',
  };
}

/** One catch-up pass now (POST /migration/sync/catchup). */
export function catchupText(s: SyncStatus): OperationText {
  const c = s.catchup;
  const lines = c.watermark
    ? [
        `legacy changes since ${time(c.watermark.updated)} (less the ${duration(c.overlapMs)} overlap a pass reads again) are copied into the new store, version-guarded`,
      ]
    : ['there is no watermark yet: catch-up starts with the first backfill, and this pass copies nothing'];
  if (c.newIdsAfter) lines.push(`conversations inserted since (_id above ${c.newIdsAfter}) are copied too`);
  lines.push(`catch-up lag now: ${c.lagSeconds === null ? 'no pass yet' : duration(c.lagSeconds * 1000)}`);
  return { title: 'Run a catch-up pass', lines: [...lines, ...pausedLine(s, 'the pass is skipped')], confirmLabel: 'Run the pass' };
}

/** A verification run (POST /migration/verify), with or without repair; `running`: a run not finished yet. */
export function verifyText(
  sourceOfTruth: 'legacy' | 'new',
  repair: boolean,
  running: { id: number; status: string } | null,
): OperationText {
  return {
    title: repair ? 'Verify and repair' : 'Run a verification',
    lines: [
      'every conversation in both stores is compared in canonical form, chunk by chunk (hashes first, then record by record), and every difference is listed',
      repair
        ? `each difference is copied from the source of truth (the ${sourceStore(sourceOfTruth)}) and verified again`
        : 'nothing is written: the run only reports',
      'a worker runs it; it shows under Verification runs with its progress',
    ],
    confirmLabel: repair ? 'Verify and repair' : 'Verify',
    blockedBy: running ? `Run #${running.id} is still ${running.status}: one verification runs at a time.` : undefined,
  };
}
