import { RunContext, RunInterruptedError } from './run-context';
import { LostClaimError, LostSegmentError, VerifyRun } from './verify-run.repository';

const run = { id: 7 } as VerifyRun;

describe('RunContext', () => {
  it('stops the walk of a segment whose lease was lost, and only that one', () => {
    const ctx = new RunContext(run, 'w1', () => false);
    ctx.walkingSegment(2);
    ctx.markSegmentLost(1); // a late answer of the renewal of segment 1, walked before
    expect(() => ctx.checkStop()).not.toThrow();
    ctx.markSegmentLost(2);
    expect(() => ctx.checkStop()).toThrow(LostSegmentError);
    ctx.walkingSegment(3);
    expect(() => ctx.checkStop()).not.toThrow();
  });

  it('stops on the run lease lost before a segment, and on shutdown', () => {
    let stopping = false;
    const ctx = new RunContext(run, 'w1', () => stopping);
    ctx.walkingSegment(0);
    stopping = true;
    expect(() => ctx.checkStop()).toThrow(RunInterruptedError);
    ctx.markSegmentLost(0);
    ctx.markLeaseLost();
    expect(() => ctx.checkStop()).toThrow(LostClaimError);
  });
});
