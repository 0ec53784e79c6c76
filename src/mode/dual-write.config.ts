/**
 * The dual-write section (AppConfig `dualWrite`): how long the phase is cached, how long a write waits for
 * the write fence, and how long the secondary write may take. The mode owns it as the lowest floor that
 * reads it; the API's write path (conversations/) reads the secondary timeout.
 */
import type { EnvReader } from '../config/env-reader';

export interface DualWriteConfig {
  secondaryTimeoutMs: number;
  modeCacheTtlMs: number;
  fenceWaitMs: number;
}

export const DUAL_WRITE_CONFIG = Symbol('DUAL_WRITE_CONFIG');

export function readDualWriteConfig(r: EnvReader): DualWriteConfig {
  return {
    secondaryTimeoutMs: r.int('SECONDARY_WRITE_TIMEOUT_MS', 2000, 1, 600000),
    modeCacheTtlMs: r.int('MODE_CACHE_TTL_MS', 1000, 0, 60000),
    fenceWaitMs: r.int('WRITE_FENCE_WAIT_MS', 30000, 100, 600000),
  };
}
