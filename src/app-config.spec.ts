import { inspectConfig, loadConfig } from './app-config';
import { ConfigError } from './config/env-reader';

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
    expect(config.legacy).toEqual({ url: GOOD.LEGACY_MONGO_URL, database: 'legacy', collection: 'conversations', slowCommandMs: 0 });
    expect(config.auth.tokens).toEqual([
      { name: 'billing', token: '0123456789abcdef0123', role: 'app' },
      { name: 'operator-1', token: '0123456789abcdef-operator', role: 'operator' },
    ]);
    expect(config.dualWrite.secondaryTimeoutMs).toBe(2000);
    expect(config.traffic.provider).toBe('none');
    expect(config.database.clientCheckMs).toBe(2000);
  });

  it('reads the PostgreSQL client check: an interval, or 0 for none', () => {
    expect(loadConfig({ ...GOOD, DATABASE_CLIENT_CHECK_MS: '0' }).database.clientCheckMs).toBe(0);
    expect(loadConfig({ ...GOOD, DATABASE_CLIENT_CHECK_MS: '500' }).database.clientCheckMs).toBe(500);
    expect(problemsOf({ ...GOOD, DATABASE_CLIENT_CHECK_MS: 'soon' })).toEqual([expect.stringMatching(/^DATABASE_CLIENT_CHECK_MS: /)]);
  });

  it('names every bad variable in one message', () => {
    let message = '';
    try {
      loadConfig({
        PORT: 'eighty',
        LEGACY_MONGO_URL: 'mongodb://host:27017',
        REDIS_URL: 'http://x',
        TRAFFIC_PROVIDER: 'route53',
        SECONDARY_WRITE_TIMEOUT_MS: '-5',
      });
    } catch (err) {
      message = (err as Error).message;
    }
    for (const name of [
      'PORT',
      'DATABASE_URL',
      'LEGACY_MONGO_URL',
      'REDIS_URL',
      'APP_API_TOKENS',
      'ROUTE53_HOSTED_ZONE_ID',
      'ROUTE53_RECORD_NAME',
      'ROUTE53_LEGACY_TARGET',
      'ROUTE53_NEW_TARGET',
      'SECONDARY_WRITE_TIMEOUT_MS',
    ]) {
      expect(message).toContain(`${name}:`);
    }
    expect(message.split('\n')[0]).toMatch(/^Invalid configuration \(10 problems\)/);
  });

  it('refuses to start without tokens unless in local development mode', () => {
    const { APP_API_TOKENS: _a, OPERATOR_API_TOKENS: _o, ...noTokens } = GOOD;
    expect(problemsOf(noTokens)).toEqual([expect.stringMatching(/^APP_API_TOKENS: no API tokens configured/)]);
    expect(loadConfig({ ...noTokens, LOCAL_DEV_MODE: 'true' }).auth.tokens).toEqual([]);
  });

  it('accepts only a known phase as the initial phase', () => {
    expect(loadConfig({ ...GOOD, MIGRATION_INITIAL_PHASE: 'shadow' }).migration.initialPhase).toBe('shadow');
    expect(problemsOf({ ...GOOD, MIGRATION_INITIAL_PHASE: 'halfway' })).toEqual([
      expect.stringMatching(/^MIGRATION_INITIAL_PHASE: must be one of not_started, shadow/),
    ]);
  });

  it('wants a phase change to give up waiting for the writes in flight before the writes waiting for it do', () => {
    expect(loadConfig(GOOD).migration.cutoverLockTimeoutMs).toBeLessThan(loadConfig(GOOD).dualWrite.fenceWaitMs);
    expect(loadConfig({ ...GOOD, CUTOVER_LOCK_TIMEOUT_MS: '4000', WRITE_FENCE_WAIT_MS: '5000' }).migration.cutoverLockTimeoutMs).toBe(4000);
    expect(problemsOf({ ...GOOD, CUTOVER_LOCK_TIMEOUT_MS: '60000' })).toEqual([
      'CUTOVER_LOCK_TIMEOUT_MS: must be less than WRITE_FENCE_WAIT_MS (30000): writes wait while a phase change waits for the ' +
        'writes in flight, and would fail before it gave up; got 60000',
    ]);
  });

  it('never echoes a short token, only its position', () => {
    const problems = problemsOf({ ...GOOD, APP_API_TOKENS: 'ci:tiny-secret' });
    expect(problems).toEqual(['APP_API_TOKENS: entry 1 (ci) is shorter than 16 characters']);
    expect(problems.join()).not.toContain('tiny-secret');
  });

  describe('traffic through Route 53', () => {
    const ROUTE53 = {
      ...GOOD,
      TRAFFIC_PROVIDER: 'route53',
      ROUTE53_HOSTED_ZONE_ID: '/hostedzone/Z0123456789ABCDEFGHIJ',
      ROUTE53_RECORD_NAME: 'api.example.com',
      ROUTE53_LEGACY_TARGET: '192.0.2.10,192.0.2.11',
      ROUTE53_NEW_TARGET: 'alias:Z35SXDOTRQ7X7K:new-lb-1.us-east-1.elb.amazonaws.com:evaluate',
    };

    it('reads the record, both targets, polling and retry settings with defaults', () => {
      const { traffic } = loadConfig(ROUTE53);
      expect(traffic).toEqual({
        provider: 'route53',
        region: 'us-east-1',
        endpoint: undefined,
        credentials: undefined,
        hostedZoneId: 'Z0123456789ABCDEFGHIJ',
        recordName: 'api.example.com',
        recordType: 'A',
        ttl: 60,
        targets: {
          legacy: { kind: 'values', values: ['192.0.2.10', '192.0.2.11'] },
          new: {
            kind: 'alias',
            hostedZoneId: 'Z35SXDOTRQ7X7K',
            dnsName: 'new-lb-1.us-east-1.elb.amazonaws.com',
            evaluateTargetHealth: true,
          },
        },
        pollIntervalMs: 5000,
        syncTimeoutMs: 300000,
        retry: { baseMs: 250, capMs: 20000, maxAttempts: 8 },
      });
    });

    it('takes overrides of every setting', () => {
      const { traffic } = loadConfig({
        ...ROUTE53,
        AWS_REGION: 'eu-west-1',
        AWS_ENDPOINT_URL: 'http://127.0.0.1:55500',
        ROUTE53_RECORD_TYPE: 'AAAA',
        ROUTE53_TTL: '5',
        ROUTE53_LEGACY_TARGET: '2001:db8::1',
        ROUTE53_POLL_MS: '250',
        ROUTE53_SYNC_TIMEOUT_MS: '60000',
        ROUTE53_RETRY_BASE_MS: '50',
        ROUTE53_RETRY_MAX_MS: '2000',
        ROUTE53_RETRY_ATTEMPTS: '3',
      });
      expect(traffic).toMatchObject({
        region: 'eu-west-1',
        endpoint: 'http://127.0.0.1:55500',
        recordType: 'AAAA',
        ttl: 5,
        targets: { legacy: { kind: 'values', values: ['2001:db8::1'] } },
        pollIntervalMs: 250,
        syncTimeoutMs: 60000,
        retry: { baseMs: 50, capMs: 2000, maxAttempts: 3 },
      });
    });

    it('names every bad traffic variable', () => {
      const problems = problemsOf({
        ...ROUTE53,
        ROUTE53_HOSTED_ZONE_ID: 'not a zone',
        ROUTE53_RECORD_NAME: 'api..example.com',
        ROUTE53_LEGACY_TARGET: '10.0.0.256',
        ROUTE53_NEW_TARGET: 'alias:Z35SXDOTRQ7X7K',
        ROUTE53_POLL_MS: '0',
        ROUTE53_RETRY_BASE_MS: '5000',
        ROUTE53_RETRY_MAX_MS: '1000',
      });
      expect(problems).toEqual([
        'ROUTE53_LEGACY_TARGET: value "10.0.0.256" is not an IPv4 address (record type A)',
        'ROUTE53_NEW_TARGET: must be alias:<hostedZoneId>:<dnsName>[:evaluate]',
        'ROUTE53_POLL_MS: must be between 1 and 600000, got 0',
        'ROUTE53_HOSTED_ZONE_ID: "not a zone" is not a Route 53 hosted zone id (letters and digits, e.g. Z0123456789ABCDEFGHIJ)',
        'ROUTE53_RECORD_NAME: "api..example.com" is not a valid DNS name',
        'ROUTE53_RETRY_MAX_MS: must be at least ROUTE53_RETRY_BASE_MS (5000)',
      ]);
    });

    it('checks values against the record type', () => {
      expect(problemsOf({ ...ROUTE53, ROUTE53_RECORD_TYPE: 'CNAME', ROUTE53_LEGACY_TARGET: 'a.example.net,b.example.net' })).toEqual([
        'ROUTE53_LEGACY_TARGET: a CNAME record takes exactly one value',
      ]);
    });

    it('takes static credentials from the environment without ever showing them', () => {
      const { traffic } = loadConfig({
        ...ROUTE53,
        AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      });
      expect(typeof traffic.credentials).toBe('function');
      expect(JSON.stringify(traffic)).not.toMatch(/AKIA|wJalr/);
      const problems = problemsOf({ ...ROUTE53, AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' });
      expect(problems).toEqual(['AWS_ACCESS_KEY_ID: is required when AWS_SECRET_ACCESS_KEY is set']);
      expect(problems.join()).not.toContain('wJalr');
    });

    it('does not need targets or credentials for the none provider', () => {
      expect(loadConfig({ ...GOOD, AWS_SECRET_ACCESS_KEY: 'lonely' }).traffic).toMatchObject({
        provider: 'none',
        targets: undefined,
        credentials: undefined,
      });
    });
  });

  describe('deployment settings', () => {
    it('serves the OpenAPI document behind an operator token unless told otherwise', () => {
      expect(loadConfig(GOOD).app.docs).toBe('operator');
      expect(loadConfig({ ...GOOD, API_DOCS: 'off' }).app.docs).toBe('off');
      expect(loadConfig({ ...GOOD, API_DOCS: 'public' }).app.docs).toBe('public');
      expect(problemsOf({ ...GOOD, API_DOCS: 'open' })).toEqual(['API_DOCS: must be one of public, operator, off, got "open"']);
    });

    it('has no worker health listener unless a port is given', () => {
      expect(loadConfig(GOOD).workers).toEqual({ queues: [], healthPort: 0, recoveryIntervalMs: 30_000 });
      expect(loadConfig({ ...GOOD, WORKER_HEALTH_PORT: '9464', WORKER_QUEUES: 'repair, shadow' }).workers).toEqual({
        queues: ['repair', 'shadow'],
        healthPort: 9464,
        recoveryIntervalMs: 30_000,
      });
      expect(problemsOf({ ...GOOD, WORKER_HEALTH_PORT: '70000' })).toEqual(['WORKER_HEALTH_PORT: must be between 0 and 65535, got 70000']);
    });

    it('checks for lost jobs every 30 s unless told otherwise, and never more often than every second', () => {
      expect(loadConfig({ ...GOOD, WORKER_RECOVERY_INTERVAL_MS: '5000' }).workers.recoveryIntervalMs).toBe(5000);
      expect(problemsOf({ ...GOOD, WORKER_RECOVERY_INTERVAL_MS: '10' })).toEqual([
        'WORKER_RECOVERY_INTERVAL_MS: must be between 1000 and 3600000, got 10',
      ]);
    });
  });

  describe('inspectConfig', () => {
    it('lists every variable read, set or not, and the problems, without throwing', () => {
      const { problems, variablesRead } = inspectConfig({ PORT: 'x' });
      expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(/^PORT: /), expect.stringMatching(/^DATABASE_URL: /)]));
      expect(variablesRead).toEqual(
        expect.arrayContaining([
          'PORT',
          'DATABASE_URL',
          'REDIS_URL',
          'WORKER_QUEUES',
          'WORKER_HEALTH_PORT',
          'API_DOCS',
          'GATE_PROFILE',
          'SHADOW_SAMPLE_RATE',
        ]),
      );
      expect(variablesRead).not.toContain('NODE_ENV');
    });

    it('counts a variable read only in the case that needs it', () => {
      expect(inspectConfig(GOOD).variablesRead).not.toContain('ARCHIVE_S3_PREFIX');
      expect(inspectConfig({ ...GOOD, ARCHIVE_S3_BUCKET: 'lms-archive' }).variablesRead).toContain('ARCHIVE_S3_PREFIX');
      expect(inspectConfig({ ...GOOD, ARCHIVE_DIR: '/archive' }).variablesRead).not.toContain('ARCHIVE_S3_PREFIX');
      expect(inspectConfig(GOOD).variablesRead).not.toContain('AWS_ACCESS_KEY_ID');
      expect(inspectConfig({ ...GOOD, TRAFFIC_PROVIDER: 'route53' }).variablesRead).toContain('AWS_ACCESS_KEY_ID');
    });
  });
});
