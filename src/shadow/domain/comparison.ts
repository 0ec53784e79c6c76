/**
 * Shadow comparison as plain functions: what differs between two reads (always through the canonical form
 * and `diffCanonical`), whether a version difference can explain it, what calibration says is noise, and
 * the verdict for one sample. No I/O here; the comparer service feeds it reads.
 *
 * Paths: a single conversation uses the canonical paths (`title`, `messages[2].content`), plus `exists`
 * when only one side has the record. A list page prefixes each position with `items[i]` and reports
 * `items.length` and whole extra items as `items[i]`. Ignore rules and noise are written against
 * conversation paths and apply to every item of a page alike.
 */
import { CanonicalConversation, CanonicalDifference, diffCanonical } from '../../model/canonical';
import { generalisePath, PathRules } from './path-pattern';

export type Difference = CanonicalDifference;
export type Outcome = 'matched' | 'mismatched' | 'lag' | 'ignored' | 'noisy';
export const OUTCOMES: readonly Outcome[] = ['matched', 'mismatched', 'lag', 'ignored', 'noisy'];

export type Read = CanonicalConversation | null;

/** What a comparison saw on each side, for the verdict and the mismatch record. */
export interface Compared {
  differences: Difference[];
  /** Some record (or list item) is at different versions on the two sides, or only on one side. */
  versionsDiffer: boolean;
  /** Versions of a single record (null when absent or for a list). */
  leftVersion: number | null;
  rightVersion: number | null;
}

const summary = (c: CanonicalConversation) => ({ id: c.id, version: c.version });

export function compareRecords(left: Read, right: Read): Compared {
  const leftVersion = left?.version ?? null;
  const rightVersion = right?.version ?? null;
  const base = { leftVersion, rightVersion, versionsDiffer: leftVersion !== rightVersion };
  if (left === null || right === null) {
    if (left === right) return { ...base, differences: [] };
    return { ...base, differences: [{ path: 'exists', left: left !== null, right: right !== null }] };
  }
  return { ...base, differences: diffCanonical(left, right) };
}

export function comparePages(left: CanonicalConversation[], right: CanonicalConversation[]): Compared {
  const differences: Difference[] = [];
  let versionsDiffer = false;
  if (left.length !== right.length) differences.push({ path: 'items.length', left: left.length, right: right.length });
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const [l, r] = [left[i], right[i]];
    if (!l || !r) {
      versionsDiffer = true;
      differences.push({ path: `items[${i}]`, left: l ? summary(l) : undefined, right: r ? summary(r) : undefined });
      continue;
    }
    if (l.id !== r.id || l.version !== r.version) versionsDiffer = true;
    for (const d of diffCanonical(l, r)) differences.push({ ...d, path: `items[${i}].${d.path}` });
  }
  // A record that is newer on one side can move in or out of a page, so a different membership counts too.
  return { differences, versionsDiffer, leftVersion: null, rightVersion: null };
}

/** The conversation-relative part of a path (`items[3].title` -> `title`), which ignore rules and noise name. */
export function conversationPath(path: string): string {
  const m = /^items\[\d+\](?:\.|(?=\[))?/.exec(path);
  return m ? path.slice(m[0].length) : path;
}

export interface NoiseFinding {
  /** Conversation path with indices generalised (`messages[*].createdAt`). */
  path: string;
  first: unknown;
  second: unknown;
}

/**
 * Noise between two reads of the same side (two conversations or two pages). Only records read at the
 * same version count: a write between the reads changes fields legitimately and says nothing about noise.
 */
export function noiseBetween(first: Read | CanonicalConversation[], second: Read | CanonicalConversation[]): NoiseFinding[] {
  const pairs: Array<[CanonicalConversation, CanonicalConversation]> = [];
  if (Array.isArray(first) && Array.isArray(second)) {
    const byId = new Map(second.map((c) => [c.id, c]));
    for (const a of first) {
      const b = byId.get(a.id);
      if (b) pairs.push([a, b]);
    }
  } else if (first && second && !Array.isArray(first) && !Array.isArray(second)) {
    pairs.push([first, second]);
  }
  const found = new Map<string, NoiseFinding>();
  for (const [a, b] of pairs) {
    if (a.version !== b.version) continue;
    for (const d of diffCanonical(a, b)) {
      const path = generalisePath(d.path);
      if (!found.has(path)) found.set(path, { path, first: d.left, second: d.right });
    }
  }
  return [...found.values()].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}

export interface VerdictInput {
  compared: Compared;
  ignore: PathRules;
  noise: PathRules;
  /** How many rechecks already happened for this sample (0 on the first look). */
  rechecks: number;
  maxRechecks: number;
}

export type Verdict =
  | { kind: 'decided'; outcome: Outcome; real: Difference[]; ignored: Difference[]; noisy: Difference[] }
  | { kind: 'recheck'; real: Difference[] };

/**
 * - nothing differs after ignore rules and noise: matched / ignored / noisy, or lag when an earlier look
 *   had seen a version difference (the stores converged);
 * - real differences with a version difference and rechecks left: look again later;
 * - otherwise a mismatch (equal versions with different content never wait).
 */
export function verdict(input: VerdictInput): Verdict {
  const { ignored, noisy, real } = partition(input.compared.differences, input.ignore, input.noise);
  if (real.length === 0) {
    const outcome: Outcome = input.rechecks > 0 ? 'lag' : noisy.length > 0 ? 'noisy' : ignored.length > 0 ? 'ignored' : 'matched';
    return { kind: 'decided', outcome, real, ignored, noisy };
  }
  if (input.compared.versionsDiffer && input.rechecks < input.maxRechecks) return { kind: 'recheck', real };
  return { kind: 'decided', outcome: 'mismatched', real, ignored, noisy };
}

/** Differences split by what ignore rules and noise take out; `real` is what is left. */
export function partition(
  differences: Difference[],
  ignore: PathRules,
  noise: PathRules,
): { ignored: Difference[]; noisy: Difference[]; real: Difference[] } {
  const ignored: Difference[] = [];
  const noisy: Difference[] = [];
  const real: Difference[] = [];
  for (const d of differences) {
    const p = conversationPath(d.path);
    if (ignore.matches(p)) ignored.push(d);
    else if (noise.matches(p)) noisy.push(d);
    else real.push(d);
  }
  return { ignored, noisy, real };
}
