import { ALL_QUEUES, resolveQueues, UnknownQueueError } from './queue-names';

describe('resolveQueues', () => {
  it('serves every queue when none is named', () => {
    expect(resolveQueues([])).toEqual([...ALL_QUEUES]);
  });

  it('serves the named queues once each', () => {
    expect(resolveQueues(['repair', 'repair'])).toEqual(['repair']);
  });

  it('refuses an unknown name and lists the valid ones', () => {
    expect(() => resolveQueues(['repair', 'bogus'])).toThrow(UnknownQueueError);
    expect(() => resolveQueues(['bogus'])).toThrow(/bogus.*Valid queues: repair, backfill, catchup, verify, shadow/);
  });
});
