import { EnvReader } from '../config/env-reader';
import { readRedisConfig } from './stores.config';

const read = (env: Record<string, string>) => {
  const r = new EnvReader(env);
  return { config: readRedisConfig(r), problems: r.problems };
};

describe('the Redis section', () => {
  it('is one Redis at REDIS_URL under the default key prefix', () => {
    expect(read({ REDIS_URL: 'redis://127.0.0.1:6379/2' })).toEqual({
      config: { url: 'redis://127.0.0.1:6379/2', cluster: null, keyPrefix: 'lms' },
      problems: [],
    });
    expect(read({}).problems).toEqual(['REDIS_URL: is required']);
  });

  it('is a Redis Cluster when REDIS_CLUSTER_NODES is set (REDIS_URL then not needed), credentials and TLS from a URL entry', () => {
    expect(read({ REDIS_CLUSTER_NODES: '127.0.0.1:7000, 127.0.0.1:7001,localhost' })).toEqual({
      config: {
        url: '',
        cluster: {
          nodes: [
            { host: '127.0.0.1', port: 7000 },
            { host: '127.0.0.1', port: 7001 },
            { host: 'localhost', port: 6379 },
          ],
          tls: false,
        },
        keyPrefix: 'lms',
      },
      problems: [],
    });
    expect(read({ REDIS_CLUSTER_NODES: 'rediss://app:s%3Acret@node-a:6380,node-b:6380', REDIS_KEY_PREFIX: 'lms-prod' }).config).toEqual({
      url: '',
      cluster: {
        nodes: [
          { host: 'node-a', port: 6380 },
          { host: 'node-b', port: 6380 },
        ],
        tls: true,
        username: 'app',
        password: 's:cret',
      },
      keyPrefix: 'lms-prod',
    });
  });

  it('names a bad node entry without echoing it (it may hold a password), and refuses braces in the key prefix', () => {
    const { problems } = read({ REDIS_CLUSTER_NODES: 'redis://:hunter2@good:1,http://:hunter2@bad:2', REDIS_KEY_PREFIX: '{lms}' });
    expect(problems).toEqual([
      'REDIS_CLUSTER_NODES: entry 2 is not host:port or a redis:// or rediss:// URL',
      expect.stringMatching(/^REDIS_KEY_PREFIX: must be 1-64 letters/),
    ]);
    expect(problems.join(' ')).not.toContain('hunter2');
  });
});
