import { FenceBudget, fenceMarginMs } from './write-fence';

describe('FenceBudget', () => {
  it('counts down from its end on the clock it is given, never below 0', () => {
    let now = 1000;
    const budget = new FenceBudget(5000, 4000, () => now);
    expect([budget.leftMs(), budget.spent()]).toEqual([4000, false]);
    now = 4950;
    expect([budget.leftMs(), budget.spent(), budget.spent(100)]).toEqual([50, false, true]);
    now = 6000;
    expect([budget.leftMs(), budget.spent()]).toEqual([0, true]);
  });

  it('leaves writes a tenth of their wait, at least a second, for the commit and their retry pauses', () => {
    expect([fenceMarginMs(5000), fenceMarginMs(30_000), fenceMarginMs(90_000)]).toEqual([1000, 3000, 9000]);
  });
});
