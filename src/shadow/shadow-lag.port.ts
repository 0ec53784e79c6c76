import type { CopyState } from './domain/lag';

/**
 * Where the copying between the stores stands for some conversations: the backfill's range checkpoints,
 * catch-up's watermarks (sync/) and the pending follow-ups (repair/). Those wings stand beside this one, so
 * shadow/ only names what it needs; the composition at the top binds it to their repositories.
 */
export interface ShadowLagPort {
  copyState(ids: readonly string[]): Promise<CopyState>;
}

export const SHADOW_LAG = Symbol('SHADOW_LAG');
