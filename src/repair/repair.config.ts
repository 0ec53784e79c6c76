/** The repair section (AppConfig `repair`): job attempts and back-off before a repair is dead-lettered. */
import type { EnvReader } from '../config/env-reader';

export interface RepairConfig {
  attempts: number;
  backoffMs: number;
}

export const REPAIR_CONFIG = Symbol('REPAIR_CONFIG');

export function readRepairConfig(r: EnvReader): RepairConfig {
  return {
    attempts: r.int('REPAIR_ATTEMPTS', 10, 1, 100),
    backoffMs: r.int('REPAIR_BACKOFF_MS', 500, 1, 3_600_000),
  };
}
