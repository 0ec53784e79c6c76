/**
 * Settings of the cleanup archive, the `archive` section (null when no target is set): most of a migration's
 * life no archive target is needed, so the service starts without one (the archiver then refuses to run and
 * says which variables to set), but a target that IS configured is validated at boot like every
 * other section, naming every bad variable at once.
 *
 *   ARCHIVE_DIR                  a directory (absolute, or resolved against the working directory)
 *   ARCHIVE_S3_BUCKET            or an S3 bucket (exactly one of the two)
 *   ARCHIVE_S3_PREFIX            key prefix inside the bucket (optional)
 *   ARCHIVE_S3_ENDPOINT_URL      endpoint override for S3 only (else AWS_ENDPOINT_URL)
 *   ARCHIVE_S3_FORCE_PATH_STYLE  path-style URLs (default: true when an endpoint override is set)
 *   ARCHIVE_S3_PART_SIZE_MB      multipart part size, 5..5120 (default 16); two parts go up at once, so about two are in memory
 *   AWS_REGION, AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN
 *   ARCHIVE_GZIP_LEVEL           1..9 (default 6)
 *   ARCHIVE_BATCH_SIZE           documents per cursor batch (default 1000)
 *   ARCHIVE_PROGRESS_LOG_MS      interval of progress log lines (default 15000)
 */
import * as path from 'node:path';
import { ConfigError, Env, EnvReader } from '../config/env-reader';
import { readAwsCredentials } from '../config/aws-credentials';
import type { S3ArchiveSettings } from './s3-archive.target';

export type ArchiveTargetConfig = { kind: 'directory'; dir: string } | ({ kind: 's3' } & S3ArchiveSettings);

export interface ArchiveConfig {
  target: ArchiveTargetConfig;
  gzipLevel: number;
  batchSize: number;
  progressLogIntervalMs: number;
}

const MIB = 1024 * 1024;
/** The archive section (AppConfig `archive`), null when no target is configured. */
export const ARCHIVE_CONFIG = Symbol('ARCHIVE_CONFIG');

export const ARCHIVE_TARGET_VARIABLES = ['ARCHIVE_DIR', 'ARCHIVE_S3_BUCKET'] as const;

/** S3's bucket naming rules (the general-purpose ones). */
export function bucketNameProblem(name: string): string | null {
  if (name.length < 3 || name.length > 63) return 'must be 3 to 63 characters long';
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name))
    return 'may hold only lower-case letters, digits, "." and "-", and must start and end with a letter or digit';
  if (name.includes('..')) return 'must not contain ".."';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return 'must not look like an IP address';
  return null;
}

/** `a/b` -> `a/b/`; leading slashes dropped; empty stays empty. */
export function normalisePrefix(prefix: string | undefined): string {
  const p = (prefix ?? '').replace(/^\/+/, '');
  return p === '' || p.endsWith('/') ? p : `${p}/`;
}

function readS3(r: EnvReader, bucket: string): ArchiveTargetConfig {
  const problem = bucketNameProblem(bucket);
  if (problem) r.problem('ARCHIVE_S3_BUCKET', `"${bucket}" ${problem}`);
  const endpointVar = r.has('ARCHIVE_S3_ENDPOINT_URL')
    ? 'ARCHIVE_S3_ENDPOINT_URL'
    : r.has('AWS_ENDPOINT_URL')
      ? 'AWS_ENDPOINT_URL'
      : undefined;
  const endpoint = endpointVar ? r.url(endpointVar, ['http', 'https']) : undefined;
  return {
    kind: 's3',
    bucket,
    prefix: normalisePrefix(r.optionalString('ARCHIVE_S3_PREFIX')),
    region: r.string('AWS_REGION', 'us-east-1'),
    endpoint,
    forcePathStyle: r.bool('ARCHIVE_S3_FORCE_PATH_STYLE', endpoint !== undefined),
    credentials: readAwsCredentials(r),
    partSizeBytes: r.int('ARCHIVE_S3_PART_SIZE_MB', 16, 5, 5120) * MIB,
  };
}

/**
 * The archive settings, or null when no target is configured at all (neither ARCHIVE_DIR nor
 * ARCHIVE_S3_BUCKET). Problems go to `r`.
 */
export function readArchiveSettings(r: EnvReader, cwd: string): ArchiveConfig | null {
  const dir = r.optionalString('ARCHIVE_DIR');
  const bucket = r.optionalString('ARCHIVE_S3_BUCKET');
  if (dir === undefined && bucket === undefined) return null;
  if (dir !== undefined && bucket !== undefined) {
    r.problem('ARCHIVE_DIR', 'set exactly one of ARCHIVE_DIR and ARCHIVE_S3_BUCKET, not both');
  }
  const target: ArchiveTargetConfig = dir !== undefined ? { kind: 'directory', dir: path.resolve(cwd, dir) } : readS3(r, bucket!);
  return {
    target,
    gzipLevel: r.int('ARCHIVE_GZIP_LEVEL', 6, 1, 9),
    batchSize: r.int('ARCHIVE_BATCH_SIZE', 1000, 1, 100_000),
    progressLogIntervalMs: r.int('ARCHIVE_PROGRESS_LOG_MS', 15_000, 100, 3_600_000),
  };
}

/** Settings for a run that needs a target: throws a ConfigError naming every problem. */
export function readArchiveConfig(env: Env, cwd = process.cwd()): ArchiveConfig {
  const r = new EnvReader(env);
  const config = readArchiveSettings(r, cwd);
  if (config === null) r.problem('ARCHIVE_DIR', 'no archive target: set ARCHIVE_DIR (a directory) or ARCHIVE_S3_BUCKET (an S3 bucket)');
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config!;
}

/** Settings at boot: null when no target is configured, a ConfigError when one is configured badly. */
export function readOptionalArchiveConfig(env: Env, cwd = process.cwd()): ArchiveConfig | null {
  const r = new EnvReader(env);
  const config = readArchiveSettings(r, cwd);
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}
