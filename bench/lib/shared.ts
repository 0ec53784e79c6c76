/**
 * What one scenario leaves for a later one in the same run: the PostgreSQL database the backfill
 * scenario filled from the shared data set (by the service's backfill if it ran to the end, else by
 * the raw COPY pipeline), which the verify scenario compares against the legacy data set.
 */
export interface Backfilled {
  databaseUrl: string;
  pgName: string;
  /** Which pipeline filled it. */
  by: 'backfill' | 'raw_copy';
  /** Legacy data set it was filled from. */
  datasetDb: string;
}

let backfilled: Backfilled | null = null;

export function setBackfilled(b: Backfilled): void {
  // The service's own copy wins over the raw one: verification is meant to check the backfill.
  if (backfilled?.by === 'backfill' && b.by === 'raw_copy') return;
  backfilled = b;
}

export function getBackfilled(datasetDb: string): Backfilled | null {
  return backfilled && backfilled.datasetDb === datasetDb ? backfilled : null;
}
