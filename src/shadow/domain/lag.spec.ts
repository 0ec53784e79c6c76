import { canonical, CanonicalConversation } from '../../model/canonical';
import type { Conversation } from '../../model/conversation.model';
import { behindSide, CopyState, explainLag, lagOf } from './lag';

const at = (s: string) => new Date(`2024-01-01T${s}Z`);
const id = (n: number) => n.toString(16).padStart(24, '0');

function conv(n: number, over: Partial<Conversation> = {}): CanonicalConversation {
  return canonical({
    id: id(n),
    userId: 'u',
    title: `t${n}`,
    messages: [],
    metadata: {},
    createdAt: at('00:00:00'),
    updatedAt: at('00:00:00'),
    version: 1,
    deleted: false,
    ...over,
  });
}

const state = (over: Partial<CopyState> = {}): CopyState => ({
  notCopied: new Set(),
  insertsPending: new Set(),
  changesAppliedBefore: at('12:00:00').getTime(),
  followUps: new Map(),
  ...over,
});

describe('lag with a cause', () => {
  it('finds the side that is behind: absent or at a lower version', () => {
    expect(behindSide({ id: id(1), legacy: conv(1), new: null })).toBe('new');
    expect(behindSide({ id: id(1), legacy: null, new: conv(1) })).toBe('legacy');
    expect(behindSide({ id: id(1), legacy: conv(1, { version: 3 }), new: conv(1, { version: 2 }) })).toBe('new');
    expect(behindSide({ id: id(1), legacy: conv(1, { version: 3 }), new: conv(1, { version: 3, title: 'x' }) })).toBeNull();
  });

  it('names each kind, and nothing for a new store behind without a cause or a legacy behind without a follow-up', () => {
    const missing = { id: id(1), legacy: conv(1), new: null };
    expect(lagOf(missing, state({ notCopied: new Set([id(1)]) }))).toBe('not_copied');
    expect(lagOf(missing, state({ insertsPending: new Set([id(1)]) }))).toBe('not_caught_up');
    expect(lagOf(missing, state())).toBeNull();
    const changed = { id: id(1), legacy: conv(1, { version: 2, updatedAt: at('12:00:01') }), new: conv(1) };
    expect(lagOf(changed, state())).toBe('not_caught_up');
    expect(lagOf(changed, state({ changesAppliedBefore: at('12:00:02').getTime() }))).toBeNull();
    expect(lagOf(changed, state({ changesAppliedBefore: null }))).toBe('not_caught_up');
    const legacyBehind = { id: id(1), legacy: conv(1), new: conv(1, { version: 2 }) };
    expect(lagOf(legacyBehind, state({ followUps: new Map([[id(1), ['new' as const]]]) }))).toBe('follow_up');
    // A follow-up the other way does not explain it, nor does the backfill (it copies into the new store only).
    expect(lagOf(legacyBehind, state({ followUps: new Map([[id(1), ['legacy' as const]]]), notCopied: new Set([id(1)]) }))).toBeNull();
  });

  it('takes explained conversations out of both pages and compares the rest, a full page cut where it must be', () => {
    const stores = ['legacy', 'new'] as const;
    // Legacy's page of 3 holds 2, which the backfill has not copied: the new store's page shows 4 in its place.
    const legacy = [conv(1), conv(2), conv(3)];
    const newer = [conv(1), conv(3), conv(4)];
    const notCopied = state({ notCopied: new Set([id(2)]) });
    const explained = explainLag({ endpoint: 'list', limit: 3, stores, left: legacy, right: newer }, notCopied);
    expect(explained.kinds).toEqual(['not_copied']);
    expect(explained.rest.differences).toEqual([]);
    // The same pages with room to spare: 4 is not on legacy's page because legacy has no 4.
    const roomy = explainLag({ endpoint: 'list', limit: 10, stores, left: legacy, right: newer }, notCopied);
    expect(roomy.rest.differences.map((d) => d.path)).toEqual(['items.length', 'items[2]']);
    // A real difference beside a lagging one is still there.
    const planted = explainLag(
      { endpoint: 'list', limit: 3, stores, left: legacy, right: [conv(1), conv(3, { title: 'planted' }), conv(4)] },
      notCopied,
    );
    expect(planted.rest.differences.map((d) => d.path)).toEqual(['items[1].title']);
  });

  it('explains a single record whole or not at all', () => {
    const r = { endpoint: 'get' as const, id: id(1), stores: ['new', 'legacy'] as const, left: conv(1, { version: 2 }), right: conv(1) };
    expect(explainLag(r, state({ followUps: new Map([[id(1), ['new' as const]]]) }))).toEqual({
      kinds: ['follow_up'],
      rest: { differences: [], versionsDiffer: false, leftVersion: null, rightVersion: null },
    });
    expect(explainLag(r, state()).rest.differences.map((d) => d.path)).toEqual(['version']);
  });
});
