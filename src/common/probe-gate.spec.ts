import { ProbeGate } from './probe-gate';

describe('ProbeGate', () => {
  let clock = 0;
  const gate = () => new ProbeGate(1000, () => clock);
  beforeEach(() => (clock = 0));

  it('lets every call through while the dependency answers', () => {
    const g = gate();
    expect([g.shouldTry(), g.shouldTry(), g.succeeded(), g.shouldTry()]).toEqual([true, true, false, true]);
    expect(g.down).toBe(false);
  });

  it('after a failure, skips the dependency for the interval, then lets one caller probe at a time', () => {
    const g = gate();
    expect(g.failed()).toBe(true);
    expect(g.down).toBe(true);
    clock = 999;
    expect(g.shouldTry()).toBe(false);
    clock = 1000;
    expect(g.shouldTry()).toBe(true);
    // The probe is out: the others keep skipping until it is due again.
    expect([g.shouldTry(), g.shouldTry()]).toEqual([false, false]);
    clock = 1500;
    // The probe fails too: the next one is an interval after that failure, and the outage has not started again.
    expect(g.failed()).toBe(false);
    clock = 2499;
    expect(g.shouldTry()).toBe(false);
    clock = 2500;
    expect(g.shouldTry()).toBe(true);
    // It answers: the outage ends once, and every call goes through again.
    expect(g.succeeded()).toBe(true);
    expect(g.succeeded()).toBe(false);
    expect([g.shouldTry(), g.shouldTry(), g.down]).toEqual([true, true, false]);
  });

  it('a probe that hangs longer than the interval does not keep the others out for good', () => {
    const g = gate();
    g.failed();
    clock = 1000;
    expect(g.shouldTry()).toBe(true);
    // No answer yet, a whole interval later: another caller may try.
    clock = 2000;
    expect(g.shouldTry()).toBe(true);
  });
});
