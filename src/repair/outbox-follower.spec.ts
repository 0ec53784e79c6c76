import type { Conversation } from '../model/conversation.model';
import { sampleConversation } from '../model/testing/fixtures';
import type { WrittenChange } from './follow-plan';
import { OutboxFollower } from './outbox-follower';
import type { FollowEntry, FollowOutcome } from './repair.service';
import type { OutboxEntry } from './repair-outbox';

const at = (c: Conversation, v: number): Conversation => ({ ...c, version: v });
const change = (id: string, from: number): WrittenChange => ({ next: at(sampleConversation({ id }), from + 1), from, shape: 'append' });

/** A RepairService whose answers the test decides, recording every call. */
class FakeRepairs {
  batches: FollowEntry[][] = [];
  settled: OutboxEntry[] = [];
  outcome: (e: FollowEntry) => FollowOutcome = () => 'applied';
  gate: Promise<void> = Promise.resolve();
  settleGate: Promise<void> = Promise.resolve();
  settling = 0;
  mostSettling = 0;

  async followChanges(batch: readonly FollowEntry[]): Promise<FollowOutcome[]> {
    this.batches.push([...batch]);
    await this.gate;
    return batch.map((e) => this.outcome(e));
  }

  async settle(entry: OutboxEntry): Promise<'repaired'> {
    this.settling++;
    this.mostSettling = Math.max(this.mostSettling, this.settling);
    await this.settleGate;
    this.settling--;
    this.settled.push(entry);
    return 'repaired';
  }
}

function follower(repairs: FakeRepairs, followUpDelayMs = 0, followConnections?: number): OutboxFollower {
  return new OutboxFollower(repairs, { followUpDelayMs, followConnections });
}

const A = 'a'.repeat(24);
const B = 'b'.repeat(24);

describe('OutboxFollower', () => {
  it('applies the changes of follow-ups that arrive together in one batch, in order per conversation', async () => {
    const repairs = new FakeRepairs();
    let open!: () => void;
    repairs.gate = new Promise((r) => (open = r));
    const f = follower(repairs);
    f.follow(A, 'new', 'r', ['1'], change(A, 1));
    f.follow(B, 'new', 'r', ['2'], change(B, 7));
    // Both batch slots are busy now: what arrives waits, and goes together in the next batch.
    f.follow(A, 'new', 'r', ['3'], change(A, 2));
    f.follow(B, 'new', 'r', ['4'], change(B, 8));
    f.follow(A, 'new', 'r', ['5'], change(A, 3));
    open();
    await f.drained();
    const perConversation = (id: string) =>
      repairs.batches
        .flatMap((b) => b.filter((e) => e.entry.conversationId === id))
        .map((e) => [e.entry.outboxIds, e.changes?.map((c) => c.from)]);
    expect(perConversation(A)).toEqual([
      [['1'], [1]],
      [
        ['3', '5'],
        [2, 3],
      ],
    ]);
    expect(perConversation(B)).toEqual([
      [['2'], [7]],
      [['4'], [8]],
    ]);
    expect(repairs.settled).toEqual([]);
  });

  it('repairs what cannot be applied as changes, and what came without them', async () => {
    const repairs = new FakeRepairs();
    repairs.outcome = (e) => (e.entry.conversationId === A ? 'repair' : 'applied');
    const f = follower(repairs);
    f.follow(A, 'new', 'r', ['1'], change(A, 1));
    f.follow(B, 'legacy', 'secondary write timed out', ['2']);
    await f.drained();
    expect(repairs.settled.map((e) => [e.conversationId, e.outboxIds]).sort()).toEqual([
      [A, ['1']],
      [B, ['2']],
    ]);
  });

  it("runs no more repairs at once than the follow-ups' connections leave after the two batch slots", async () => {
    const ids = Array.from({ length: 12 }, (_, i) => String(i).padStart(24, 'c'));
    for (const [connections, most] of [
      [4, 2],
      [3, 1],
      [undefined, 8],
    ] as const) {
      const repairs = new FakeRepairs();
      let open!: () => void;
      repairs.settleGate = new Promise((r) => (open = r));
      const f = follower(repairs, 0, connections);
      ids.forEach((id, i) => f.follow(id, 'legacy', 'secondary write failed', [String(i)]));
      await new Promise((r) => setImmediate(r));
      expect([connections, repairs.settling]).toEqual([connections, most]);
      open();
      await f.drained();
      expect([connections, repairs.mostSettling, repairs.settled.length]).toEqual([connections, most, ids.length]);
    }
  });

  it("waits FOLLOW_UP_DELAY_MS after a conversation's first write, so its writes meanwhile go to the other store as one", async () => {
    const repairs = new FakeRepairs();
    const f = follower(repairs, 150);
    const t0 = Date.now();
    f.follow(A, 'new', 'r', ['1'], change(A, 1));
    f.follow(A, 'new', 'r', ['2'], change(A, 2));
    await new Promise((r) => setTimeout(r, 50));
    f.follow(A, 'new', 'r', ['3'], change(A, 3));
    f.follow(B, 'new', 'r', ['4'], change(B, 7));
    await f.drained();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    expect(repairs.batches.flat().map((e) => [e.entry.conversationId, e.entry.outboxIds])).toEqual([
      [A, ['1', '2', '3']],
      [B, ['4']],
    ]);
    f.onApplicationShutdown();
  });

  it('takes the follow-ups that come due shortly after the first due one in the same batch (one transaction)', async () => {
    const repairs = new FakeRepairs();
    // FOLLOW_UP_DELAY_MS 200: a follow-up is taken 200 ms after its write, with those due up to 20 ms later.
    const f = follower(repairs, 200);
    f.follow(A, 'new', 'r', ['1'], change(A, 1));
    await new Promise((r) => setTimeout(r, 8));
    f.follow(B, 'new', 'r', ['2'], change(B, 7));
    await f.drained();
    expect(repairs.batches.map((b) => b.map((e) => e.entry.conversationId))).toEqual([[A, B]]);
    f.onApplicationShutdown();
  });

  it('leaves the rows of a batch that failed to the replayer (they are durable), without repairing them here', async () => {
    const repairs = new FakeRepairs();
    repairs.outcome = () => 'failed';
    const f = follower(repairs);
    f.follow(A, 'new', 'r', ['1'], change(A, 1));
    await f.drained();
    expect(repairs.batches).toHaveLength(1);
    expect(repairs.settled).toEqual([]);
  });
});
