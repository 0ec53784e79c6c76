/**
 * Two runs of one traffic change at once: a worker whose job lock lapsed while it was alive but slow (its event loop
 * blocked, its network stalled) goes on with the change while another worker, which took the job over, runs it too.
 * TrafficService.execute twice on one intent log in PostgreSQL, each run with its own router: a fake of the project's
 * port over one shared provider with Route 53's compare-and-set on the fence (the Route 53 router against moto is
 * route53-traffic.test.ts's and traffic-zombie-worker.test.ts's), where each call can be held at a chosen point.
 *
 * First case: run A reads, then stalls before its batch. Run B claims the change, sends its batch and waits for it to
 * settle. A's batch is refused (B replaced the fence A read). A gives up: the change is B's now (its claim is newer),
 * so A must leave the provider and the log alone. Had A gone on to put the old weights back (it read B's batch under
 * its own change's fence), B could finish `done` first and A's put-back land after: the move committed, the old
 * weights served.
 * Second case: A's batch lands but its settle times out; A looks, finds its claim still the latest, and stalls just
 * before putting the old weights back. B takes the change over, finds the weights in effect, and finishes `done`. A
 * wakes and sends its put-back. B must have sent its batch all the same (a re-run does), so that the fence A's
 * put-back presents is stale and Route 53 refuses it; otherwise the old weights are served under the commit.
 */
import { randomBytes } from 'node:crypto';
import type { TrafficConfig } from '../src/traffic/traffic.config';
import type { TrafficQueue } from '../src/traffic/traffic.queue';
import {
  AppliedChange,
  Fence,
  FencedBy,
  sameWeights,
  TrafficRouter,
  TrafficState,
  Weights,
  WeightsMismatchError,
} from '../src/traffic/traffic-router.port';
import { TrafficService } from '../src/traffic/traffic.service';
import { useMigratedDatabase } from './support/databases';

/** The provider both runs talk to: weights and a fence that a batch must present as it is to replace. */
class Provider {
  weights: Weights = { legacy: 100, new: 0 };
  fence: Fence | null = { changeId: null, token: 'initial', record: null };
  batches = 0;

  send(weights: Weights, fence: FencedBy): void {
    if (fence.from?.token !== this.fence?.token) throw new Error('InvalidChangeBatch: the fence record does not match');
    this.batches++;
    this.weights = { ...weights };
    this.fence = { changeId: fence.changeId, token: randomBytes(4).toString('hex'), record: null };
  }
}

type Point = 'submit' | 'settle' | 'apply';

/** One run's router: holds a call at a point until released, and says when the call got there. */
class HeldRouter implements TrafficRouter {
  readonly provider = 'fake';
  private readonly gates = new Map<Point, { reached: () => void; release: Promise<void> }>();
  readonly reached = new Map<Point, Promise<void>>();
  readonly calls: Point[] = [];

  constructor(private readonly world: Provider) {}

  /** Calls at `point` wait for the function returned. */
  hold(point: Point): () => void {
    let release!: () => void;
    let reached!: () => void;
    this.reached.set(point, new Promise<void>((r) => (reached = r)));
    this.gates.set(point, { reached, release: new Promise<void>((r) => (release = r)) });
    return release;
  }

  private async at(point: Point): Promise<void> {
    this.calls.push(point);
    const gate = this.gates.get(point);
    if (!gate) return;
    gate.reached();
    await gate.release;
  }

  async submit(weights: Weights, fence?: FencedBy): Promise<AppliedChange> {
    await this.at('submit');
    this.world.send(weights, fence ?? { from: this.world.fence, changeId: 0 });
    return { changeId: `batch-${this.world.batches}` };
  }

  /** Set: settle fails with it (Route 53 still PENDING at the deadline, say). */
  settleError: Error | null = null;

  async settle(_change: AppliedChange, weights: Weights): Promise<void> {
    await this.at('settle');
    if (this.settleError) throw this.settleError;
    if (!sameWeights(this.world.weights, weights)) throw new WeightsMismatchError(weights, this.world.weights);
  }

  async apply(weights: Weights, fence?: FencedBy): Promise<AppliedChange> {
    await this.at('apply');
    this.world.send(weights, fence ?? { from: this.world.fence, changeId: 0 });
    return { changeId: `batch-${this.world.batches}` };
  }

  async read(): Promise<Weights | null> {
    return { ...this.world.weights };
  }

  async state(): Promise<TrafficState> {
    return { fence: this.world.fence, weights: { ...this.world.weights } };
  }

  async retireLegacy(): Promise<AppliedChange> {
    throw new Error('not in this test');
  }
}

describe('two runs of one traffic change at once (a job lock lapsed while its worker was alive)', () => {
  const db = useMigratedDatabase();

  const service = (router: TrafficRouter) => new TrafficService(router, db.ds, {} as TrafficQueue, { ttl: 1 } as TrafficConfig);
  /** An open change from `before` to `weights` in the log, as a phase move writes it; its id. */
  const intent = async (weights: Weights, before: Weights): Promise<number> => {
    const [{ id }] = await db.ds.query(
      `INSERT INTO traffic_changes (provider, kind, legacy_weight, new_weight, before_legacy, before_new, state)
       VALUES ('fake', 'weights', $1, $2, $3, $4, 'intent') RETURNING id`,
      [weights.legacy, weights.new, before.legacy, before.new],
    );
    return Number(id);
  };

  it('the run that was taken over gives up without touching the provider or the log; the other one finishes', async () => {
    const world = new Provider();
    const changeId = await intent({ legacy: 95, new: 5 }, { legacy: 100, new: 0 });
    const a = new HeldRouter(world);
    const b = new HeldRouter(world);
    const releaseA = a.hold('submit');
    const releaseAPutBack = a.hold('apply');
    const releaseB = b.hold('settle');

    const runA = service(a).execute(changeId);
    await a.reached.get('submit');
    const runB = service(b).execute(changeId);
    await b.reached.get('settle');
    expect(world.weights).toEqual({ legacy: 95, new: 5 });

    releaseA();
    const gaveUp = await Promise.race([runA, a.reached.get('apply')!.then(() => 'A went on to put the weights back')]);
    // Let the other run finish either way, then A's put-back if it got that far (what happened before claims).
    releaseB();
    const finished = await runB;
    releaseAPutBack();
    await runA;

    expect(gaveUp).toMatchObject({ id: changeId, state: 'submitted', attempts: 2 });
    expect(a.calls).toEqual(['submit']);
    expect(finished).toMatchObject({ id: changeId, state: 'done', attempts: 2, error: null });
    expect(world.weights).toEqual({ legacy: 95, new: 5 });
    expect(world.fence).toMatchObject({ changeId });
    expect(world.batches).toBe(1);
    const [row] = await db.ds.query('SELECT state, attempts FROM traffic_changes WHERE id = $1', [changeId]);
    expect(row).toEqual({ state: 'done', attempts: 2 });
  });

  it('a run taken over between its look and its put-back cannot put the old weights back under the commit', async () => {
    const world = new Provider();
    const changeId = await intent({ legacy: 75, new: 25 }, { legacy: 90, new: 10 });
    world.weights = { legacy: 90, new: 10 };
    // A sends its batch, its settle times out, it decides to put the old weights back, and stalls right there.
    const a = new HeldRouter(world);
    a.settleError = new Error('Route 53 change still PENDING after the timeout');
    const releaseAPutBack = a.hold('apply');
    const runA = service(a).execute(changeId);
    await a.reached.get('apply');
    expect(world.weights).toEqual({ legacy: 75, new: 25 });

    // B takes the change over: the weights are in effect already, and it sends its batch again all the same.
    const b = new HeldRouter(world);
    const finished = await service(b).execute(changeId);
    expect(finished).toMatchObject({ id: changeId, state: 'done', attempts: 2 });
    expect(b.calls).toEqual(['submit', 'settle']);

    releaseAPutBack();
    const woke = await runA;
    expect(woke).toMatchObject({ id: changeId, state: 'done', attempts: 2 });
    // A's put-back presented the fence it read before B's batch: refused.
    expect(world.weights).toEqual({ legacy: 75, new: 25 });
    expect(world.batches).toBe(2);
    expect(world.fence).toMatchObject({ changeId });
    const [row] = await db.ds.query('SELECT state, attempts FROM traffic_changes WHERE id = $1', [changeId]);
    expect(row).toEqual({ state: 'done', attempts: 2 });
  });
});
