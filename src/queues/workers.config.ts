/** The workers section (AppConfig `workers`): which queues a worker serves, its health listener, how often it recovers lost jobs. */
import type { EnvReader } from '../config/env-reader';

export interface WorkersConfig {
  queues: string[];
  /** 0: no health listener (the default, so several workers can share a machine). */
  healthPort: number;
  recoveryIntervalMs: number;
}

export const WORKERS_CONFIG = Symbol('WORKERS_CONFIG');

export function readWorkersConfig(r: EnvReader): WorkersConfig {
  return {
    queues: r.list('WORKER_QUEUES'),
    healthPort: r.int('WORKER_HEALTH_PORT', 0, 0, 65535),
    recoveryIntervalMs: r.int('WORKER_RECOVERY_INTERVAL_MS', 30_000, 1000, 3_600_000),
  };
}
