import { KeyedLock } from './keyed-lock';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('KeyedLock', () => {
  it('runs work for one key one at a time, in order, and other keys alongside', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const job = (key: string, n: number) =>
      lock.run(key, async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        log.push(`${key}${n}+`);
        await tick();
        log.push(`${key}${n}-`);
        running--;
      });
    await Promise.all([job('a', 1), job('a', 2), job('b', 1), job('a', 3)]);
    const a = log.filter((l) => l.startsWith('a'));
    expect(a).toEqual(['a1+', 'a1-', 'a2+', 'a2-', 'a3+', 'a3-']);
    expect(maxRunning).toBe(2);
    expect(lock.size).toBe(0);
  });

  it('keeps going after a failure and passes the failure to its caller', async () => {
    const lock = new KeyedLock();
    const failed = lock.run('k', async () => {
      throw new Error('boom');
    });
    const after = lock.run('k', async () => 42);
    await expect(failed).rejects.toThrow('boom');
    await expect(after).resolves.toBe(42);
  });
});
