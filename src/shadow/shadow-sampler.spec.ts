import { EnvReader } from '../config/env-reader';
import { MetricsService } from '../common/metrics/metrics.service';
import type { MigrationModeService } from '../mode/migration-mode.service';
import { modeForPhase, Phase } from '../model/phases';
import { readShadowConfig } from './shadow.config';
import type { DropReason, ShadowPayload, ShadowQueue } from './shadow-queue';
import { SampledRead, ShadowSampler } from './shadow-sampler';
import type { ShadowRepository } from './shadow.repository';

/** The sampler with fakes of its ports: a queue that records each batch offered and admits up to `room`. */
function setup(env: Record<string, string>, o: { phase?: Phase; room?: number } = {}) {
  const config = readShadowConfig(new EnvReader(env));
  const batches: ShadowPayload[][] = [];
  let room = o.room ?? Number.MAX_SAFE_INTEGER;
  const queue = {
    lastDepth: 0,
    offerBatch: async (samples: readonly ShadowPayload[]): Promise<{ enqueued: number; reason?: DropReason }> => {
      batches.push([...samples]);
      const enqueued = Math.min(room, samples.length);
      room -= enqueued;
      return enqueued === samples.length ? { enqueued } : { enqueued, reason: 'full' };
    },
  } as unknown as ShadowQueue;
  const mode = { current: async () => modeForPhase(o.phase ?? 'shadow') } as unknown as MigrationModeService;
  const repo = { recordDrops: async () => undefined } as unknown as ShadowRepository;
  const metrics = new MetricsService();
  const sampler = new ShadowSampler(config, mode, queue, repo, metrics);
  const count = async (result: string) =>
    (await metrics.registry.getSingleMetric('shadow_samples_total')!.get()).values
      .filter((v) => v.labels.result === result)
      .reduce((n, v) => n + v.value, 0);
  return { sampler, batches, count };
}

const read = (id: string, bytes = 100): SampledRead => ({
  endpoint: 'get',
  params: { id },
  query: {},
  status: 200,
  body: { id },
  bytes,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ShadowSampler batches', () => {
  it('queues the samples taken within the window as one job, in the order taken', async () => {
    const { sampler, batches, count } = setup({ SHADOW_BATCH_MS: '30' });
    for (const id of ['a', 'b', 'c']) sampler.submit(read(id));
    expect(batches).toHaveLength(0);
    await sleep(60);
    await sampler.settled();
    expect(batches.map((b) => b.map((s) => s.id))).toEqual([['a', 'b', 'c']]);
    expect(await count('enqueued')).toBe(3);
  });

  it('offers a batch at once when it reaches SHADOW_BATCH_MAX samples', async () => {
    const { sampler, batches } = setup({ SHADOW_BATCH_MS: '60000', SHADOW_BATCH_MAX: '2' });
    for (const id of ['a', 'b', 'c']) sampler.submit(read(id));
    await sleep(0);
    expect(batches.map((b) => b.map((s) => s.id))).toEqual([['a', 'b']]);
    await sampler.settled();
    expect(batches.map((b) => b.map((s) => s.id))).toEqual([['a', 'b'], ['c']]);
  });

  it('offers a batch at once when its replies reach SHADOW_BATCH_BYTES', async () => {
    const { sampler, batches } = setup({ SHADOW_BATCH_MS: '60000', SHADOW_BATCH_BYTES: '1000' });
    sampler.submit(read('a', 100));
    sampler.submit(read('b', 950));
    sampler.submit(read('c', 100));
    await sleep(0);
    expect(batches.map((b) => b.map((s) => s.id))).toEqual([['a', 'b']]);
    await sampler.settled();
  });

  it('offers each sample at once with a window of 0, and settled() offers what was gathered', async () => {
    const off = setup({ SHADOW_BATCH_MS: '0' });
    off.sampler.submit(read('a'));
    off.sampler.submit(read('b'));
    await off.sampler.settled();
    expect(off.batches.map((b) => b.map((s) => s.id))).toEqual([['a'], ['b']]);

    const gathered = setup({ SHADOW_BATCH_MS: '60000' });
    gathered.sampler.submit(read('a'));
    await gathered.sampler.settled();
    expect(gathered.batches).toHaveLength(1);
  });

  it('counts the samples a batch could not place as dropped, with the reason', async () => {
    const { sampler, count } = setup({ SHADOW_BATCH_MS: '60000' }, { room: 2 });
    for (const id of ['a', 'b', 'c', 'd', 'e']) sampler.submit(read(id));
    await sampler.settled();
    expect({ enqueued: await count('enqueued'), dropped: await count('dropped') }).toEqual({ enqueued: 2, dropped: 3 });
  });

  it('queues nothing in a phase without shadow comparison', async () => {
    const { sampler, batches, count } = setup({ SHADOW_BATCH_MS: '0' }, { phase: 'not_started' });
    sampler.submit(read('a'));
    await sampler.settled();
    expect(batches).toHaveLength(0);
    expect(await count('off')).toBe(1);
  });
});
