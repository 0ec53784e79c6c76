import { Logger } from '@nestjs/common';
import { EnvReader } from '../config/env-reader';
import { readShadowConfig } from './shadow.config';
import { MetricsService } from '../common/metrics/metrics.service';
import { toDto } from '../conversations/conversation.dto';
import type { Conversation } from '../model/conversation.model';
import type { MigrationModeService } from '../mode/migration-mode.service';
import { modeForPhase, Phase } from '../model/phases';
import type { StoreName } from '../model/store-name';
import type { LegacyApiPort } from './legacy-api.client';
import { ShadowComparer } from './shadow-comparer.service';
import type { CopyState } from './domain/lag';
import type { ShadowLagPort } from './shadow-lag.port';
import type { ShadowReadPort } from './shadow-read.port';
import type { MismatchRow, SampleRow, ShadowRepository } from './shadow.repository';

const ID = 'aaaaaaaaaaaaaaaaaaaaaaaa';
const at = new Date('2024-01-01T00:00:00.000Z');
const conv = (over: Partial<Conversation> = {}): Conversation => ({
  id: ID,
  userId: 'u',
  title: 't',
  messages: [],
  metadata: {},
  createdAt: at,
  updatedAt: at,
  version: 1,
  deleted: false,
  ...over,
});

/** Where the copying stands in the fake: everything copied and caught up, nothing pending, unless a test says otherwise. */
const caughtUp = (): CopyState => ({
  notCopied: new Set(),
  insertsPending: new Set(),
  changesAppliedBefore: Date.parse('2030-01-01T00:00:00Z'),
  followUps: new Map(),
});

/** Fakes of every port: stores as maps, the repository as arrays. */
function setup(phase: Phase = 'shadow', env: Record<string, string> = {}) {
  const stores: Record<StoreName, Map<string, Conversation>> = { legacy: new Map([[ID, conv()]]), new: new Map([[ID, conv()]]) };
  let failReads = false;
  const reads: StoreName[] = [];
  const reader: ShadowReadPort = {
    get: async (s, id) => {
      reads.push(s);
      if (failReads) throw new Error('store down');
      const c = stores[s].get(id);
      return c ? { ...c } : null;
    },
    list: async (s, userId) => [...stores[s].values()].filter((c) => c.userId === userId),
  };
  const api: LegacyApiPort = { supports: () => false, fetch: async () => ({ status: 404 }) };
  const recorded: Array<{ sample: SampleRow; mismatch?: MismatchRow }> = [];
  const repo = {
    recordOutcomes: async (rows: Array<{ sample: SampleRow; mismatch?: MismatchRow }>) => void recorded.push(...rows),
    recordNoise: async () => undefined,
    noisyFields: async () => [],
    prune: async () => undefined,
  } as unknown as ShadowRepository;
  const phaseNow = { phase };
  const mode = {
    current: async () => modeForPhase(phase),
    fresh: async () => modeForPhase(phaseNow.phase),
  } as unknown as MigrationModeService;
  const config = readShadowConfig(new EnvReader({ ...env }));
  const copy = { state: caughtUp(), asked: [] as string[][], whenAsked: () => undefined as void };
  const lag: ShadowLagPort = {
    copyState: async (ids) => {
      copy.asked.push([...ids]);
      copy.whenAsked();
      return copy.state;
    },
  };
  const comparer = new ShadowComparer(reader, lag, api, repo, mode, config, new MetricsService());
  return { comparer, stores, recorded, reads, copy, phaseNow, breakReads: () => (failReads = true) };
}

const sample = { endpoint: 'get' as const, id: ID, sampledAt: at.getTime(), calibration: false };

describe('ShadowComparer (fake ports)', () => {
  beforeAll(() => Logger.overrideLogger(false));
  it('records a match as one sample', async () => {
    const { comparer, recorded } = setup();
    expect(await comparer.compare(sample)).toEqual({ decided: { stores: 'matched' } });
    expect(recorded).toEqual([
      {
        sample: { kind: 'stores', endpoint: 'get', outcome: 'matched', lagKind: null, calibration: false, rechecks: 0, sampledAt: at },
        mismatch: undefined,
      },
    ]);
  });

  it('hands back the same sample for a recheck when one side is behind, without the captured reply', async () => {
    const { comparer, stores, recorded } = setup();
    stores.legacy.set(ID, conv({ version: 2, title: 'newer' }));
    const result = await comparer.compare({
      ...sample,
      calibration: true,
      served: { store: 'legacy', status: 200, body: toDto(conv({ version: 2, title: 'newer' })) },
    });
    expect(result).toEqual({ decided: {}, recheck: { ...sample, calibration: false, attempt: 1, pending: ['stores'], served: undefined } });
    expect(recorded).toEqual([]);
    stores.new.set(ID, conv({ version: 2, title: 'newer' }));
    expect(await comparer.compare(result.recheck!)).toEqual({ decided: { stores: 'lag' } });
    expect(recorded[0].sample).toMatchObject({ outcome: 'lag', lagKind: 'converged', rechecks: 1 });
  });

  describe('after the last recheck, lag with a cause', () => {
    const last = { ...sample, attempt: 2 };
    const behind = (s: ReturnType<typeof setup>) => {
      s.stores.legacy.set(ID, conv({ version: 2, title: 'newer', updatedAt: new Date('2024-01-02T00:00:00Z') }));
    };

    it('is not_copied while the backfill has not reached the conversation (the new store lacks it)', async () => {
      const s = setup();
      s.stores.new.delete(ID);
      s.copy.state = { ...caughtUp(), notCopied: new Set([ID]) };
      expect(await s.comparer.compare(last)).toEqual({ decided: { stores: 'lag' } });
      expect(s.recorded[0].sample).toMatchObject({ outcome: 'lag', lagKind: 'not_copied', rechecks: 2 });
      expect(s.copy.asked).toEqual([[ID]]);
    });

    it('is not_caught_up while the legacy change is after the catch-up watermark, a mismatch once the watermark passed it', async () => {
      const s = setup();
      behind(s);
      s.copy.state = { ...caughtUp(), changesAppliedBefore: Date.parse('2024-01-01T12:00:00Z') };
      await s.comparer.compare(last);
      s.copy.state = caughtUp();
      await s.comparer.compare(last);
      expect(s.recorded.map((r) => [r.sample.outcome, r.sample.lagKind])).toEqual([
        ['lag', 'not_caught_up'],
        ['mismatched', null],
      ]);
      expect(s.recorded[1].mismatch).toMatchObject({ primaryVersion: 2, secondaryVersion: 1, paths: ['title', 'updatedAt', 'version'] });
    });

    it('is follow_up when legacy is behind the new store with a follow-up pending from it (deprecation)', async () => {
      const s = setup('deprecation');
      s.stores.new.set(ID, conv({ version: 2, title: 'newer' }));
      s.copy.state = { ...caughtUp(), followUps: new Map([[ID, ['new' as const]]]) };
      await s.comparer.compare(last);
      s.copy.state = caughtUp();
      await s.comparer.compare(last);
      expect(s.recorded.map((r) => [r.sample.outcome, r.sample.lagKind])).toEqual([
        ['lag', 'follow_up'],
        ['mismatched', null],
      ]);
    });

    it('is converged when the stores agree on the read made after the copy state (a copy landed in between)', async () => {
      const s = setup();
      behind(s);
      // Catch-up copies it just before the copy state is read: the state says caught up, the new read agrees.
      s.copy.whenAsked = () => void s.stores.new.set(ID, s.stores.legacy.get(ID)!);
      await s.comparer.compare(last);
      expect(s.recorded[0].sample).toMatchObject({ outcome: 'lag', lagKind: 'converged' });
    });

    it('records nothing when the stores changed roles during the comparison (into cleanup legacy is no longer written)', async () => {
      const s = setup('deprecation');
      s.stores.new.set(ID, conv({ version: 2, title: 'written after the move' }));
      s.phaseNow.phase = 'cleanup';
      expect(await s.comparer.compare(last)).toEqual({
        decided: {},
        skipped: 'the phase moved from deprecation to cleanup during the comparison',
      });
      expect(s.recorded).toEqual([]);
    });

    it('never explains equal versions with different content, whatever is under way', async () => {
      const s = setup();
      s.stores.new.set(ID, conv({ title: 'planted' }));
      s.copy.state = {
        notCopied: new Set([ID]),
        insertsPending: new Set([ID]),
        changesAppliedBefore: null,
        followUps: new Map([[ID, ['legacy' as const, 'new' as const]]]),
      };
      await s.comparer.compare(sample);
      expect(s.recorded[0].sample).toMatchObject({ outcome: 'mismatched', lagKind: null });
      expect(s.copy.asked).toEqual([]);
    });
  });

  it('records a mismatch with the sides, versions and redacted differences', async () => {
    const { comparer, stores, recorded } = setup('deprecation');
    stores.legacy.set(ID, conv({ metadata: { password: 'a' } }));
    await comparer.compare(sample);
    expect(recorded[0].mismatch).toMatchObject({
      phase: 'deprecation',
      primarySide: 'new',
      secondarySide: 'legacy',
      primaryVersion: 1,
      secondaryVersion: 1,
      paths: ['metadata.password'],
      differences: [{ path: 'metadata.password', right: '[masked]' }],
    });
  });

  it('takes the reply the client got as the primary side and reads only the other store', async () => {
    const { comparer, stores, recorded, reads } = setup();
    stores.new.set(ID, conv({ title: 'planted' }));
    await comparer.compare({ ...sample, served: { store: 'legacy', status: 200, body: toDto(conv()) } });
    expect(reads).toEqual(['new']);
    expect(recorded[0].mismatch).toMatchObject({ primarySide: 'legacy', secondarySide: 'new', paths: ['title'] });
  });

  it('reads the primary store for a 404 (absent or deleted?) and for a reply that did not travel', async () => {
    const { comparer, reads } = setup();
    await comparer.compare({ ...sample, served: { store: 'legacy', status: 404 } });
    await comparer.compare({ ...sample, served: { store: 'legacy', status: 200 } });
    expect(reads.sort()).toEqual(['legacy', 'legacy', 'new', 'new']);
  });

  it('compares against the other store of the one that served, even if the phase changed since', async () => {
    const { comparer, reads, recorded } = setup('deprecation');
    await comparer.compare({ ...sample, served: { store: 'legacy', status: 200, body: toDto(conv()) } });
    expect(reads).toEqual(['new']);
    expect(recorded[0].sample.outcome).toBe('matched');
  });

  it('records an error outcome when a store cannot be read, and skips phases without shadow', async () => {
    const broken = setup();
    broken.breakReads();
    expect(await broken.comparer.compare(sample)).toEqual({ decided: { stores: 'error' } });
    expect(broken.recorded[0].sample.outcome).toBe('error');
    const off = setup('cleanup');
    expect(await off.comparer.compare(sample)).toEqual({ decided: {}, skipped: 'phase cleanup has no shadow comparison' });
    expect(off.recorded).toEqual([]);
  });
});
