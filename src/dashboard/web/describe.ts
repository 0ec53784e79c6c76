/**
 * What a confirmation says will change, from the server's own dry run of the move (so the words are
 * the plan's, not the page's guess). Pure, so it is unit-tested.
 */
import type { Gate, MoveResult } from './types';

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
  if (before.dualWrite !== after.dualWrite) lines.push(after.dualWrite ? 'dual writes start (both stores written)' : `dual writes stop: only the ${store(after.sourceOfTruth)} is written`);
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
