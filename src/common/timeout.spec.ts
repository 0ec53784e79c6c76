import { settlesWithin, TimeoutError, withTimeout } from './timeout';

const after = <T>(ms: number, value: T, fail = false) =>
  new Promise<T>((resolve, reject) => setTimeout(() => (fail ? reject(new Error(String(value))) : resolve(value)), ms));

describe('withTimeout', () => {
  it('settles as the operation does when it is in time', async () => {
    await expect(withTimeout(after(5, 'done'), 1000, 'slow')).resolves.toBe('done');
    await expect(withTimeout(after(5, 'boom', true), 1000, 'slow')).rejects.toThrow('boom');
  });

  it('rejects with a TimeoutError naming what did not answer, and absorbs the late outcome', async () => {
    const late = after(200, 'late failure', true);
    const err = await withTimeout(late, 20, () => 'the queue did not answer within 20 ms').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ code: 'TIMEOUT', message: 'the queue did not answer within 20 ms' });
    await expect(late).rejects.toThrow('late failure');
  });
});

describe('settlesWithin', () => {
  it('says whether the operation settled, fulfilled or rejected, before the deadline', async () => {
    expect(await settlesWithin(after(5, 1), 1000)).toBe(true);
    expect(await settlesWithin(after(5, 1, true), 1000)).toBe(true);
    expect(await settlesWithin(after(500, 1), 20)).toBe(false);
  });
});
