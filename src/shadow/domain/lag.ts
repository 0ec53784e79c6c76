/**
 * Lag with a cause: a difference that the copying still under way explains is not a mismatch. The comparer
 * reads where the copying stood (the backfill's checkpoints, catch-up's watermarks, pending follow-ups),
 * then reads both sides again and asks these plain functions what is left.
 *
 * A conversation is behind on one side when that side lacks it or holds a lower version. The side that is
 * behind is still being copied, not wrong, when:
 * - `not_copied`: the new store is behind and the backfill has not reached the conversation yet;
 * - `not_caught_up`: the new store is behind and catch-up has not applied the legacy change yet (it was
 *   made after catch-up's watermark, less its overlap window, or inserted above its insert watermark);
 * - `follow_up`: a follow-up in `repair_outbox` copies the conversation from the side that is ahead (in
 *   deprecation legacy follows the new store off the request path; before it, a failed secondary write).
 * `converged` is the older kind: a recheck found both sides equal again.
 * Equal versions with different content are never lag: no copy explains them, so they stay mismatches.
 */
import type { CanonicalConversation } from '../../model/canonical';
import type { StoreName } from '../../model/store-name';
import { Compared, comparePages, compareRecords, Read } from './comparison';

import type { LagKind } from './lag-kinds';

export { LAG_KINDS, type LagKind } from './lag-kinds';

/** Where the copying stood for some conversations (what ShadowLagPort answers). */
export interface CopyState {
  /** Of the ids asked about, those no backfill run has copied yet. */
  notCopied: ReadonlySet<string>;
  /**
   * Of the ids asked about, those above catch-up's insert watermark (inserted after the backfill's split or the catch-up's
   * start, not copied yet).
   */
  insertsPending: ReadonlySet<string>;
  /** Every legacy change with `updated` before this instant (epoch ms) is in the new store; null: none is known to be. */
  changesAppliedBefore: number | null;
  /** Pending follow-ups: conversation id -> the stores they copy from. */
  followUps: ReadonlyMap<string, readonly StoreName[]>;
}

/** One conversation as each store holds it (null: absent). */
export interface Held {
  id: string;
  legacy: Read;
  new: Read;
}

/** The side that lacks the conversation or holds a lower version; null when both hold the same version (or neither holds it). */
export function behindSide(h: Held): StoreName | null {
  const [l, n] = [h.legacy?.version ?? null, h.new?.version ?? null];
  if (l === n) return null;
  if (n === null) return 'new';
  if (l === null) return 'legacy';
  return n < l ? 'new' : 'legacy';
}

/** Why the side that is behind is behind, or null when nothing under way explains it. */
export function lagOf(h: Held, s: CopyState): LagKind | null {
  const behind = behindSide(h);
  if (behind === null) return null;
  const ahead: StoreName = behind === 'new' ? 'legacy' : 'new';
  if (s.followUps.get(h.id)?.includes(ahead)) return 'follow_up';
  if (behind === 'legacy') return null;
  if (s.notCopied.has(h.id)) return 'not_copied';
  if (s.insertsPending.has(h.id)) return 'not_caught_up';
  // The legacy side's `updated` (its updatedAt) says when the legacy application last changed it.
  const changedAt = Date.parse(h.legacy!.updatedAt);
  if (s.changesAppliedBefore === null || changedAt >= s.changesAppliedBefore) return 'not_caught_up';
  return null;
}

/** Both sides of one comparison, with the store each side stands for. */
export type Reads =
  | { endpoint: 'get'; id: string; stores: readonly [StoreName, StoreName]; left: Read; right: Read }
  | {
      endpoint: 'list';
      limit: number;
      stores: readonly [StoreName, StoreName];
      left: CanonicalConversation[];
      right: CanonicalConversation[];
    };

export function idsOf(r: Reads): string[] {
  if (r.endpoint === 'get') return [r.id];
  return [...new Set([...r.left, ...r.right].map((c) => c.id))];
}

function held(id: string, stores: readonly [StoreName, StoreName], left: Read, right: Read): Held {
  const h: Held = { id, legacy: null, new: null };
  h[stores[0]] = left;
  h[stores[1]] = right;
  return h;
}

/** Each kind once, the most frequent first. */
function byFrequency(kinds: LagKind[]): LagKind[] {
  const n = new Map<LagKind, number>();
  for (const k of kinds) n.set(k, (n.get(k) ?? 0) + 1);
  return [...n.keys()].sort((a, b) => n.get(b)! - n.get(a)!);
}

/**
 * What lag explains of a comparison: the kinds it found (most frequent first), and the comparison of what
 * is left once every conversation it explains is taken out of both sides.
 *
 * A page is matched by id, not by position: a conversation missing on one side shifts the others. Once the
 * explained ones are out of both pages, the rest is compared position by position over the length both
 * pages still have; items beyond it on one side are explained too when the other page was full (its
 * limit cut off what would have followed).
 */
export function explainLag(r: Reads, s: CopyState): { kinds: LagKind[]; rest: Compared } {
  if (r.endpoint === 'get') {
    const kind = lagOf(held(r.id, r.stores, r.left, r.right), s);
    return kind ? { kinds: [kind], rest: compareRecords(null, null) } : { kinds: [], rest: compareRecords(r.left, r.right) };
  }
  const byId = (page: CanonicalConversation[]) => new Map(page.map((c) => [c.id, c]));
  const [left, right] = [byId(r.left), byId(r.right)];
  const kinds: LagKind[] = [];
  const explained = new Set<string>();
  for (const id of idsOf(r)) {
    const kind = lagOf(held(id, r.stores, left.get(id) ?? null, right.get(id) ?? null), s);
    if (kind) {
      kinds.push(kind);
      explained.add(id);
    }
  }
  if (kinds.length === 0) return { kinds, rest: comparePages(r.left, r.right) };
  const restLeft = r.left.filter((c) => !explained.has(c.id));
  const restRight = r.right.filter((c) => !explained.has(c.id));
  const n = Math.min(restLeft.length, restRight.length);
  const cut = (rest: CanonicalConversation[], otherPage: CanonicalConversation[]) =>
    otherPage.length >= r.limit ? rest.slice(0, n) : rest;
  return { kinds: byFrequency(kinds), rest: comparePages(cut(restLeft, r.right), cut(restRight, r.left)) };
}
