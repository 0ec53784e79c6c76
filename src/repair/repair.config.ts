/**
 * The repair section (AppConfig `repair`): job attempts and back-off before a repair is dead-lettered, and how
 * long a follow-up waits for more writes to the same conversation before the follower applies them together.
 */
import type { EnvReader } from '../config/env-reader';

export interface RepairConfig {
  attempts: number;
  backoffMs: number;
  /**
   * A follow-up is applied this long after the write that recorded it, at the earliest, so the writes to one
   * conversation meanwhile go to the other store as one (OutboxFollower): the other store lags by about this
   * much, in exchange for fewer writes to it. 0: as soon as a follower slot is free.
   */
  followUpDelayMs: number;
}

export const REPAIR_CONFIG = Symbol('REPAIR_CONFIG');

export function readRepairConfig(r: EnvReader): RepairConfig {
  return {
    attempts: r.int('REPAIR_ATTEMPTS', 10, 1, 100),
    backoffMs: r.int('REPAIR_BACKOFF_MS', 500, 1, 3_600_000),
    followUpDelayMs: r.int('FOLLOW_UP_DELAY_MS', 1000, 0, 60_000),
  };
}
