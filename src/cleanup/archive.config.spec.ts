import { ConfigError } from '../config/env-reader';
import { bucketNameProblem, normalisePrefix, readArchiveConfig, readOptionalArchiveConfig } from './archive.config';

function problems(env: Record<string, string>): string[] {
  try {
    readArchiveConfig(env, '/srv/app');
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
}

describe('archive settings', () => {
  it('takes a directory, resolving a relative one against the working directory', () => {
    expect(readArchiveConfig({ ARCHIVE_DIR: '/var/archive' }, '/srv/app').target).toEqual({ kind: 'directory', dir: '/var/archive' });
    expect(readArchiveConfig({ ARCHIVE_DIR: 'archive/legacy' }, '/srv/app').target).toEqual({
      kind: 'directory',
      dir: '/srv/app/archive/legacy',
    });
    expect(readArchiveConfig({ ARCHIVE_DIR: '../x' }, '/srv/app').target).toEqual({ kind: 'directory', dir: '/srv/x' });
  });

  it('takes a bucket with prefix, region, endpoint and path style for an emulator', async () => {
    const c = readArchiveConfig({
      ARCHIVE_S3_BUCKET: 'legacy-archive',
      ARCHIVE_S3_PREFIX: '/cleanup/2026',
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:5000',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'secret-value',
    });
    expect(c.target).toMatchObject({
      kind: 's3',
      bucket: 'legacy-archive',
      prefix: 'cleanup/2026/',
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:5000',
      forcePathStyle: true,
      partSizeBytes: 16 * 1024 * 1024,
    });
    if (c.target.kind !== 's3') throw new Error('expected s3');
    await expect(c.target.credentials!()).resolves.toEqual({ accessKeyId: 'testing', secretAccessKey: 'secret-value' });
    // Credentials never show when the config is printed.
    expect(JSON.stringify(c)).not.toContain('secret-value');
  });

  it('defaults: AWS region and credential chain, virtual-host style without an endpoint, S3-only endpoint override', () => {
    const plain = readArchiveConfig({ ARCHIVE_S3_BUCKET: 'b-1' }).target;
    expect(plain).toMatchObject({ kind: 's3', prefix: '', region: 'us-east-1', forcePathStyle: false, credentials: undefined });
    expect(plain).not.toHaveProperty('endpoint', expect.anything());
    const own = readArchiveConfig({
      ARCHIVE_S3_BUCKET: 'b-1',
      AWS_ENDPOINT_URL: 'http://a:1',
      ARCHIVE_S3_ENDPOINT_URL: 'https://s3.example.test',
      ARCHIVE_S3_FORCE_PATH_STYLE: 'false',
    }).target;
    expect(own).toMatchObject({ endpoint: 'https://s3.example.test', forcePathStyle: false });
    const c = readArchiveConfig({ ARCHIVE_DIR: '/a', ARCHIVE_GZIP_LEVEL: '9', ARCHIVE_BATCH_SIZE: '50', ARCHIVE_PROGRESS_LOG_MS: '1000' });
    expect(c).toMatchObject({ gzipLevel: 9, batchSize: 50, progressLogIntervalMs: 1000 });
  });

  it('needs exactly one of a directory and a bucket', () => {
    expect(problems({})).toEqual(['ARCHIVE_DIR: no archive target: set ARCHIVE_DIR (a directory) or ARCHIVE_S3_BUCKET (an S3 bucket)']);
    expect(problems({ ARCHIVE_DIR: '  ', ARCHIVE_S3_BUCKET: '' })).toHaveLength(1);
    expect(problems({ ARCHIVE_DIR: '/a', ARCHIVE_S3_BUCKET: 'bucket' })).toEqual([
      'ARCHIVE_DIR: set exactly one of ARCHIVE_DIR and ARCHIVE_S3_BUCKET, not both',
    ]);
  });

  it('names every bad variable at once', () => {
    expect(
      problems({
        ARCHIVE_S3_BUCKET: 'Bad_Bucket',
        AWS_ENDPOINT_URL: 'ftp://x',
        AWS_ACCESS_KEY_ID: 'only-the-id',
        ARCHIVE_S3_PART_SIZE_MB: '1',
        ARCHIVE_S3_FORCE_PATH_STYLE: 'maybe',
        ARCHIVE_GZIP_LEVEL: '11',
      }),
    ).toEqual([
      'ARCHIVE_S3_BUCKET: "Bad_Bucket" may hold only lower-case letters, digits, "." and "-", and must start and end with a letter or digit',
      'AWS_ENDPOINT_URL: must use http or https, got ftp',
      'ARCHIVE_S3_FORCE_PATH_STYLE: must be true or false, got "maybe"',
      'AWS_SECRET_ACCESS_KEY: is required when AWS_ACCESS_KEY_ID is set',
      'ARCHIVE_S3_PART_SIZE_MB: must be between 5 and 5120, got 1',
      'ARCHIVE_GZIP_LEVEL: must be between 1 and 9, got 11',
    ]);
  });

  it('at boot, no target at all is allowed; a bad one is not', () => {
    expect(readOptionalArchiveConfig({})).toBeNull();
    expect(() => readOptionalArchiveConfig({ ARCHIVE_S3_BUCKET: 'x' })).toThrow(ConfigError);
    expect(readOptionalArchiveConfig({ ARCHIVE_DIR: '/a' })?.target).toEqual({ kind: 'directory', dir: '/a' });
  });

  it('checks bucket names and normalises prefixes', () => {
    expect(bucketNameProblem('my.bucket-1')).toBeNull();
    expect(bucketNameProblem('ab')).toMatch(/3 to 63/);
    expect(bucketNameProblem('a..b')).toMatch(/\.\./);
    expect(bucketNameProblem('192.168.0.1')).toMatch(/IP address/);
    expect(bucketNameProblem('-abc')).toMatch(/start and end/);
    expect(normalisePrefix(undefined)).toBe('');
    expect(normalisePrefix('//a/b')).toBe('a/b/');
    expect(normalisePrefix('a/')).toBe('a/');
  });
});
