import { toLegacy } from '../../model/legacy-transform';
import { toRows } from '../../stores/postgres/pg-rows';
import { sampleConversation } from '../../model/testing/fixtures';
import { compareRange, compareRecord, INVALID_ROW_PATH, MAX_PATHS, rangeDigest, UNREADABLE_PATH } from './compare';
import { newRecord } from '../row-record';
import { legacyRecord, recordOf } from './verify-record';

const id = (n: number) => n.toString(16).padStart(24, '0');
const conv = (n: number, overrides = {}) => sampleConversation({ id: id(n), ...overrides });

describe('verify records', () => {
  it('gives the same hash to a legacy document and the PostgreSQL rows of one conversation', () => {
    const c = conv(1, { deleted: true });
    const legacy = legacyRecord(c.id, toLegacy(c));
    const { conversation, messages } = toRows(c);
    const rows = newRecord(conversation, [...messages].reverse());
    expect(legacy.problem).toBeUndefined();
    expect(rows.hash).toBe(legacy.hash);
    expect(rows.deleted).toBe(true);
  });

  it('turns an unreadable document or invalid rows into a record with the reason, not an exception', () => {
    const legacy = legacyRecord(id(2), { _id: id(2), title: 'no user', created: new Date(0), v: 4 });
    expect(legacy.problem).toMatch(/user_id/);
    expect(legacy.version).toBe(4);
    const { conversation, messages } = toRows(conv(2));
    const rows = newRecord(conversation, messages.slice(1));
    expect(rows.problem).toMatch(/message_count/);
    expect(rows.hash).not.toBe(legacy.hash);
  });
});

describe('compareRecord', () => {
  const base = recordOf(conv(1));

  it('finds nothing when equal or absent on both sides', () => {
    expect(compareRecord(base.id, base, recordOf(conv(1)))).toBeNull();
    expect(compareRecord(base.id, undefined, undefined)).toBeNull();
  });

  it('classifies missing, extra and different with the differing paths', () => {
    expect(compareRecord(base.id, base, undefined)).toMatchObject({ kind: 'missing', paths: [], legacyVersion: 3, newVersion: null });
    expect(compareRecord(base.id, undefined, base)).toMatchObject({ kind: 'extra', paths: [], legacyVersion: null, newVersion: 3 });
    const c = conv(1);
    c.title = 'other';
    c.messages[1] = { ...c.messages[1], content: 'changed' };
    c.metadata = { ...c.metadata, source: 'app' };
    c.deleted = true;
    const f = compareRecord(base.id, base, recordOf(c));
    expect(f).toMatchObject({ kind: 'different', reason: null });
    expect(f!.paths.sort()).toEqual(['deleted', 'messages[1].content', 'metadata.source', 'title']);
  });

  it('names message order and count changes', () => {
    const c = conv(1);
    c.messages = [c.messages[1], c.messages[0]];
    const swapped = compareRecord(base.id, base, recordOf(c))!;
    expect(swapped.paths).toEqual(expect.arrayContaining(['messages[0].content', 'messages[1].content']));
    const shorter = compareRecord(base.id, base, recordOf(conv(1, { messages: [] })))!;
    expect(shorter.paths).toContain('messages.length');
  });

  it('reports an unreadable legacy document as different, with its reason', () => {
    const broken = legacyRecord(base.id, { _id: base.id, created: 'yesterday', user_id: 'u' });
    expect(compareRecord(base.id, broken, base)).toMatchObject({ kind: 'different', paths: [UNREADABLE_PATH], legacyUnreadable: true });
    expect(compareRecord(base.id, broken, undefined)).toMatchObject({ kind: 'different', paths: [UNREADABLE_PATH] });
    const { conversation } = toRows(conv(1));
    expect(compareRecord(base.id, base, newRecord(conversation, []))).toMatchObject({ kind: 'different', paths: [INVALID_ROW_PATH] });
  });

  it('leaves the paths to the recheck when the walk kept hashes only', () => {
    const hashOnly = (c: ReturnType<typeof conv>) => recordOf(c, false);
    expect(hashOnly(conv(1)).canonical).toBeUndefined();
    expect(compareRecord(base.id, hashOnly(conv(1)), hashOnly(conv(1)))).toBeNull();
    expect(compareRecord(base.id, hashOnly(conv(1)), hashOnly(conv(1, { title: 'x' })))).toMatchObject({ kind: 'different', paths: [] });
  });

  it('bounds the listed paths', () => {
    const many = (text: string) =>
      Array.from({ length: MAX_PATHS + 10 }, () => ({ role: 'user' as const, content: text, createdAt: new Date(0) }));
    const f = compareRecord(base.id, recordOf(conv(1, { messages: many('a') })), recordOf(conv(1, { messages: many('b') })))!;
    expect(f.paths).toHaveLength(MAX_PATHS);
    expect(f.reason).toBe('10 more differing paths not listed');
  });
});

describe('compareRange', () => {
  const range = (ns: number[]) => ns.map((n) => recordOf(conv(n)));

  it('skips record comparison when the digests agree', () => {
    const result = compareRange(range([1, 2, 3]), range([1, 2, 3]));
    expect(result).toEqual({ compared: 3, digestsDiffer: false, findings: [] });
    expect(rangeDigest(range([1, 2]))).not.toBe(rangeDigest(range([1, 3])));
  });

  it('merges both sides by id and finds each kind once', () => {
    const legacy = range([1, 2, 4, 6]);
    const next = range([2, 3, 4, 5]);
    next[2] = recordOf(conv(4, { title: 'changed' }));
    const result = compareRange(legacy, next);
    expect(result.compared).toBe(6);
    expect(result.digestsDiffer).toBe(true);
    expect(result.findings.map((f) => [parseInt(f.id, 16), f.kind])).toEqual([
      [1, 'missing'],
      [3, 'extra'],
      [4, 'different'],
      [5, 'extra'],
      [6, 'missing'],
    ]);
  });
});
