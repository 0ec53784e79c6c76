import { Route53SyncTimeoutError } from './route53-errors';
import { waitForInSync } from './sync-wait';

function clock() {
  let now = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

describe('waitForInSync', () => {
  it('returns at once when the change is already INSYNC', async () => {
    const c = clock();
    await waitForInSync('C1', async () => 'INSYNC', { pollIntervalMs: 1000, timeoutMs: 5000, ...c });
    expect(c.sleeps).toEqual([]);
  });

  it('polls every interval while PENDING', async () => {
    const c = clock();
    const answers = ['PENDING', 'PENDING', 'INSYNC'];
    await waitForInSync('C1', async () => answers.shift(), { pollIntervalMs: 1000, timeoutMs: 5000, ...c });
    expect(c.sleeps).toEqual([1000, 1000]);
  });

  it('never sleeps past the deadline, looks once more, then names the change and the wait', async () => {
    const c = clock();
    let looks = 0;
    const err = await waitForInSync(
      '/change/C9',
      async () => {
        looks++;
        return 'PENDING';
      },
      { pollIntervalMs: 2000, timeoutMs: 5000, ...c },
    ).catch((e) => e);
    expect(err).toBeInstanceOf(Route53SyncTimeoutError);
    expect(err.message).toContain('Route 53 change /change/C9 was still PENDING after waiting 5000 ms');
    expect(c.sleeps).toEqual([2000, 2000, 1000]);
    expect(looks).toBe(4);
  });

  it('treats a missing status as not in sync', async () => {
    const c = clock();
    const err = await waitForInSync('C2', async () => undefined, { pollIntervalMs: 10, timeoutMs: 20, ...c }).catch((e) => e);
    expect(err.message).toContain('still UNKNOWN');
  });
});
