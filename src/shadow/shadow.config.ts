/** The shadow section of the configuration (read by loadConfig with every other section). */
import type { EnvReader } from '../config/env-reader';

export const SHADOW_CONFIG = Symbol('SHADOW_CONFIG');

/**
 * What shadow/ shows and exports about the migration's mismatch gate: the gate's threshold and analysis
 * window belong to migration/ (above); the composition hands them down under this token.
 */
export interface ShadowGateView {
  maxMismatchRate: number;
  analysisWindowMs: number;
}
export const SHADOW_GATE_VIEW = Symbol('SHADOW_GATE_VIEW');
import { patternProblem } from './domain/path-pattern';
import type { Endpoint } from './domain/response-body';

export interface ShadowConfig {
  /** Share of reads sampled per endpoint, 0..1 (0 turns sampling off). */
  sampleRates: Record<Endpoint, number>;
  /** Share of samples that also read each side twice to find noisy fields. */
  calibrationRate: number;
  /** Most samples (waiting, delayed and running) the shadow queue may hold; samples beyond it are dropped. */
  queueMax: number;
  /** An API process queues the samples it took within this many ms as one job (0: each sample at once). */
  batchMs: number;
  /** ... or as soon as it holds this many samples, or SHADOW_BATCH_BYTES of replies. */
  batchMax: number;
  batchBytes: number;
  workerConcurrency: number;
  ignorePaths: string[];
  lagRecheckMs: number;
  lagRechecks: number;
  /** Default sliding window of GET /migration/shadow. */
  windowMs: number;
  retentionMs: number;
  maxMismatchRecords: number;
  valueMaxChars: number;
  /** Replies up to this size travel with the sample (the primary side of the comparison, and the mirror's). */
  maxReplyBytes: number;
  mirror: MirrorConfig;
}

export interface MirrorConfig {
  /** Base URL of the legacy application; mirroring is off without it. */
  baseUrl?: string;
  /** Path template per endpoint, with {id}, {userId}, {limit}, {cursor}. */
  endpoints: Partial<Record<Endpoint, string>>;
  token?: string;
  timeoutMs: number;
}

const PLACEHOLDERS = ['id', 'userId', 'limit', 'cursor'];
const REQUIRED: Record<Endpoint, string> = { get: 'id', list: 'userId' };
const DEFAULT_ENDPOINTS = 'get=/conversations/{id},list=/conversations?userId={userId}&limit={limit}';

function readEndpoints(r: EnvReader): MirrorConfig['endpoints'] {
  const name = 'SHADOW_LEGACY_API_ENDPOINTS';
  const raw = r.has(name) ? r.list(name) : DEFAULT_ENDPOINTS.split(',');
  const out: MirrorConfig['endpoints'] = {};
  for (const entry of raw) {
    const eq = entry.indexOf('=');
    const endpoint = entry.slice(0, eq).trim();
    const template = entry.slice(eq + 1).trim();
    if (eq <= 0 || (endpoint !== 'get' && endpoint !== 'list')) {
      r.problem(name, `"${entry}" must be get=<path> or list=<path>`);
      continue;
    }
    const used = [...template.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]);
    const unknown = used.filter((p) => !PLACEHOLDERS.includes(p));
    if (!template.startsWith('/')) r.problem(name, `${endpoint}: the path must start with "/"`);
    else if (unknown.length > 0)
      r.problem(
        name,
        `${endpoint}: unknown placeholder(s) ${unknown.map((p) => `{${p}}`).join(', ')} (known: {id}, {userId}, {limit}, {cursor})`,
      );
    else if (!used.includes(REQUIRED[endpoint])) r.problem(name, `${endpoint}: the path must contain {${REQUIRED[endpoint]}}`);
    else out[endpoint] = template;
  }
  return out;
}

export function readShadowConfig(r: EnvReader): ShadowConfig {
  const rate = r.number('SHADOW_SAMPLE_RATE', 0.1, 0, 1);
  const ignorePaths = r.list('SHADOW_IGNORE_PATHS');
  for (const p of ignorePaths) {
    const problem = patternProblem(p);
    if (problem) r.problem('SHADOW_IGNORE_PATHS', problem);
  }
  return {
    sampleRates: { get: r.number('SHADOW_SAMPLE_RATE_GET', rate, 0, 1), list: r.number('SHADOW_SAMPLE_RATE_LIST', rate, 0, 1) },
    calibrationRate: r.number('SHADOW_CALIBRATION_RATE', 0.05, 0, 1),
    queueMax: r.int('SHADOW_QUEUE_MAX', 1000, 1, 1_000_000),
    batchMs: r.int('SHADOW_BATCH_MS', 100, 0, 10_000),
    batchMax: r.int('SHADOW_BATCH_MAX', 50, 1, 10_000),
    batchBytes: r.int('SHADOW_BATCH_BYTES', 1024 * 1024, 1, 64 * 1024 * 1024),
    workerConcurrency: r.int('SHADOW_WORKER_CONCURRENCY', 8, 1, 500),
    ignorePaths,
    lagRecheckMs: r.int('SHADOW_LAG_RECHECK_MS', 5000, 1, 3_600_000),
    lagRechecks: r.int('SHADOW_LAG_RECHECKS', 2, 0, 100),
    windowMs: r.int('SHADOW_WINDOW_MS', 3_600_000, 1000, 30 * 24 * 3_600_000),
    retentionMs: r.int('SHADOW_RETENTION_HOURS', 48, 1, 24 * 365) * 3_600_000,
    maxMismatchRecords: r.int('SHADOW_MAX_MISMATCH_RECORDS', 10_000, 1, 10_000_000),
    valueMaxChars: r.int('SHADOW_VALUE_MAX_CHARS', 200, 16, 100_000),
    maxReplyBytes: r.int('SHADOW_MAX_REPLY_BYTES', 256 * 1024, 0, 64 * 1024 * 1024),
    mirror: {
      baseUrl: r.has('SHADOW_LEGACY_API_URL') ? r.url('SHADOW_LEGACY_API_URL', ['http', 'https']).replace(/\/+$/, '') : undefined,
      endpoints: readEndpoints(r),
      token: r.optionalString('SHADOW_LEGACY_API_TOKEN'),
      timeoutMs: r.int('SHADOW_LEGACY_API_TIMEOUT_MS', 5000, 1, 600_000),
    },
  };
}
