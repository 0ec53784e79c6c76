import type { StoreName } from '../model/store-name';
import { OutboxReplayer } from './outbox-replayer';
import type { OutboxEntry, RepairOutbox } from './repair-outbox';
import type { RepairPayload, RepairQueue } from './repair-queue';

/** An outbox of entries in memory that honours `holdBack` as the real ones do. */
class FakeOutbox implements RepairOutbox {
  readonly holdBacks: Array<readonly StoreName[]> = [];
  constructor(
    readonly store: StoreName,
    public entries: OutboxEntry[],
  ) {}

  async add(entry: OutboxEntry): Promise<void> {
    this.entries.push(entry);
  }

  async drain(limit: number, deliver: (entry: OutboxEntry) => Promise<void>, holdBack: readonly StoreName[] = []): Promise<number> {
    this.holdBacks.push(holdBack);
    const due = this.entries.filter((e) => !holdBack.includes(e.source)).slice(0, limit);
    for (const e of due) await deliver(e);
    this.entries = this.entries.filter((e) => !due.includes(e));
    return due.length;
  }

  async count(): Promise<number> {
    return this.entries.length;
  }
}

class FakeQueue {
  added: RepairPayload[] = [];
  async add(payload: RepairPayload): Promise<void> {
    this.added.push(payload);
  }
}

const entry = (id: string, source: StoreName): OutboxEntry => ({ conversationId: id.repeat(24), source, reason: 'test', outboxIds: [id] });

describe('OutboxReplayer', () => {
  it('holds back the entries that copy into a store that does not answer, and hands them over once it does', async () => {
    const outbox = new FakeOutbox('new', [entry('a', 'new'), entry('b', 'legacy')]);
    const queue = new FakeQueue();
    let legacyUp = false;
    const replayer = new OutboxReplayer([outbox], queue as unknown as RepairQueue, 2000, {
      legacy: async () => {
        if (!legacyUp) throw new Error('legacy is down');
      },
    });

    // Legacy down: the copy into PostgreSQL (source legacy) goes, the copy into legacy (source new) waits.
    expect(await replayer.replayOnce()).toBe(1);
    expect(outbox.holdBacks.at(-1)).toEqual(['new']);
    expect(queue.added.map((p) => [p.id, p.source])).toEqual([['b'.repeat(24), 'legacy']]);
    expect(await replayer.replayOnce()).toBe(0);
    expect(outbox.entries.map((e) => e.source)).toEqual(['new']);

    legacyUp = true;
    expect(await replayer.replayOnce()).toBe(1);
    expect(outbox.holdBacks.at(-1)).toEqual([]);
    expect(queue.added.map((p) => p.source)).toEqual(['legacy', 'new']);
    expect(queue.added[1]).toMatchObject({ id: 'a'.repeat(24), outboxIds: ['a'], reason: 'test (from outbox)' });
  });

  it('treats a probe that does not answer in time as a store that is down', async () => {
    jest.useFakeTimers();
    try {
      const outbox = new FakeOutbox('new', [entry('a', 'new')]);
      const queue = new FakeQueue();
      const replayer = new OutboxReplayer([outbox], queue as unknown as RepairQueue, 2000, {
        legacy: () => new Promise<void>(() => undefined),
      });
      const pass = replayer.replayOnce();
      await jest.advanceTimersByTimeAsync(2500);
      expect(await pass).toBe(0);
      expect(outbox.holdBacks).toEqual([['new']]);
      expect(queue.added).toEqual([]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('holds nothing back without probes', async () => {
    const outbox = new FakeOutbox('legacy', [entry('a', 'new'), entry('b', 'legacy')]);
    const queue = new FakeQueue();
    expect(await new OutboxReplayer([outbox], queue as unknown as RepairQueue).replayOnce()).toBe(2);
    expect(outbox.holdBacks).toEqual([[]]);
  });
});
