import { loadConfig } from './app-config';
import { ConfigError } from './env-reader';

const GOOD = {
  DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db',
  LEGACY_MONGO_URL: 'mongodb://127.0.0.1:27017/legacy',
  REDIS_URL: 'redis://127.0.0.1:6379',
  APP_API_TOKENS: 'billing:0123456789abcdef0123',
  OPERATOR_API_TOKENS: '0123456789abcdef-operator',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected the configuration to be refused');
}

describe('loadConfig', () => {
  it('reads a good environment with defaults', () => {
    const config = loadConfig(GOOD);
    expect(config.app.port).toBe(3000);
    expect(config.legacy).toEqual({ url: GOOD.LEGACY_MONGO_URL, database: 'legacy', collection: 'conversations' });
    expect(config.auth.tokens).toEqual([
      { name: 'billing', token: '0123456789abcdef0123', role: 'app' },
      { name: 'operator-1', token: '0123456789abcdef-operator', role: 'operator' },
    ]);
    expect(config.dualWrite.secondaryTimeoutMs).toBe(2000);
    expect(config.traffic.provider).toBe('none');
  });

  it('names every bad variable in one message', () => {
    let message = '';
    try {
      loadConfig({ PORT: 'eighty', LEGACY_MONGO_URL: 'mongodb://host:27017', REDIS_URL: 'http://x', TRAFFIC_PROVIDER: 'route53', SECONDARY_WRITE_TIMEOUT_MS: '-5' });
    } catch (err) {
      message = (err as Error).message;
    }
    for (const name of ['PORT', 'DATABASE_URL', 'LEGACY_MONGO_URL', 'REDIS_URL', 'APP_API_TOKENS', 'ROUTE53_HOSTED_ZONE_ID', 'ROUTE53_RECORD_NAME', 'SECONDARY_WRITE_TIMEOUT_MS']) {
      expect(message).toContain(`${name}:`);
    }
    expect(message.split('\n')[0]).toMatch(/^Invalid configuration \(8 problems\)/);
  });

  it('refuses to start without tokens unless in local development mode', () => {
    const { APP_API_TOKENS: _a, OPERATOR_API_TOKENS: _o, ...noTokens } = GOOD;
    expect(problemsOf(noTokens)).toEqual([expect.stringMatching(/^APP_API_TOKENS: no API tokens configured/)]);
    expect(loadConfig({ ...noTokens, LOCAL_DEV_MODE: 'true' }).auth.tokens).toEqual([]);
  });

  it('accepts only a known phase as the initial phase', () => {
    expect(loadConfig({ ...GOOD, MIGRATION_INITIAL_PHASE: 'shadow' }).migration.initialPhase).toBe('shadow');
    expect(problemsOf({ ...GOOD, MIGRATION_INITIAL_PHASE: 'halfway' })).toEqual([expect.stringMatching(/^MIGRATION_INITIAL_PHASE: must be one of not_started, shadow/)]);
  });

  it('never echoes a short token, only its position', () => {
    const problems = problemsOf({ ...GOOD, APP_API_TOKENS: 'ci:tiny-secret' });
    expect(problems).toEqual(['APP_API_TOKENS: entry 1 (ci) is shorter than 16 characters']);
    expect(problems.join()).not.toContain('tiny-secret');
  });
});
