import { ConfigError, Env, EnvReader } from '../config/env-reader';
import { mirrorPath } from './legacy-api.client';
import { readShadowConfig } from './shadow.config';

/** The shadow section as the composition reads it: the section, or one ConfigError naming every bad variable. */
function loadShadow(env: Env) {
  const r = new EnvReader(env);
  const shadow = readShadowConfig(r);
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return { shadow };
}

const GOOD = {};

function problems(env: Record<string, string>): string[] {
  try {
    loadShadow({ ...GOOD, ...env });
    return [];
  } catch (err) {
    return (err as ConfigError).problems;
  }
}

describe('shadow settings', () => {
  it('defaults to 10 % per endpoint, with per-endpoint overrides and 0 for off', () => {
    expect(loadShadow(GOOD).shadow.sampleRates).toEqual({ get: 0.1, list: 0.1 });
    expect(loadShadow({ ...GOOD, SHADOW_SAMPLE_RATE: '0.2', SHADOW_SAMPLE_RATE_LIST: '0' }).shadow.sampleRates).toEqual({
      get: 0.2,
      list: 0,
    });
    expect(loadShadow(GOOD).shadow.mirror.baseUrl).toBeUndefined();
  });

  it('batches the samples of 100 ms, up to 50 samples or 1 MiB of replies, unless told otherwise', () => {
    const { shadow } = loadShadow(GOOD);
    expect([shadow.batchMs, shadow.batchMax, shadow.batchBytes]).toEqual([100, 50, 1024 * 1024]);
    expect(loadShadow({ SHADOW_BATCH_MS: '0' }).shadow.batchMs).toBe(0);
    expect(problems({ SHADOW_BATCH_MS: '-1' })).toHaveLength(1);
    expect(problems({ SHADOW_BATCH_MAX: '0' })).toHaveLength(1);
  });

  it('names every bad shadow variable', () => {
    expect(
      problems({
        SHADOW_SAMPLE_RATE: '10',
        SHADOW_IGNORE_PATHS: 'metadata.ok,messages[x]',
        SHADOW_QUEUE_MAX: '0',
        SHADOW_LEGACY_API_URL: 'ftp://x',
        SHADOW_LEGACY_API_ENDPOINTS: 'get=/c/{nope},put=/x',
      }),
    ).toEqual([
      'SHADOW_SAMPLE_RATE: must be between 0 and 1, got 10',
      expect.stringMatching(/^SHADOW_IGNORE_PATHS: "messages\[x\]": expected/),
      'SHADOW_QUEUE_MAX: must be between 1 and 1000000, got 0',
      'SHADOW_LEGACY_API_URL: must use http or https, got ftp',
      'SHADOW_LEGACY_API_ENDPOINTS: get: unknown placeholder(s) {nope} (known: {id}, {userId}, {limit}, {cursor})',
      'SHADOW_LEGACY_API_ENDPOINTS: "put=/x" must be get=<path> or list=<path>',
    ]);
  });

  it('maps a sampled request onto the legacy API path', () => {
    expect(mirrorPath('/api/c/{id}', { endpoint: 'get', id: 'abc' })).toBe('/api/c/abc');
    expect(mirrorPath('/u/{userId}/c?limit={limit}&cursor={cursor}&x=1', { endpoint: 'list', userId: 'a b', limit: 5 })).toBe(
      '/u/a%20b/c?limit=5&x=1',
    );
    // A page the legacy API cannot be asked for is not mirrored.
    expect(mirrorPath('/c?userId={userId}', { endpoint: 'list', userId: 'u', cursor: 'abc' })).toBeNull();
    expect(mirrorPath('/c/{id}', { endpoint: 'get' })).toBeNull();
  });
});
