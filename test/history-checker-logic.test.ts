/**
 * The history checker's rules on hand-made histories: each rule flags the history that breaks it and
 * stays quiet on the nearest one that does not (concurrent operations, indeterminate outcomes,
 * idempotent replays), so a clean run of test/history-checker.test.ts means something.
 * Pure logic: no server is involved.
 */
import {
  checkContents,
  checkDeletes,
  checkForks,
  checkHistory,
  checkListings,
  checkIdempotency,
  checkReads,
  checkRealTime,
  checkServerErrors,
  checkStoresAgree,
  checkVersionCounts,
  flipFigures,
  percentile,
  Rule,
  Violation,
} from './support/history/checker';
import type { FinalState, StoredConversation } from './support/history/final-state';
import {
  Attempt,
  decide,
  FlipRequest,
  HistoryOp,
  LEGACY_APPLICATION,
  LEGACY_APPLICATION_REPLICA,
  OpKind,
  Outcome,
} from './support/history/history';
import { digest, outcomeOf } from './support/history/http';

const A = 'a'.repeat(24);
const B = 'b'.repeat(24);
let nextId = 1;

/** An operation with one attempt; `at` is [invoke, complete]. */
function op(kind: OpKind, outcome: Outcome, at: [number, number], fields: Partial<HistoryOp> = {}): HistoryOp {
  const attempt: Attempt = {
    replica: 0,
    invokeMs: at[0],
    completeMs: at[1],
    outcome,
    status: outcome === 'ok' ? 200 : outcome === 'fail' ? 409 : 0,
    version: fields.version,
  };
  return {
    opId: nextId++,
    process: 'c0',
    kind,
    conversationId: A,
    replica: 0,
    invokeMs: at[0],
    completeMs: at[1],
    outcome,
    status: attempt.status,
    attempts: [attempt],
    ...fields,
  };
}

const create = (id: string, content: string, at: [number, number] = [0, 1], fields: Partial<HistoryOp> = {}) =>
  op('create', 'ok', at, { conversationId: id, content, version: 1, idempotencyKey: `k-${content}`, ...fields });
const append = (outcome: Outcome, content: string, version: number | undefined, at: [number, number], fields: Partial<HistoryOp> = {}) =>
  op('append', outcome, at, { content, version: outcome === 'ok' ? version : undefined, ...fields });
const read = (version: number, at: [number, number], messages?: string[], fields: Partial<HistoryOp> = {}) =>
  op('read', 'ok', at, { version, messages, ...fields });

function conv(id: string, messages: string[], version = 1 + Math.max(0, messages.length - 1)): StoredConversation {
  return { id, version, deleted: false, title: null, messages, canonical: JSON.stringify({ id, version, messages }) };
}

const store = (...cs: StoredConversation[]) => new Map(cs.map((c) => [c.id, c]));
const rules = (vs: Violation[]) => vs.map((v) => v.rule).sort();

describe('contents: every acknowledged write exactly once in the source of truth', () => {
  const scope = new Set([A]);

  it('flags an acknowledged append that is not there (lost), and not one that is', () => {
    const ops = [create(A, 'init'), append('ok', 'x', 2, [2, 3])];
    expect(rules(checkContents(ops, store(conv(A, ['init'])), scope))).toEqual(['lost']);
    expect(checkContents(ops, store(conv(A, ['init', 'x'])), scope)).toEqual([]);
  });

  it('flags an acknowledged append that is not where its answer put it (minimal or whole answer)', () => {
    const minimal = append('ok', 'x', 2, [2, 3]);
    minimal.attempts[0].position = 1;
    expect(checkContents([create(A, 'init'), minimal], store(conv(A, ['init', 'x'])), scope)).toEqual([]);
    expect(rules(checkContents([create(A, 'init'), minimal], store(conv(A, ['x', 'init'])), scope))).toEqual(['position']);
    const replayed = append('ok', 'y', 3, [4, 5]);
    replayed.attempts.push({ ...replayed.attempts[0], position: 2, replayed: true }, { ...replayed.attempts[0], position: 3 });
    expect(rules(checkContents([create(A, 'init'), minimal, replayed], store(conv(A, ['init', 'x', 'y'])), scope))).toEqual(['position']);
  });

  it('flags an acknowledged append found in another conversation than the one acknowledged', () => {
    const ops = [create(A, 'init-a'), create(B, 'init-b'), append('ok', 'x', 2, [2, 3])];
    expect(rules(checkContents(ops, store(conv(A, ['init-a']), conv(B, ['init-b', 'x'])), new Set([A, B])))).toEqual(['lost']);
  });

  it('flags an acknowledged or indeterminate append that is there twice (duplicated)', () => {
    const twice = store(conv(A, ['init', 'x', 'x']));
    expect(rules(checkContents([create(A, 'init'), append('ok', 'x', 2, [2, 3])], twice, scope))).toEqual(['duplicated']);
    expect(rules(checkContents([create(A, 'init'), append('info', 'x', undefined, [2, 3])], twice, scope))).toEqual(['duplicated']);
  });

  it('accepts an indeterminate append present once or not at all', () => {
    const ops = [create(A, 'init'), append('info', 'x', undefined, [2, 3])];
    expect(checkContents(ops, store(conv(A, ['init', 'x'])), scope)).toEqual([]);
    expect(checkContents(ops, store(conv(A, ['init'])), scope)).toEqual([]);
  });

  it('flags a failed append that took effect, and a message nobody wrote (phantoms)', () => {
    expect(rules(checkContents([create(A, 'init'), append('fail', 'x', undefined, [2, 3])], store(conv(A, ['init', 'x'])), scope))).toEqual(
      ['phantom'],
    );
    expect(rules(checkContents([create(A, 'init')], store(conv(A, ['init', 'from nowhere'])), scope))).toEqual(['phantom']);
    // Outside the history's conversations, other data is none of its business.
    expect(checkContents([create(A, 'init')], store(conv(A, ['init']), conv(B, ['other run'])), scope)).toEqual([]);
  });

  it('flags acknowledged appends stored out of their version order', () => {
    const ops = [create(A, 'init'), append('ok', 'x', 2, [2, 3]), append('ok', 'y', 3, [4, 5])];
    expect(rules(checkContents(ops, store(conv(A, ['init', 'y', 'x'])), scope))).toEqual(['order']);
    expect(checkContents(ops, store(conv(A, ['init', 'x', 'y'])), scope)).toEqual([]);
  });

  it('checks creates by their unique first message: lost, or left twice by a retried key', () => {
    const ops = [create(A, 'init'), create(B, 'made')];
    expect(rules(checkContents(ops, store(conv(A, ['init'])), scope))).toEqual(['lost']);
    const C = 'c'.repeat(24);
    expect(rules(checkContents(ops, store(conv(A, ['init']), conv(B, ['made']), conv(C, ['made'])), scope))).toEqual(['duplicated']);
  });
});

describe('forks: one version, one operation', () => {
  it('flags two operations acknowledged with the same version of one conversation', () => {
    const [w1, w2] = [append('ok', 'x', 2, [2, 5]), append('ok', 'y', 2, [3, 6])];
    const forks = checkForks([create(A, 'init'), w1, w2]);
    expect(forks).toEqual([expect.objectContaining({ rule: 'fork', conversationId: A, opIds: [w1.opId, w2.opId] })]);
  });

  it('does not count one operation twice (a replayed retry), nor equal versions of different conversations', () => {
    const w = append('ok', 'x', 2, [2, 5], { idempotencyKey: 'k' });
    w.attempts.push({ ...w.attempts[0], invokeMs: 6, completeMs: 7, replayed: true, resubmit: true });
    expect(checkForks([create(A, 'init'), create(B, 'init-b'), w, append('ok', 'y', 2, [2, 5], { conversationId: B })])).toEqual([]);
  });
});

describe('real-time order', () => {
  it('flags a write acknowledged with a version no higher than one that completed before it was invoked', () => {
    const w1 = append('ok', 'x', 3, [2, 4]);
    const w2 = append('ok', 'y', 3, [5, 6]);
    const w3 = op('patch', 'ok', [7, 8], { version: 2 });
    expect(checkRealTime([w1, w2, w3]).map((v) => v.opIds)).toEqual([
      [w1.opId, w2.opId],
      [w1.opId, w3.opId],
    ]);
  });

  it('allows any order between overlapping writes', () => {
    expect(checkRealTime([append('ok', 'x', 3, [2, 6]), append('ok', 'y', 2, [3, 7])])).toEqual([]);
  });

  it('ignores indeterminate and failed writes', () => {
    expect(checkRealTime([append('ok', 'x', 3, [2, 4]), append('info', 'y', undefined, [5, 6]), op('patch', 'fail', [7, 8])])).toEqual([]);
  });
});

describe('reads', () => {
  it('flags a read invoked after an acknowledged write that returns an older version (stale read)', () => {
    const w = append('ok', 'x', 5, [2, 4]);
    const r = read(4, [5, 6]);
    expect(checkReads([w, r])).toEqual([expect.objectContaining({ rule: 'staleRead', opIds: [w.opId, r.opId] })]);
  });

  it('allows a read concurrent with the write to return the older version', () => {
    expect(checkReads([append('ok', 'x', 5, [2, 4]), read(4, [3, 6])])).toEqual([]);
  });

  it('counts a 404 (version 0) after an acknowledged create as stale', () => {
    expect(rules(checkReads([create(A, 'init', [0, 1]), read(0, [2, 3], [])]))).toEqual(['staleRead']);
  });

  it('flags a read that goes back behind an earlier completed read', () => {
    const r1 = read(7, [1, 2]);
    const r2 = read(6, [3, 4]);
    expect(checkReads([r1, r2])).toEqual([expect.objectContaining({ rule: 'nonMonotonicRead', opIds: [r1.opId, r2.opId] })]);
    expect(checkReads([read(7, [1, 4]), read(6, [3, 5])])).toEqual([]);
  });

  it('flags a read that lacks an append acknowledged before it was invoked, even at a high enough version', () => {
    const ops = [create(A, 'init', [0, 1]), append('ok', 'x', 2, [2, 3]), append('ok', 'y', 3, [2, 4]), read(3, [5, 6], ['init', 'y'])];
    expect(rules(checkReads(ops))).toEqual(['readMissingAcknowledged']);
    expect(checkReads([...ops.slice(0, 3), read(3, [5, 6], ['init', 'x', 'y'])])).toEqual([]);
  });
});

describe('version counts: each write adds exactly one', () => {
  const ops = [
    create(A, 'init'),
    append('ok', 'x', 2, [2, 3]),
    op('patch', 'ok', [4, 5], { version: 3 }),
    append('info', 'y', undefined, [6, 7]),
    op('patch', 'fail', [8, 9]),
  ];

  it('accepts a final version between 1 + acknowledged and 1 + acknowledged + indeterminate', () => {
    expect(checkVersionCounts(ops, store(conv(A, ['init', 'x'], 3)))).toEqual([]);
    expect(checkVersionCounts(ops, store(conv(A, ['init', 'x', 'y'], 4)))).toEqual([]);
  });

  it('flags fewer versions than acknowledged writes (an acknowledged patch lost to a race) and more than could have happened', () => {
    expect(checkVersionCounts(ops, store(conv(A, ['init', 'x'], 2)))).toEqual([
      expect.objectContaining({ rule: 'versionCount', detail: expect.stringContaining('did not take effect') }),
    ]);
    expect(checkVersionCounts(ops, store(conv(A, ['init', 'x', 'y'], 5)))).toEqual([
      expect.objectContaining({ rule: 'versionCount', detail: expect.stringContaining('more writes took effect than were made') }),
    ]);
  });

  it('flags a conversation whose acknowledged creation is gone', () => {
    expect(rules(checkVersionCounts([create(A, 'init')], store()))).toEqual(['versionCount']);
  });
});

describe('idempotency keys', () => {
  it('flags a keyed create answered with two different conversations', () => {
    const c = create(A, 'made');
    c.attempts.push({ replica: 1, invokeMs: 3, completeMs: 4, outcome: 'ok', status: 201, id: B, version: 1, resubmit: true });
    c.attempts[0].id = A;
    expect(rules(checkIdempotency([c]))).toEqual(['idempotency']);
  });

  it('flags a keyed append answered with two versions, and accepts a replay of the same one', () => {
    const w = append('ok', 'x', 4, [1, 2], { idempotencyKey: 'k' });
    w.attempts.push({ replica: 2, invokeMs: 3, completeMs: 4, outcome: 'ok', status: 201, version: 4, replayed: true, resubmit: true });
    expect(checkIdempotency([w])).toEqual([]);
    w.attempts.push({ replica: 1, invokeMs: 5, completeMs: 6, outcome: 'ok', status: 201, version: 7, resubmit: true });
    expect(rules(checkIdempotency([w]))).toEqual(['idempotency']);
  });

  it('flags a keyed append whose replay answers another body for the same version, whatever order its keys come in', () => {
    const body = { id: A, version: 4, title: 't', metadata: { a: 1, b: { c: [1, 2] } }, messages: [{ role: 'user', content: 'x' }] };
    const reordered = { messages: [{ content: 'x', role: 'user' }], metadata: { b: { c: [1, 2] }, a: 1 }, title: 't', version: 4, id: A };
    const w = append('ok', 'x', 4, [1, 2], { idempotencyKey: 'k' });
    w.attempts[0].bodyDigest = digest(body);
    w.attempts.push({ replica: 2, invokeMs: 3, completeMs: 4, outcome: 'ok', status: 201, version: 4, bodyDigest: digest(reordered) });
    expect(checkIdempotency([w])).toEqual([]);
    const later = { ...body, title: 'changed later' };
    w.attempts.push({ replica: 1, invokeMs: 5, completeMs: 6, outcome: 'ok', status: 201, version: 4, bodyDigest: digest(later) });
    expect(checkIdempotency([w])).toEqual([
      expect.objectContaining({ rule: 'idempotency', detail: expect.stringContaining('2 different bodies') }),
    ]);
  });
});

describe('deletes', () => {
  const del = (outcome: Outcome, version: number | undefined, at: [number, number]) =>
    op('delete', outcome, at, { version: outcome === 'ok' ? version : undefined });
  const deleted = (c: StoredConversation) => ({ ...c, deleted: true });

  it('flags a read that finds the conversation, and a write acknowledged, after an acknowledged delete', () => {
    const ops = [create(A, 'init'), del('ok', 2, [2, 3]), read(2, [4, 5], ['init']), append('ok', 'late', 3, [4, 6])];
    expect(rules(checkDeletes(ops, store(deleted(conv(A, ['init', 'late'], 3)))))).toEqual(['afterDelete', 'afterDelete']);
  });

  it('takes a 404 read during a delete as the delete seen: a later read may not find it again', () => {
    const during = read(0, [2, 3], []);
    const ops = [create(A, 'init'), del('info', undefined, [2, 9]), during, read(2, [4, 5], ['init'])];
    expect(checkDeletes(ops, store(deleted(conv(A, ['init'], 2))))).toEqual([
      expect.objectContaining({ rule: 'afterDelete', opIds: [during.opId, ops[3].opId] }),
    ]);
    // The 404 itself is no stale read: a delete was under way.
    expect(checkReads(ops.slice(0, 3))).toEqual([]);
  });

  it('accepts what overlaps the delete, and 404s and refused writes after it', () => {
    const ops = [
      create(A, 'init'),
      append('ok', 'x', 2, [1, 5]),
      del('ok', 3, [2, 4]),
      read(0, [6, 7], []),
      append('fail', 'refused', undefined, [6, 7]),
    ];
    expect(checkDeletes(ops, store(deleted(conv(A, ['init', 'x'], 3))))).toEqual([]);
    expect(checkReads(ops)).toEqual([]);
    expect(checkVersionCounts(ops, store(deleted(conv(A, ['init', 'x'], 3))))).toEqual([]);
  });

  it('flags an acknowledged delete the source of truth does not hold (resurrected), and a deletion nobody made', () => {
    expect(rules(checkDeletes([create(A, 'init'), del('ok', 2, [2, 3])], store(conv(A, ['init'], 2))))).toEqual(['resurrected']);
    expect(rules(checkDeletes([create(A, 'init')], store(deleted(conv(A, ['init'], 2)))))).toEqual(['phantom']);
    // An indeterminate delete may or may not have taken effect.
    expect(checkDeletes([create(A, 'init'), del('info', undefined, [2, 3])], store(conv(A, ['init'], 1)))).toEqual([]);
    expect(checkDeletes([create(A, 'init'), del('info', undefined, [2, 3])], store(deleted(conv(A, ['init'], 2))))).toEqual([]);
  });
});

describe('listings', () => {
  const U = 'owner';
  const made = (id: string, at: [number, number]) => create(id, `init-${id}`, at, { userId: U });
  const listing = (listed: Array<[string, number]>, at: [number, number]) =>
    op('list', 'ok', at, { conversationId: undefined, userId: U, listed: listed.map(([id, version]) => ({ id, version })) });

  it('flags a conversation created before the listing that it lacks, and not one created during it', () => {
    const ops = [made(A, [0, 1]), made(B, [3, 6]), listing([], [2, 5])];
    expect(checkListings(ops)).toEqual([expect.objectContaining({ rule: 'listMissing', conversationId: A })]);
    expect(checkListings([made(A, [0, 1]), listing([[A, 1]], [2, 5])])).toEqual([]);
  });

  it('excuses a conversation a delete may have removed by its end, and flags one deleted before it began', () => {
    const deleting = op('delete', 'info', [3, 9], { conversationId: A });
    expect(checkListings([made(A, [0, 1]), deleting, listing([], [2, 5])])).toEqual([]);
    const deleted = op('delete', 'ok', [2, 3], { conversationId: A, version: 2 });
    expect(rules(checkListings([made(A, [0, 1]), deleted, listing([[A, 1]], [4, 5])]))).toEqual(['afterDelete', 'staleRead']);
  });

  it('flags a listed version below one acknowledged before the listing', () => {
    const ops = [made(A, [0, 1]), append('ok', 'x', 2, [1, 2]), listing([[A, 1]], [3, 4])];
    expect(checkListings(ops)).toEqual([expect.objectContaining({ rule: 'staleRead', opIds: [ops[1].opId, ops[2].opId] })]);
    expect(checkListings([...ops.slice(0, 2), listing([[A, 2]], [3, 4])])).toEqual([]);
  });
});

describe('stores agree after verification', () => {
  const final = (legacy: StoredConversation[], pg: StoredConversation[]): FinalState => ({
    phase: 'rollout',
    sourceOfTruth: 'legacy',
    stores: { legacy: store(...legacy), new: store(...pg) },
    unreadableLegacy: [],
  });

  it('flags missing, extra and different conversations', () => {
    expect(checkStoresAgree(final([conv(A, ['x'])], [conv(A, ['x'])]))).toEqual([]);
    expect(checkStoresAgree(final([conv(A, ['x'])], [])).map((v) => v.detail)).toEqual([expect.stringContaining('not in PostgreSQL')]);
    expect(checkStoresAgree(final([], [conv(A, ['x'])])).map((v) => v.detail)).toEqual([expect.stringContaining('not in legacy')]);
    expect(checkStoresAgree(final([conv(A, ['x'])], [conv(A, ['x', 'y'])])).map((v) => v.detail)).toEqual([
      expect.stringContaining('differs'),
    ]);
  });
});

describe('outcomes', () => {
  it('classifies responses: 2xx ok, 4xx and refused connections fail, 5xx and lost connections indeterminate', () => {
    expect([
      outcomeOf(201),
      outcomeOf(412),
      outcomeOf(503),
      outcomeOf(0, 'ECONNREFUSED'),
      outcomeOf(0, 'ECONNRESET'),
      outcomeOf(0, 'TIMEOUT'),
    ]).toEqual(['ok', 'fail', 'info', 'fail', 'info', 'info']);
  });

  it('decides an operation from its attempts: any acknowledgement wins, then any indeterminate one, re-submissions aside', () => {
    const a = (outcome: Outcome, resubmit = false): Attempt => ({ replica: 0, invokeMs: 0, completeMs: 1, outcome, status: 0, resubmit });
    expect(decide([a('info'), a('fail'), a('ok')]).outcome).toBe('ok');
    expect(decide([a('info'), a('fail')]).outcome).toBe('info');
    expect(decide([a('fail'), a('fail')]).outcome).toBe('fail');
    expect(decide([a('fail'), a('ok', true)]).outcome).toBe('fail');
  });
});

describe('flip figures', () => {
  const flip = (direction: 'advance' | 'rollback', flipId: number, at: [number, number], ok: boolean, code?: string): FlipRequest => ({
    direction,
    flipId,
    replica: 0,
    invokeMs: at[0],
    completeMs: at[1],
    status: ok ? 200 : 409,
    code,
    forced: false,
    ok,
  });

  it('counts logical flips per direction, refusals by code, and the writes that overlapped a flip that happened', () => {
    const flips = [
      flip('advance', 1, [10, 11], false, 'GATE_FAILED'),
      flip('advance', 1, [11, 20], true),
      flip('rollback', 2, [30, 40], false, 'ROLLBACK_NOT_PROVEN'),
      flip('rollback', 3, [50, 52], true),
    ];
    const ops = [
      append('ok', 'x', 2, [5, 12]),
      append('info', 'y', undefined, [19, 70]),
      append('ok', 'z', 3, [32, 35]),
      read(3, [10, 60]),
    ];
    const f = flipFigures(flips, ops);
    expect(f).toEqual({
      attempted: { advance: 1, rollback: 2 },
      succeeded: { advance: 1, rollback: 1 },
      refused: { GATE_FAILED: 1, ROLLBACK_NOT_PROVEN: 1 },
      writesAtFlips: 2,
      writesAtFlipsNotAcknowledged: 1,
      writesAtFlips5xx: 0,
      refusedForAFlip: 0,
      longestWritePauseAtFlipMs: 51,
      p99WritePauseAtFlipMs: 51,
    });
  });

  it("counts a 5xx at a flip only when that attempt met the flip, and every write a flip held past the fence's wait", () => {
    const attempt = (at: [number, number], status: number, code?: string): Attempt => ({
      replica: 0,
      invokeMs: at[0],
      completeMs: at[1],
      outcome: status < 300 ? 'ok' : 'info',
      status,
      code,
    });
    const retried = (at: [number, number], attempts: Attempt[]) => ({ ...append('ok', `r${at[0]}`, 2, at), attempts });
    const ops = [
      // Met the flip, then failed later, in a fault of its own: not the flip's.
      retried([15, 60], [attempt([15, 16], 201), attempt([58, 60], 503, 'STORE_UNAVAILABLE')]),
      // Answered 503 while the flip was under way (a fault at the same moment): counted at the flip.
      retried([12, 14], [attempt([12, 13], 503, 'STORE_UNAVAILABLE'), attempt([13, 14], 201)]),
      // Held by a phase change past the fence's wait, wherever it lies.
      retried([70, 80], [attempt([70, 75], 503, 'CUTOVER_IN_PROGRESS'), attempt([76, 80], 201)]),
    ];
    const f = flipFigures([flip('advance', 1, [11, 20], true)], ops);
    expect(f).toMatchObject({ writesAtFlips: 2, writesAtFlips5xx: 1, refusedForAFlip: 1 });
  });

  it('counts a flip answered 202 by how it ended, and the writes it held until the operator saw it end', () => {
    const accepted = (flipId: number, at: [number, number], until: number, ok: boolean): FlipRequest => ({
      ...flip('rollback', flipId, at, ok, ok ? undefined : 'ACCEPTED_THEN_FAILED'),
      status: 202,
      acceptedUntilMs: until,
    });
    const flips = [accepted(1, [10, 30], 45, true), accepted(2, [60, 80], 95, false)];
    const ops = [append('ok', 'x', 2, [40, 42]), append('ok', 'y', 3, [85, 86])];
    const f = flipFigures(flips, ops);
    expect(f).toMatchObject({
      attempted: { advance: 0, rollback: 2 },
      succeeded: { advance: 0, rollback: 1 },
      refused: { ACCEPTED_THEN_FAILED: 1 },
      writesAtFlips: 1,
      longestWritePauseAtFlipMs: 2,
    });
  });

  it("holds the legacy application's own appends to the same rules, and leaves them out of the API's figures", () => {
    const byLegacyApp = { process: LEGACY_APPLICATION, replica: LEGACY_APPLICATION_REPLICA };
    const ops = [
      create(A, 'init', [0, 1]),
      append('ok', 'x', 2, [2, 3]),
      // Straight to legacy just before a flip to the new store whose catch-up missed it: the API then acknowledged 3 again.
      append('ok', 'legacy', 3, [4, 6], byLegacyApp),
      append('ok', 'y', 3, [8, 9]),
    ];
    const c = conv(A, ['init', 'x', 'y'], 3);
    const final: FinalState = {
      phase: 'deprecation',
      sourceOfTruth: 'new',
      stores: { legacy: store(c), new: store(c) },
      unreadableLegacy: [],
    };
    const result = checkHistory({ ops, flips: [flip('advance', 1, [5, 7], true)], faults: [] }, final);
    expect(result.violations.map((v) => v.rule)).toEqual(expect.arrayContaining(['lost', 'fork', 'realTime']));
    expect(result.figures.legacyApplication).toEqual({ ok: 1, info: 0, fail: 0 });
    expect(result.figures.byKind.append).toEqual({ ok: 3, info: 0, fail: 0 });
    // Its write overlapped the flip, but the figures at flips are the API's writes.
    expect(result.figures.flips.writesAtFlips).toBe(0);
  });

  it('takes the nearest-rank percentile', () => {
    expect(percentile([], 99)).toBe(0);
    expect(percentile([5, 1, 3], 50)).toBe(3);
    expect(
      percentile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        99,
      ),
    ).toBe(99);
  });
});

describe('server errors', () => {
  const answered = (status: number, code?: string): HistoryOp => {
    const o = append('info', `s${status}`, undefined, [1, 2]);
    o.attempts = [{ ...o.attempts[0], status, code }];
    return { ...o, status };
  };
  const flipAnswered = (status: number, code: string): FlipRequest => ({
    direction: 'rollback',
    flipId: 9,
    replica: 2,
    invokeMs: 3,
    completeMs: 4,
    status,
    code,
    forced: false,
    ok: false,
    message: 'Internal server error',
  });

  it("flags a client's request, a flip and an operator's request answered with a 500, and not a 503, a 4xx or a lost connection", () => {
    const ops = [answered(500, 'INTERNAL_ERROR'), answered(503, 'STORE_UNAVAILABLE'), answered(409, 'VERSION_CONFLICT'), answered(0)];
    const flips = [flipAnswered(500, 'INTERNAL_ERROR'), flipAnswered(503, 'STORE_UNAVAILABLE'), flipAnswered(409, 'CUTOVER_TIMEOUT')];
    const reads = [
      ...[500, 503, 200].map((status) => ({ path: '/migration/status', replica: 1, invokeMs: 5, completeMs: 6, status })),
      ...[502, 409, 202, 0].map((status) => ({
        method: 'POST',
        path: '/migration/verify',
        replica: 2,
        invokeMs: 7,
        completeMs: 8,
        status,
      })),
    ];
    const found = checkServerErrors(ops, flips, reads);
    expect(found.map((v) => v.detail)).toEqual([
      'append answered 500 INTERNAL_ERROR by replica 0',
      'rollback (flip 9) answered 500 INTERNAL_ERROR by replica 2: Internal server error',
      "operator's GET /migration/status answered 500 by replica 1",
      "operator's POST /migration/verify answered 502 by replica 2",
    ]);
    expect(found[0].opIds).toEqual([ops[0].opId]);
    // A later attempt of the same operation that was acknowledged does not excuse the 500 before it.
    const retried = answered(500);
    retried.attempts.push({ ...retried.attempts[0], status: 200, outcome: 'ok', version: 2 });
    expect(rules(checkServerErrors([retried], []))).toEqual(['serverError']);
  });
});

describe('the whole check', () => {
  it('finds nothing in a correct history, and names each broken rule in a broken one', () => {
    const ops = [create(A, 'init', [0, 1]), append('ok', 'x', 2, [2, 3]), read(2, [4, 5], ['init', 'x'])];
    const agreed = (c: StoredConversation): FinalState => ({
      phase: 'rollout',
      sourceOfTruth: 'legacy',
      stores: { legacy: store(c), new: store(c) },
      unreadableLegacy: [],
    });
    const clean = checkHistory({ ops, flips: [], faults: [] }, agreed(conv(A, ['init', 'x'], 2)));
    expect(clean.violations).toEqual([]);
    expect(clean.figures).toMatchObject({ operations: 3, acknowledged: 3, lost: 0, forks: 0, staleReads: 0 });

    const broken = checkHistory({ ops: [...ops, append('ok', 'y', 2, [6, 7])], flips: [], faults: [] }, agreed(conv(A, ['init', 'x'], 2)));
    const found = new Set<Rule>(broken.violations.map((v) => v.rule));
    expect([...found].sort()).toEqual(['fork', 'lost', 'realTime', 'versionCount']);
    expect(broken.figures).toMatchObject({
      lost: 1,
      forks: 1,
      realTimeViolations: 1,
      versionCountViolations: 1,
      conversationsWithLostWrites: 1,
    });
  });
});
