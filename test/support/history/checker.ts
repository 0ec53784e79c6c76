/**
 * The history checker: pure functions over a recorded history and the final state of both stores.
 * Each rule is its own function returning the violations it found (with the operations that show
 * them), so a hand-made history can prove it catches what it should (test/history-checker-logic.test.ts).
 *
 * The rules, for a service that keeps SPEC section 5:
 * - contents: every acknowledged write's unique text (an append's message, the API's or the legacy application's
 *   own straight to legacy, a create's first message)
 *   is in the final source of truth exactly once, in the conversation it was acknowledged for
 *   (`lost`, `duplicated`); an indeterminate one at most once; a failed one never, and nothing there
 *   was written by nobody (`phantoms`); acknowledged appends sit in the order of their versions.
 * - forks: no version is acknowledged to two different operations on one conversation.
 * - real time: a write acknowledged after another one to the same conversation completed has a
 *   higher version.
 * - reads: a read invoked after a write was acknowledged returns at least its version (`staleReads`)
 *   and holds every acknowledged append (`readsMissingAcknowledged`); nor does it return less than an
 *   earlier completed read (`nonMonotonicReads`).
 * - versions: each write moves a version by exactly one, so a conversation created in the history ends
 *   at 1 + (writes that took effect): between 1 + acknowledged and 1 + acknowledged + indeterminate.
 * - idempotency: every acknowledged attempt of one keyed request (retries, re-submissions through
 *   another replica) names the same conversation and version.
 * - listings (every page of one owner's conversations): a listing holds every conversation of that owner whose
 *   creation was acknowledged before it was invoked and that no delete may have removed by its end (`listMissing`),
 *   none that a delete had removed before it was invoked (`afterDelete`), and each at least at the version
 *   acknowledged before it was invoked (`staleRead`).
 * - deletes (soft: a write like the others, the version + 1): once a delete is known to have taken effect (its
 *   acknowledgement, or a 404 read while it was under way), an operation invoked later finds the conversation gone,
 *   a read 404 and a write not acknowledged (`afterDelete`); the source of truth ends with it deleted after an
 *   acknowledged delete (`resurrected` otherwise), and not deleted when no delete of it may have taken effect
 *   (`phantom`).
 * - stores: after the final verification both stores hold the same conversations, equal in canonical form.
 * - server errors: no request, a client's, an operator's flip or status read, is answered with a 5xx but 503 (a dependency that
 *   cannot be reached, with Retry-After): a 500 is a bug, whatever the faults (`serverErrors`).
 * Indeterminate operations never count against the service except where a correct service could not
 * produce what was observed either way.
 */
import type { FinalState, StoredConversation } from './final-state';
import type { FlipDirection, FlipRequest, History, HistoryOp, OperatorRead } from './history';
import { LEGACY_APPLICATION } from './history';

export type Rule =
  | 'lost'
  | 'duplicated'
  | 'phantom'
  | 'order'
  | 'fork'
  | 'realTime'
  | 'staleRead'
  | 'nonMonotonicRead'
  | 'readMissingAcknowledged'
  | 'versionCount'
  | 'idempotency'
  | 'position'
  | 'afterDelete'
  | 'resurrected'
  | 'listMissing'
  | 'storesDisagree'
  | 'serverError';

export interface Violation {
  rule: Rule;
  conversationId?: string;
  opIds: number[];
  detail: string;
}

const isWrite = (op: HistoryOp) => op.kind !== 'read' && op.kind !== 'list';
/** A write a client sent to the API during the run (not the set-up's, not the legacy application's own). */
const isApiWrite = (op: HistoryOp) => isWrite(op) && op.process !== 'setup' && op.process !== LEGACY_APPLICATION;
const hasVersion = (op: HistoryOp): op is HistoryOp & { version: number; conversationId: string } =>
  op.outcome === 'ok' && op.version !== undefined && op.conversationId !== undefined;

function byConversation(ops: HistoryOp[]): Map<string, HistoryOp[]> {
  const out = new Map<string, HistoryOp[]>();
  for (const op of ops) {
    if (op.conversationId === undefined) continue;
    const list = out.get(op.conversationId) ?? [];
    list.push(op);
    out.set(op.conversationId, list);
  }
  return out;
}

interface Place {
  id: string;
  position: number;
}

/** Where each message text sits in a store: every (conversation, position). */
export function contentIndex(store: Map<string, StoredConversation>): Map<string, Place[]> {
  const index = new Map<string, Place[]>();
  for (const c of store.values()) {
    c.messages.forEach((text, position) => {
      const list = index.get(text) ?? [];
      list.push({ id: c.id, position });
      index.set(text, list);
    });
  }
  return index;
}

/**
 * Contents of appends and creates against the source of truth. `scope` is the set of conversations
 * whose every message must come from this history (others may hold data of other runs).
 */
export function checkContents(ops: HistoryOp[], truth: Map<string, StoredConversation>, scope: Set<string>): Violation[] {
  const index = contentIndex(truth);
  const out: Violation[] = [];
  const known = new Set<string>();
  for (const op of ops) {
    if (op.content === undefined || (op.kind !== 'append' && op.kind !== 'create')) continue;
    known.add(op.content);
    const places = index.get(op.content) ?? [];
    const where = places.map((p) => `${p.id}[${p.position}]`).join(', ') || 'nowhere';
    const elsewhere = op.conversationId !== undefined && places.some((p) => p.id !== op.conversationId);
    if (op.outcome === 'ok') {
      if (places.length === 0)
        out.push({
          rule: 'lost',
          conversationId: op.conversationId,
          opIds: [op.opId],
          detail: `acknowledged ${op.kind} (version ${op.version}) "${op.content}" is not in the source of truth`,
        });
      else if (places.length > 1)
        out.push({
          rule: 'duplicated',
          conversationId: op.conversationId,
          opIds: [op.opId],
          detail: `acknowledged ${op.kind} "${op.content}" is there ${places.length} times: ${where}`,
        });
      else if (elsewhere)
        out.push({
          rule: 'lost',
          conversationId: op.conversationId,
          opIds: [op.opId],
          detail: `acknowledged ${op.kind} "${op.content}" for ${op.conversationId} is in ${where} instead`,
        });
      else out.push(...checkAnsweredPosition(op, places[0].position));
    } else if (op.outcome === 'info') {
      if (places.length > 1)
        out.push({
          rule: 'duplicated',
          conversationId: op.conversationId,
          opIds: [op.opId],
          detail: `indeterminate ${op.kind} "${op.content}" is there ${places.length} times: ${where}`,
        });
      else if (elsewhere)
        out.push({
          rule: 'phantom',
          conversationId: op.conversationId,
          opIds: [op.opId],
          detail: `indeterminate ${op.kind} "${op.content}" for ${op.conversationId} landed in ${where}`,
        });
    } else if (places.length > 0) {
      out.push({
        rule: 'phantom',
        conversationId: op.conversationId,
        opIds: [op.opId],
        detail: `failed ${op.kind} (HTTP ${op.status}) "${op.content}" is in the source of truth: ${where}`,
      });
    }
  }
  for (const id of scope) {
    const c = truth.get(id);
    if (!c) continue;
    for (const text of c.messages) {
      if (!known.has(text))
        out.push({
          rule: 'phantom',
          conversationId: id,
          opIds: [],
          detail: `message "${text.slice(0, 80)}" in ${id} was written by no operation of the history`,
        });
    }
  }
  // Acknowledged appends found once in their conversation sit in version order.
  for (const [id, list] of byConversation(ops)) {
    const placed = list
      .filter((op) => op.kind === 'append' && op.outcome === 'ok' && op.version !== undefined)
      .map((op) => ({ op, places: index.get(op.content!) ?? [] }))
      .filter(({ places }) => places.length === 1 && places[0].id === id)
      .sort((a, b) => a.op.version! - b.op.version!);
    for (let i = 1; i < placed.length; i++) {
      const [a, b] = [placed[i - 1], placed[i]];
      if (b.places[0].position <= a.places[0].position) {
        out.push({
          rule: 'order',
          conversationId: id,
          opIds: [a.op.opId, b.op.opId],
          detail: `version ${a.op.version} sits at ${a.places[0].position}, version ${b.op.version} at ${b.places[0].position}`,
        });
      }
    }
  }
  return out;
}

/** No version acknowledged to two different operations on one conversation. */
export function checkForks(ops: HistoryOp[]): Violation[] {
  const out: Violation[] = [];
  for (const [id, list] of byConversation(ops.filter((op) => isWrite(op) && hasVersion(op)))) {
    const byVersion = new Map<number, number[]>();
    for (const op of list) byVersion.set(op.version!, [...(byVersion.get(op.version!) ?? []), op.opId]);
    for (const [version, opIds] of byVersion) {
      if (opIds.length > 1)
        out.push({ rule: 'fork', conversationId: id, opIds, detail: `version ${version} acknowledged to ${opIds.length} operations` });
    }
  }
  return out;
}

/**
 * For each `later` operation, the highest version among `earlier` operations on the same conversation
 * that completed before it was invoked (-1 when none), with the operation that holds it.
 */
function floors(earlier: HistoryOp[], later: HistoryOp[]): Map<number, { version: number; opId: number }> {
  const result = new Map<number, { version: number; opId: number }>();
  const before = byConversation(earlier.filter(hasVersion));
  for (const [id, list] of byConversation(later)) {
    const done = (before.get(id) ?? []).slice().sort((a, b) => a.completeMs - b.completeMs);
    const invoked = list.slice().sort((a, b) => a.invokeMs - b.invokeMs);
    let i = 0;
    let best = { version: -1, opId: 0 };
    for (const op of invoked) {
      while (i < done.length && done[i].completeMs < op.invokeMs) {
        if (done[i].version! > best.version) best = { version: done[i].version!, opId: done[i].opId };
        i++;
      }
      result.set(op.opId, best);
    }
  }
  return result;
}

/** A write acknowledged after another acknowledged write to the same conversation completed has a higher version. */
export function checkRealTime(ops: HistoryOp[]): Violation[] {
  const writes = ops.filter((op) => isWrite(op) && hasVersion(op));
  const floor = floors(writes, writes);
  const out: Violation[] = [];
  for (const w of writes) {
    const f = floor.get(w.opId)!;
    if (w.version! <= f.version) {
      out.push({
        rule: 'realTime',
        conversationId: w.conversationId,
        opIds: [f.opId, w.opId],
        detail: `op ${w.opId} got version ${w.version} after op ${f.opId} had completed with version ${f.version}`,
      });
    }
  }
  return out;
}

/** Reads never go back: not below an acknowledged write, nor below an earlier read; and they hold every acknowledged append. */
export function checkReads(ops: HistoryOp[]): Violation[] {
  const reads = ops.filter((op) => op.kind === 'read' && op.outcome === 'ok' && op.version !== undefined);
  const writes = ops.filter((op) => isWrite(op) && hasVersion(op));
  const afterWrite = floors(writes, reads);
  const afterRead = floors(reads, reads);
  const out: Violation[] = [];
  const appends = byConversation(writes.filter((op) => op.kind === 'append' || op.kind === 'create'));
  const deletes = byConversation(ops.filter(mayDelete));
  for (const r of reads) {
    // A 404 once a delete was under way is the delete's to judge (checkDeletes), not a read that went back.
    if (r.version === 0 && (deletes.get(r.conversationId!) ?? []).some((d) => d.invokeMs < r.completeMs)) continue;
    const w = afterWrite.get(r.opId)!;
    if (r.version! < w.version) {
      out.push({
        rule: 'staleRead',
        conversationId: r.conversationId,
        opIds: [w.opId, r.opId],
        detail: `read ${r.opId} (replica ${r.replica}) returned version ${r.version} after op ${w.opId} acknowledged version ${w.version}`,
      });
    }
    const p = afterRead.get(r.opId)!;
    if (r.version! < p.version) {
      out.push({
        rule: 'nonMonotonicRead',
        conversationId: r.conversationId,
        opIds: [p.opId, r.opId],
        detail: `read ${r.opId} (replica ${r.replica}) returned version ${r.version} after read ${p.opId} had returned ${p.version}`,
      });
    }
    if (r.messages && r.version! > 0) {
      const seen = new Set(r.messages);
      const missing = (appends.get(r.conversationId!) ?? []).filter(
        (a) => a.completeMs < r.invokeMs && a.content !== undefined && !seen.has(a.content),
      );
      if (missing.length > 0) {
        out.push({
          rule: 'readMissingAcknowledged',
          conversationId: r.conversationId,
          opIds: [...missing.map((a) => a.opId), r.opId],
          detail: `read ${r.opId} (version ${r.version}) lacks ${missing.length} append(s) acknowledged before it, e.g. "${missing[0].content}"`,
        });
      }
    }
  }
  return out;
}

/**
 * Each write adds exactly one to the version, so a conversation created (and acknowledged) in this
 * history ends at 1 + the writes that took effect: all acknowledged ones, some indeterminate ones, no
 * failed one.
 */
export function checkVersionCounts(ops: HistoryOp[], truth: Map<string, StoredConversation>): Violation[] {
  const out: Violation[] = [];
  for (const [id, list] of byConversation(ops)) {
    if (!list.some((op) => op.kind === 'create' && op.outcome === 'ok')) continue;
    const changes = list.filter((op) => isWrite(op) && op.kind !== 'create');
    const acknowledged = changes.filter((op) => op.outcome === 'ok').length;
    const indeterminate = changes.filter((op) => op.outcome === 'info').length;
    const version = truth.get(id)?.version ?? 0;
    if (version < 1 + acknowledged) {
      out.push({
        rule: 'versionCount',
        conversationId: id,
        opIds: [],
        detail: `final version ${version} < 1 + ${acknowledged} acknowledged writes: ${1 + acknowledged - version} acknowledged write(s) did not take effect`,
      });
    } else if (version > 1 + acknowledged + indeterminate) {
      out.push({
        rule: 'versionCount',
        conversationId: id,
        opIds: [],
        detail: `final version ${version} > 1 + ${acknowledged} acknowledged + ${indeterminate} indeterminate writes: more writes took effect than were made (a failed one, or a keyed one twice)`,
      });
    }
  }
  return out;
}

/**
 * An acknowledged append's answers name where its message went (the whole conversation's last message, or a minimal
 * answer's `messageCount`): messages are never removed nor moved, so that is where the source of truth holds it.
 */
function checkAnsweredPosition(op: HistoryOp, position: number): Violation[] {
  if (op.kind !== 'append') return [];
  const named = [...new Set(op.attempts.flatMap((a) => (a.outcome === 'ok' && a.position !== undefined ? [a.position] : [])))];
  if (named.every((p) => p === position)) return [];
  return [
    {
      rule: 'position',
      conversationId: op.conversationId,
      opIds: [op.opId],
      detail: `acknowledged append "${op.content}" was answered at position ${named.join(' and ')} but is at ${position}`,
    },
  ];
}

/**
 * Every acknowledged attempt of one keyed request names the same conversation and version, and answers the same body
 * (its first response: a replay, or a retry that found its earlier attempt landed, gives it again whole).
 */
export function checkIdempotency(ops: HistoryOp[]): Violation[] {
  const out: Violation[] = [];
  for (const op of ops) {
    if (op.idempotencyKey === undefined) continue;
    const answers = op.attempts.filter((a) => a.outcome === 'ok');
    const distinct = new Set(answers.map((a) => `${a.id ?? op.conversationId}@${a.version}`));
    const bodies = new Set(answers.flatMap((a) => (a.bodyDigest === undefined ? [] : [a.bodyDigest])));
    if (distinct.size > 1 || bodies.size > 1) {
      out.push({
        rule: 'idempotency',
        conversationId: op.conversationId,
        opIds: [op.opId],
        detail:
          distinct.size > 1
            ? `key ${op.idempotencyKey} was answered with ${[...distinct].join(' and ')}`
            : `key ${op.idempotencyKey} was answered with ${bodies.size} different bodies for ${[...distinct][0]}`,
      });
    }
  }
  return out;
}

/** A delete that was acknowledged or may have been (indeterminate). */
const mayDelete = (op: HistoryOp) => op.kind === 'delete' && op.outcome !== 'fail';

/**
 * When a delete of the conversation is first known to have taken effect: its acknowledgement, or a read that answered
 * 404 while a delete was under way (it saw the delete committed). Infinity when neither happened.
 */
function goneAt(list: HistoryOp[]): { atMs: number; opId: number } {
  const deletes = list.filter(mayDelete);
  let gone = { atMs: Number.POSITIVE_INFINITY, opId: 0 };
  for (const op of list) {
    const saw =
      (op.kind === 'delete' && op.outcome === 'ok') ||
      (op.kind === 'read' && op.outcome === 'ok' && op.version === 0 && deletes.some((d) => d.invokeMs < op.completeMs));
    if (saw && op.completeMs < gone.atMs) gone = { atMs: op.completeMs, opId: op.opId };
  }
  return gone;
}

/** Deletes hold: nothing found or written after one took effect, and the source of truth ends as the deletes left it. */
export function checkDeletes(ops: HistoryOp[], truth: Map<string, StoredConversation>): Violation[] {
  const out: Violation[] = [];
  for (const [id, list] of byConversation(ops)) {
    const gone = goneAt(list);
    for (const op of list) {
      if (op.invokeMs <= gone.atMs || op.outcome !== 'ok' || (op.kind === 'read' && op.version === 0)) continue;
      out.push({
        rule: 'afterDelete',
        conversationId: id,
        opIds: [gone.opId, op.opId],
        detail:
          op.kind === 'read'
            ? `read ${op.opId} (replica ${op.replica}) returned version ${op.version} after op ${gone.opId} had seen it deleted`
            : `${op.kind} ${op.opId} (replica ${op.replica}) was acknowledged (version ${op.version}) after op ${gone.opId} had seen it deleted`,
      });
    }
    const final = truth.get(id);
    const acknowledged = list.find((op) => op.kind === 'delete' && op.outcome === 'ok');
    if (acknowledged && final && !final.deleted)
      out.push({
        rule: 'resurrected',
        conversationId: id,
        opIds: [acknowledged.opId],
        detail: `delete ${acknowledged.opId} was acknowledged (version ${acknowledged.version}) but the source of truth ends with ${id} not deleted (version ${final.version})`,
      });
    if (final?.deleted && !list.some(mayDelete))
      out.push({ rule: 'phantom', conversationId: id, opIds: [], detail: `${id} ends deleted, but no delete of it was made` });
  }
  return out;
}

/** Listings hold what was there, as it was: see the rules at the top. */
export function checkListings(ops: HistoryOp[]): Violation[] {
  const out: Violation[] = [];
  const conversations = byConversation(ops);
  const creates = ops.filter((op) => op.kind === 'create' && op.outcome === 'ok' && op.conversationId !== undefined);
  const writes = byConversation(ops.filter((op) => isWrite(op) && hasVersion(op)));
  const gones = new Map([...conversations].map(([id, list]) => [id, goneAt(list)]));
  for (const l of ops.filter((op) => op.kind === 'list' && op.outcome === 'ok' && op.listed !== undefined)) {
    const listed = new Map(l.listed!.map((c) => [c.id, c.version]));
    for (const c of creates.filter((op) => op.userId === l.userId && op.completeMs < l.invokeMs)) {
      const id = c.conversationId!;
      const list = conversations.get(id) ?? [];
      if (listed.has(id) || list.some((op) => mayDelete(op) && op.invokeMs < l.completeMs)) continue;
      out.push({
        rule: 'listMissing',
        conversationId: id,
        opIds: [c.opId, l.opId],
        detail: `listing ${l.opId} (replica ${l.replica}) of ${l.userId} lacks ${id}, created by op ${c.opId} before it`,
      });
    }
    for (const [id, version] of listed) {
      const gone = gones.get(id);
      if (gone && gone.atMs < l.invokeMs)
        out.push({
          rule: 'afterDelete',
          conversationId: id,
          opIds: [gone.opId, l.opId],
          detail: `listing ${l.opId} (replica ${l.replica}) holds ${id} at version ${version} after op ${gone.opId} had seen it deleted`,
        });
      const before = (writes.get(id) ?? []).filter((w) => w.completeMs < l.invokeMs);
      const floor = before.reduce((best, w) => (w.version! > best.version! ? w : best), before[0]);
      if (floor && version < floor.version!)
        out.push({
          rule: 'staleRead',
          conversationId: id,
          opIds: [floor.opId, l.opId],
          detail: `listing ${l.opId} (replica ${l.replica}) holds ${id} at version ${version} after op ${floor.opId} acknowledged version ${floor.version}`,
        });
    }
  }
  return out;
}

/** A 5xx but 503: the service failed, instead of refusing (4xx) or saying a dependency is out of reach (503). */
const isServerError = (status: number) => status >= 500 && status !== 503;

const answer = (a: { status: number; code?: string }) => (a.code ? `${a.status} ${a.code}` : String(a.status));

/** Every attempt of a client's operation, every flip request and operator read, answered with a server error (isServerError). */
export function checkServerErrors(ops: HistoryOp[], flips: FlipRequest[], operatorReads: OperatorRead[] = []): Violation[] {
  const out: Violation[] = [];
  for (const op of ops) {
    for (const a of op.attempts.filter((x) => isServerError(x.status))) {
      out.push({
        rule: 'serverError',
        conversationId: op.conversationId,
        opIds: [op.opId],
        detail: `${op.kind} answered ${answer(a)} by replica ${a.replica}`,
      });
    }
  }
  for (const f of flips.filter((x) => isServerError(x.status))) {
    out.push({
      rule: 'serverError',
      opIds: [],
      detail: `${f.direction} (flip ${f.flipId}) answered ${answer(f)} by replica ${f.replica}: ${f.message ?? ''}`.trim(),
    });
  }
  for (const r of operatorReads.filter((x) => isServerError(x.status))) {
    out.push({
      rule: 'serverError',
      opIds: [],
      detail: `operator's ${r.method ?? 'GET'} ${r.path} answered ${answer(r)} by replica ${r.replica}`,
    });
  }
  return out;
}

/** Both stores hold the same conversations, equal in canonical form. */
export function checkStoresAgree(final: FinalState): Violation[] {
  const { legacy, new: pg } = final.stores;
  const out: Violation[] = [];
  for (const [id, l] of legacy) {
    const n = pg.get(id);
    if (!n)
      out.push({
        rule: 'storesDisagree',
        conversationId: id,
        opIds: [],
        detail: `${id} is in legacy (version ${l.version}) but not in PostgreSQL`,
      });
    else if (n.canonical !== l.canonical)
      out.push({
        rule: 'storesDisagree',
        conversationId: id,
        opIds: [],
        detail: `${id} differs: legacy version ${l.version} (${l.messages.length} messages), PostgreSQL version ${n.version} (${n.messages.length} messages)`,
      });
  }
  for (const [id, n] of pg) {
    if (!legacy.has(id))
      out.push({
        rule: 'storesDisagree',
        conversationId: id,
        opIds: [],
        detail: `${id} is in PostgreSQL (version ${n.version}) but not in legacy`,
      });
  }
  for (const u of final.unreadableLegacy)
    out.push({ rule: 'storesDisagree', conversationId: u.id, opIds: [], detail: `legacy document ${u.id} is unreadable: ${u.reason}` });
  return out;
}

/** Nearest-rank percentile; 0 for no values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function latencyFigures(ops: HistoryOp[]): Figures['writeLatencyMs'] {
  const latencies = ops.map((op) => op.completeMs - op.invokeMs);
  return {
    p50: Math.round(percentile(latencies, 50)),
    p99: Math.round(percentile(latencies, 99)),
    max: Math.round(Math.max(0, ...latencies)),
  };
}

export interface FlipFigures {
  attempted: Record<FlipDirection, number>;
  succeeded: Record<FlipDirection, number>;
  /** Refusals by error code (e.g. ROLLBACK_NOT_PROVEN), counting requests. */
  refused: Record<string, number>;
  /** Writes whose interval overlaps a flip request that moved the source of truth. */
  writesAtFlips: number;
  writesAtFlipsNotAcknowledged: number;
  /** Of those, the writes with an attempt answered 5xx while such a flip was under way, by any cause (faults too). */
  writesAtFlips5xx: number;
  /**
   * Attempts answered 503 CUTOVER_IN_PROGRESS, anywhere in the run: writes a phase change held past WRITE_FENCE_WAIT_MS,
   * the one 5xx a flip itself gives (SPEC section 5: a write that meets a flip is never answered 5xx for it).
   */
  refusedForAFlip: number;
  longestWritePauseAtFlipMs: number;
  p99WritePauseAtFlipMs: number;
}

export function flipFigures(flips: FlipRequest[], ops: HistoryOp[]): FlipFigures {
  const logical = (direction: FlipDirection, onlyOk: boolean) =>
    new Set(flips.filter((f) => f.direction === direction && (!onlyOk || f.ok)).map((f) => f.flipId)).size;
  const refused: Record<string, number> = {};
  for (const f of flips.filter((x) => !x.ok)) {
    const key = f.code ?? `HTTP_${f.status}`;
    refused[key] = (refused[key] ?? 0) + 1;
  }
  const moved = flips.filter((f) => f.ok);
  // A move answered 202 went on until the operator saw it end: the writes it may have held are those up to then.
  const atFlips = ops.filter(
    (op) => isApiWrite(op) && moved.some((f) => op.invokeMs <= (f.acceptedUntilMs ?? f.completeMs) && op.completeMs >= f.invokeMs),
  );
  const during = (a: { invokeMs: number; completeMs: number }) =>
    moved.some((f) => a.invokeMs <= (f.acceptedUntilMs ?? f.completeMs) && a.completeMs >= f.invokeMs);
  const latencies = atFlips.map((op) => op.completeMs - op.invokeMs);
  return {
    attempted: { advance: logical('advance', false), rollback: logical('rollback', false) },
    succeeded: { advance: logical('advance', true), rollback: logical('rollback', true) },
    refused,
    writesAtFlips: atFlips.length,
    writesAtFlipsNotAcknowledged: atFlips.filter((op) => op.outcome !== 'ok').length,
    writesAtFlips5xx: atFlips.filter((op) => op.attempts.some((a) => a.status >= 500 && during(a))).length,
    refusedForAFlip: ops
      .filter(isApiWrite)
      .flatMap((op) => op.attempts)
      .filter((a) => a.status === 503 && a.code === 'CUTOVER_IN_PROGRESS').length,
    longestWritePauseAtFlipMs: Math.round(Math.max(0, ...latencies)),
    p99WritePauseAtFlipMs: Math.round(percentile(latencies, 99)),
  };
}

/** How many operations were acknowledged, indeterminate and failed. */
type Outcomes = { ok: number; info: number; fail: number };

function outcomes(ops: HistoryOp[], into: Outcomes = { ok: 0, info: 0, fail: 0 }): Outcomes {
  for (const op of ops) into[op.outcome]++;
  return into;
}

export interface Figures {
  operations: number;
  acknowledged: number;
  indeterminate: number;
  failed: number;
  byKind: Record<string, Outcomes>;
  lost: number;
  duplicated: number;
  phantoms: number;
  orderViolations: number;
  forks: number;
  realTimeViolations: number;
  staleReads: number;
  nonMonotonicReads: number;
  readsMissingAcknowledged: number;
  versionCountViolations: number;
  idempotencyViolations: number;
  /** Acknowledged appends not where their answer put them. */
  positionViolations: number;
  /** Found or written after a delete took effect. */
  afterDelete: number;
  /** Acknowledged deletes the source of truth does not hold at the end. */
  resurrected: number;
  /** Conversations a listing should have held and did not. */
  listMissing: number;
  storeDifferences: number;
  /** Requests (clients', flips, the operator's status reads) answered with a 5xx but 503. */
  serverErrors: number;
  conversationsWithLostWrites: number;
  /** Acknowledged writes' latency over the whole run (retries included), to read the pause at flips against. */
  writeLatencyMs: { p50: number; p99: number; max: number };
  /** The legacy application's own appends (straight to legacy; in `byKind` too). */
  legacyApplication: Outcomes;
  flips: FlipFigures;
}

export interface CheckResult {
  figures: Figures;
  /** Up to `examples` violations per rule, for the failure message. */
  examples: Partial<Record<Rule, Violation[]>>;
  violations: Violation[];
}

export function checkHistory(history: History, final: FinalState, examples = 5): CheckResult {
  const ops = history.ops;
  const truth = final.stores[final.sourceOfTruth];
  const scope = new Set(
    ops.filter((op) => op.kind === 'create' && op.outcome === 'ok' && op.conversationId).map((op) => op.conversationId!),
  );
  const violations = [
    ...checkContents(ops, truth, scope),
    ...checkForks(ops),
    ...checkRealTime(ops),
    ...checkReads(ops),
    ...checkVersionCounts(ops, truth),
    ...checkIdempotency(ops),
    ...checkDeletes(ops, truth),
    ...checkListings(ops),
    ...checkStoresAgree(final),
    ...checkServerErrors(ops, history.flips, history.operatorReads),
  ];
  const count = (rule: Rule) => violations.filter((v) => v.rule === rule).length;
  const byKind: Figures['byKind'] = {};
  for (const op of ops) byKind[op.kind] = outcomes([op], byKind[op.kind]);
  const grouped: CheckResult['examples'] = {};
  for (const v of violations) {
    const list = (grouped[v.rule] ??= []);
    if (list.length < examples) list.push(v);
  }
  return {
    figures: {
      operations: ops.length,
      acknowledged: ops.filter((op) => op.outcome === 'ok').length,
      indeterminate: ops.filter((op) => op.outcome === 'info').length,
      failed: ops.filter((op) => op.outcome === 'fail').length,
      byKind,
      lost: count('lost'),
      duplicated: count('duplicated'),
      phantoms: count('phantom'),
      orderViolations: count('order'),
      forks: count('fork'),
      realTimeViolations: count('realTime'),
      staleReads: count('staleRead'),
      nonMonotonicReads: count('nonMonotonicRead'),
      readsMissingAcknowledged: count('readMissingAcknowledged'),
      versionCountViolations: count('versionCount'),
      idempotencyViolations: count('idempotency'),
      positionViolations: count('position'),
      afterDelete: count('afterDelete'),
      resurrected: count('resurrected'),
      listMissing: count('listMissing'),
      storeDifferences: count('storesDisagree'),
      serverErrors: count('serverError'),
      conversationsWithLostWrites: new Set(
        violations
          .filter((v) => v.rule === 'lost' || (v.rule === 'versionCount' && v.detail.includes('did not take effect')))
          .map((v) => v.conversationId),
      ).size,
      writeLatencyMs: latencyFigures(ops.filter((op) => isApiWrite(op) && op.outcome === 'ok')),
      legacyApplication: outcomes(ops.filter((op) => op.process === LEGACY_APPLICATION)),
      flips: flipFigures(history.flips, ops),
    },
    examples: grouped,
    violations,
  };
}
