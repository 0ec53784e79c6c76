/**
 * The comparison of one id range between the stores, as VDiff does it: a digest of each side's
 * (id, record hash) list decides whether the range can differ at all, and only a range whose digests
 * differ is compared record by record. A record is `missing` (legacy only), `extra` (new only) or
 * `different` (both, canonical forms differ; the differing paths are named). Deleted records are
 * compared like any other: soft-deleted in both with the same content is equal.
 */
import { createHash } from 'node:crypto';
import { diffCanonical } from '../../model/canonical';
import type { VerifyRecord } from './verify-record';

export type FindingKind = 'missing' | 'extra' | 'different';

export interface Finding {
  id: string;
  kind: FindingKind;
  /**
   * Differing canonical paths (`title`, `messages[2].content`, `deleted`), or a marker like `<unreadable>`;
   * empty for missing and extra, and for a difference seen by hash only (named on its recheck).
   */
  paths: string[];
  reason: string | null;
  legacyVersion: number | null;
  newVersion: number | null;
  /** The legacy document cannot be read: reported as `unreadable` when it is already dead-lettered. */
  legacyUnreadable: boolean;
}

export const UNREADABLE_PATH = '<unreadable>';
export const INVALID_ROW_PATH = '<invalid-row>';
/** A conversation can differ in every message; the report names this many paths and says how many more. */
export const MAX_PATHS = 50;

/** Digest of one side of a range; equal digests mean equal ranges (ids and contents). */
export function rangeDigest(records: readonly VerifyRecord[]): string {
  const h = createHash('sha256');
  for (const r of records) h.update(r.id).update(':').update(r.hash).update('\n');
  return h.digest('hex');
}

/** null when both sides agree (or both are absent). */
export function compareRecord(id: string, legacy: VerifyRecord | undefined, next: VerifyRecord | undefined): Finding | null {
  if (!legacy && !next) return null;
  if (legacy && next && legacy.hash === next.hash) return null;
  const base = {
    id,
    legacyVersion: legacy?.version ?? null,
    newVersion: next?.version ?? null,
    legacyUnreadable: legacy?.problem !== undefined,
  };
  if (legacy?.problem !== undefined) return { ...base, kind: 'different', paths: [UNREADABLE_PATH], reason: legacy.problem };
  if (!next) return { ...base, kind: 'missing', paths: [], reason: null };
  if (!legacy) return { ...base, kind: 'extra', paths: [], reason: next.problem ?? null };
  if (next.problem !== undefined) return { ...base, kind: 'different', paths: [INVALID_ROW_PATH], reason: next.problem };
  // Records of the walk carry hashes only: the paths are named when the suspect is read again.
  if (!legacy.canonical || !next.canonical) return { ...base, kind: 'different', paths: [], reason: null };
  const paths = diffCanonical(legacy.canonical, next.canonical).map((d) => d.path);
  const shown = paths.slice(0, MAX_PATHS);
  const reason = paths.length > MAX_PATHS ? `${paths.length - MAX_PATHS} more differing paths not listed` : null;
  return { ...base, kind: 'different', paths: shown, reason };
}

export interface RangeComparison {
  /** Records in the range, counting an id present on both sides once. */
  compared: number;
  digestsDiffer: boolean;
  findings: Finding[];
}

/** Both lists in ascending id order, each id at most once per side. */
export function compareRange(legacy: readonly VerifyRecord[], next: readonly VerifyRecord[]): RangeComparison {
  if (legacy.length === next.length && rangeDigest(legacy) === rangeDigest(next)) {
    return { compared: legacy.length, digestsDiffer: false, findings: [] };
  }
  const findings: Finding[] = [];
  let i = 0;
  let j = 0;
  let compared = 0;
  while (i < legacy.length || j < next.length) {
    const l = legacy[i];
    const n = next[j];
    let finding: Finding | null;
    if (n === undefined || (l !== undefined && l.id < n.id)) {
      finding = compareRecord(l.id, l, undefined);
      i++;
    } else if (l === undefined || n.id < l.id) {
      finding = compareRecord(n.id, undefined, n);
      j++;
    } else {
      finding = compareRecord(l.id, l, n);
      i++;
      j++;
    }
    compared++;
    if (finding) findings.push(finding);
  }
  return { compared, digestsDiffer: true, findings };
}
