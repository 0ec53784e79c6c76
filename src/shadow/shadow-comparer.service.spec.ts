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
import type { ShadowReadPort } from './shadow-read.port';
import type { MismatchRow, SampleRow, ShadowRepository } from './shadow.repository';

const ID = 'aaaaaaaaaaaaaaaaaaaaaaaa';
const at = new Date('2024-01-01T00:00:00.000Z');
const conv = (over: Partial<Conversation> = {}): Conversation => ({ id: ID, userId: 'u', title: 't', messages: [], metadata: {}, createdAt: at, updatedAt: at, version: 1, deleted: false, ...over });

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
    recordOutcome: async (sample: SampleRow, mismatch?: MismatchRow) => void recorded.push({ sample, mismatch }),
    recordNoise: async () => undefined,
    noisyFields: async () => [],
    prune: async () => undefined,
  } as unknown as ShadowRepository;
  const mode = { current: async () => modeForPhase(phase) } as unknown as MigrationModeService;
  const config = readShadowConfig(new EnvReader({ ...env }));
  const comparer = new ShadowComparer(reader, api, repo, mode, config, new MetricsService());
  return { comparer, stores, recorded, reads, breakReads: () => (failReads = true) };
}

const sample = { endpoint: 'get' as const, id: ID, sampledAt: at.getTime(), calibration: false };

describe('ShadowComparer (fake ports)', () => {
  beforeAll(() => Logger.overrideLogger(false));
  it('records a match as one sample', async () => {
    const { comparer, recorded } = setup();
    expect(await comparer.compare(sample)).toEqual({ decided: { stores: 'matched' } });
    expect(recorded).toEqual([{ sample: { kind: 'stores', endpoint: 'get', outcome: 'matched', calibration: false, rechecks: 0, sampledAt: at }, mismatch: undefined }]);
  });

  it('hands back the same sample for a recheck when one side is behind, without the captured reply', async () => {
    const { comparer, stores, recorded } = setup();
    stores.legacy.set(ID, conv({ version: 2, title: 'newer' }));
    const result = await comparer.compare({ ...sample, calibration: true, served: { store: 'legacy', status: 200, body: toDto(conv({ version: 2, title: 'newer' })) } });
    expect(result).toEqual({ decided: {}, recheck: { ...sample, calibration: false, attempt: 1, pending: ['stores'], served: undefined } });
    expect(recorded).toEqual([]);
    stores.new.set(ID, conv({ version: 2, title: 'newer' }));
    expect(await comparer.compare(result.recheck!)).toEqual({ decided: { stores: 'lag' } });
    expect(recorded[0].sample).toMatchObject({ outcome: 'lag', rechecks: 1 });
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
