import { ConfigError } from '../config/env-reader';
import { loadConfig } from '../app-config';
import { mirrorPath } from './legacy-api.client';

const GOOD = {
  DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db',
  LEGACY_MONGO_URL: 'mongodb://127.0.0.1:27017/legacy',
  REDIS_URL: 'redis://127.0.0.1:6379',
  APP_API_TOKENS: 'app:0123456789abcdef',
};

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig({ ...GOOD, ...env });
    return [];
  } catch (err) {
    return (err as ConfigError).problems;
  }
}

describe('shadow settings', () => {
  it('defaults to 10 % per endpoint, with per-endpoint overrides and 0 for off', () => {
    expect(loadConfig(GOOD).shadow.sampleRates).toEqual({ get: 0.1, list: 0.1 });
    expect(loadConfig({ ...GOOD, SHADOW_SAMPLE_RATE: '0.2', SHADOW_SAMPLE_RATE_LIST: '0' }).shadow.sampleRates).toEqual({ get: 0.2, list: 0 });
    expect(loadConfig(GOOD).shadow.mirror.baseUrl).toBeUndefined();
  });

  it('names every bad shadow variable', () => {
    expect(
      problems({ SHADOW_SAMPLE_RATE: '10', SHADOW_IGNORE_PATHS: 'metadata.ok,messages[x]', SHADOW_QUEUE_MAX: '0', SHADOW_LEGACY_API_URL: 'ftp://x', SHADOW_LEGACY_API_ENDPOINTS: 'get=/c/{nope},put=/x' }),
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
    expect(mirrorPath('/u/{userId}/c?limit={limit}&cursor={cursor}&x=1', { endpoint: 'list', userId: 'a b', limit: 5 })).toBe('/u/a%20b/c?limit=5&x=1');
    // A page the legacy API cannot be asked for is not mirrored.
    expect(mirrorPath('/c?userId={userId}', { endpoint: 'list', userId: 'u', cursor: 'abc' })).toBeNull();
    expect(mirrorPath('/c/{id}', { endpoint: 'get' })).toBeNull();
  });
});
