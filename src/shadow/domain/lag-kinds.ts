/** How a difference the copying explains is classified (see lag.ts); apart, so schemas read it without the comparison. */
export const LAG_KINDS = ['converged', 'not_copied', 'not_caught_up', 'follow_up'] as const;
export type LagKind = (typeof LAG_KINDS)[number];
