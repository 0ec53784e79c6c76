/**
 * Every PostgreSQL advisory lock the service takes, by key, in one place: two features picking the same
 * number would silently serialise each other (or worse, one would release the other's lock).
 */
export enum AdvisoryLock {
  AutoProgression = 7_356_001,
  WorkRecovery = 7_356_002,
  /** Shared by every conversation write, exclusive for every phase change (src/mode/write-fence.ts). */
  WriteFence = 7_356_003,
  /** Held (session-level) by the process making a move, from before its claim to its end (phase-state.repository.ts). */
  MoveInProgress = 7_356_004,
}
