/**
 * The run a history is recorded from: seeded clients doing a random mix of appends, patches, creates, deletes,
 * reads and listings against a small set of shared conversations (several writers each), every request to a
 * random replica; an operator flipping the source of truth back and forth; and faults (a replica and the worker
 * SIGKILLed and restarted, a replica and the worker frozen and resumed, Redis flushed, the legacy server SIGKILLed
 * and started, PostgreSQL's sessions ended). Each client's choices come from its own seeded generator, so a run is
 * replayable up to the interleaving.
 *
 * The conversations clients create join the shared ones, and a few of those are deleted (soft, as the API deletes)
 * while the others go on writing to, reading and listing them, so every path that copies a conversation (repair,
 * catch-up, the flip's last pass, verification) meets deletes racing writes, and none may bring one back.
 *
 * The legacy application takes part too, when the run gives it a connection: while legacy is the source of truth
 * and not drained it appends to the shared conversations, starts new ones and deletes some it started, straight in
 * legacy as it always has (the clients write to those too), and its acknowledged writes are in the history like the
 * API's. The operator drains it (stops it and waits for its write in flight: Route 53's legacy weight at 0 for the
 * record's TTL, SPEC section 3) before every flip to the new store, and lets it write again once legacy is the
 * source of truth again, so the catch-up and the flip's last pass must carry every one of its writes.
 *
 * Clients behave as careful production clients do: keyed requests (Idempotency-Key) are retried on
 * anything indeterminate, with the same key and body and often through another replica, and sometimes
 * re-submitted after they were acknowledged (a client that never saw its response); a request whose
 * connection was refused goes to another replica; nothing else is retried.
 */
import Redis from 'ioredis';
import { Collection, MongoClient, ObjectId, UpdateFilter } from 'mongodb';
import { APP_TOKEN, OPERATOR_TOKEN } from '../env';
import { endSessions, sessionKiller } from '../pg-sessions';
import type { Cluster } from './cluster';
import { Attempt, decide, FaultEvent, HistoryOp, HistoryRecorder, LEGACY_APPLICATION, LEGACY_APPLICATION_REPLICA, now } from './history';
import { Reply, send } from './http';

export interface WorkloadOptions {
  /** Names this run's contents and keys, so two runs on one database never share them. */
  variant: string;
  seed: number;
  seconds: number;
  clients: number;
  conversations: number;
  flips: boolean;
  faults: boolean;
  redisUrl: string;
  /** PostgreSQL as the faults see it: they end every session of the deployment's processes for a while. */
  databaseUrl: string;
  /** The legacy server, which the faults kill (SIGKILL) and start again. */
  legacyServer: { kill(): Promise<void>; start(): Promise<void> };
  /** Redis, which the faults freeze (SIGSTOP: connections stay open and nothing answers) and thaw. */
  redisServer: { freeze(frozen: boolean): void };
  /** PostgreSQL, which the faults crash (immediate shutdown) and start again (crash recovery). */
  postgresServer: { crash(): Promise<void>; start(): Promise<void> };
  /**
   * The deployment's way to legacy (a wire-protocol proxy, support/mongo-fault-proxy.ts): while `late` is on, every
   * write legacy takes is answered with a write concern error, as a primary whose majority is late answers.
   */
  legacyMajority: { late(on: boolean): void };
  /**
   * With flips: the flips each way the run is for. A flip that meets a fault (a frozen replica, legacy stopped) can
   * take its 10-12 s, so if fewer have committed when `seconds` are up, the load and the operator go on (no new
   * faults) until they have, EXTRA_FLIP_SECONDS at most.
   */
  minFlipsEachWay?: number;
  /**
   * The legacy application's own way to the legacy server (not the deployment's proxy): with it, the legacy
   * application writes straight to legacy while legacy is the source of truth and not drained.
   */
  legacyApplication?: { mongoUrl: string };
  log?: (line: string) => void;
}

const REQUEST_TIMEOUT_MS = 10_000;
const EXTRA_FLIP_SECONDS = 60;
const OPERATOR_TIMEOUT_MS = 30_000;
const STATUS_TIMEOUT_MS = 3_000;
/** How long the operator follows a move answered 202 to its end. */
const FOLLOW_ACCEPTED_MS = 120_000;
const KEYED_ATTEMPTS = 5;
/** A listing that needs more pages than this is left incomplete (not judged). */
const MAX_LIST_PAGES = 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** mulberry32: small, seeded, good enough to draw a workload from. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface Request {
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  token?: string;
}

/** A legacy document as the legacy application writes it (the current format). */
interface LegacyAppDocument {
  _id: ObjectId;
  user_id?: string;
  title?: string;
  messages?: Array<{ role: string; text: string; ts: Date }>;
  meta?: Record<string, unknown>;
  created?: Date;
  v?: number;
  updated?: Date;
  deleted?: boolean;
}

/** What a keyed request needs to be sent again later, exactly as the first time. */
interface Resendable {
  op: HistoryOp;
  request: Request;
}

class Runner {
  readonly recorder = new HistoryRecorder();
  /** Set by run(); retries during set-up are not cut short. */
  private deadline = Number.POSITIVE_INFINITY;
  /** The latest the run may go on to reach minFlipsEachWay. */
  private cap = Number.POSITIVE_INFINITY;
  private readonly committed = { advance: 0, rollback: 0 };
  /** Whether the legacy application takes traffic; the operator drains it before each flip to the new store. */
  private legacyFlowing = true;
  private legacyInFlight: Promise<unknown> = Promise.resolve();
  /** Conversations clients created through the API and nobody has tried to delete yet. */
  private readonly deletable: string[] = [];

  constructor(
    private readonly cluster: Cluster,
    private readonly options: WorkloadOptions,
  ) {}

  private log(line: string): void {
    this.options.log?.(line);
  }

  private replicaUrl(i: number): string {
    return this.cluster.replicas[i].url;
  }

  private pickReplica(random: () => number, avoid?: number): number {
    const n = this.cluster.replicas.length;
    if (avoid === undefined || n === 1) return Math.floor(random() * n);
    return (avoid + 1 + Math.floor(random() * (n - 1))) % n;
  }

  private attempt(replica: number, r: Request, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Reply> {
    return send(this.replicaUrl(replica), replica, r.method, r.path, {
      token: r.token ?? APP_TOKEN,
      body: r.body,
      headers: r.headers,
      timeoutMs,
    });
  }

  /**
   * Sends `r` with the retry policy of its kind; returns the attempts and the last reply. Keyed
   * requests retry anything indeterminate (and "still in progress") with the same key; any request
   * retries a refused connection on another replica.
   */
  private async withRetries(
    random: () => number,
    r: Request,
    keyed: boolean,
  ): Promise<{ attempts: Attempt[]; last: Reply; okReply?: Reply }> {
    const attempts: Attempt[] = [];
    let replica = this.pickReplica(random);
    let last: Reply | undefined;
    const limit = keyed ? KEYED_ATTEMPTS : 3;
    for (let i = 0; i < limit; i++) {
      last = await this.attempt(replica, r);
      attempts.push(last.attempt);
      const a = last.attempt;
      if (a.outcome === 'ok') return { attempts, last, okReply: last };
      const refused = a.status === 0 && a.code === 'ECONNREFUSED';
      const retryable = refused || (keyed && (a.outcome === 'info' || a.code === 'IDEMPOTENT_REQUEST_IN_PROGRESS'));
      if (!retryable || now() > this.end() + 15_000) break;
      await sleep(refused ? 20 : 150 + random() * 350);
      replica = this.pickReplica(random, replica);
    }
    return { attempts, last: last! };
  }

  private record(
    base: Omit<HistoryOp, 'opId' | 'invokeMs' | 'completeMs' | 'outcome' | 'status' | 'replica' | 'attempts'>,
    attempts: Attempt[],
  ): HistoryOp {
    const { outcome, decisive } = decide(attempts);
    const op: HistoryOp = {
      ...base,
      opId: this.recorder.newOpId(),
      replica: attempts[0].replica,
      invokeMs: attempts[0].invokeMs,
      completeMs: decisive.completeMs,
      outcome,
      status: decisive.status,
      attempts,
    };
    if (outcome === 'ok' && decisive.version !== undefined) op.version = decisive.version;
    this.recorder.op(op);
    return op;
  }

  async createConversation(
    random: () => number,
    who: string,
    content: string,
    userId: string,
    key: string,
  ): Promise<{ op: HistoryOp; request: Request }> {
    const request: Request = {
      method: 'POST',
      path: '/conversations',
      body: { userId, title: `title of ${content}`, metadata: { by: who }, messages: [{ role: 'user', content }] },
      headers: { 'idempotency-key': key },
    };
    const { attempts, okReply } = await this.withRetries(random, request, true);
    const op = this.record(
      { process: who, kind: 'create', content, userId, idempotencyKey: key, conversationId: okReply?.attempt.id },
      attempts,
    );
    return { op, request };
  }

  /** The shared conversations every client writes to, created through the API (and in the history). */
  async setUp(): Promise<string[]> {
    const random = prng(this.options.seed);
    const ids: string[] = [];
    for (let i = 0; i < this.options.conversations; i++) {
      const { op } = await this.createConversation(
        random,
        'setup',
        `${this.options.variant}|init|${i}`,
        `history-${this.options.variant}-${i % 4}`,
        `${this.options.variant}-init-${i}`,
      );
      if (op.outcome !== 'ok') throw new Error(`could not create shared conversation ${i}: ${JSON.stringify(op.attempts)}`);
      ids.push(op.conversationId!);
    }
    return ids;
  }

  private async read(random: () => number, who: string, id: string): Promise<{ op: HistoryOp; etag?: string }> {
    const { attempts, okReply, last } = await this.withRetries(random, { method: 'GET', path: `/conversations/${id}` }, false);
    const op = this.record({ process: who, kind: 'read', conversationId: id }, attempts);
    // A 404 for a conversation whose creation was acknowledged reads as version 0 (it is in the history as a read that saw nothing).
    if (last.attempt.status === 404) {
      op.outcome = 'ok';
      op.version = 0;
      op.messages = [];
    } else if (okReply) {
      op.messages = Array.isArray(okReply.body?.messages) ? okReply.body.messages.map((m: { content: string }) => m.content) : [];
    }
    return { op, etag: okReply?.headers?.get('etag') ?? undefined };
  }

  /** The owner of the conversations the legacy application starts. */
  private legacyUser(): string {
    return `history-${this.options.variant}-legacy`;
  }

  /**
   * Every conversation of `userId`, page by page (25 to a page, so that a listing takes several requests, and now
   * and then spans a flip or a fault), as one operation: acknowledged when every page was; invoked with its first
   * page, completed with its last.
   */
  private async list(random: () => number, who: string, userId: string): Promise<HistoryOp> {
    const attempts: Attempt[] = [];
    const listed: Array<{ id: string; version: number }> = [];
    let cursor: string | null = null;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const query = `userId=${encodeURIComponent(userId)}&limit=25${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const { attempts: tries, okReply } = await this.withRetries(random, { method: 'GET', path: `/conversations?${query}` }, false);
      attempts.push(...tries);
      if (!okReply) break;
      for (const c of okReply.body?.items ?? []) listed.push({ id: c.id, version: c.version });
      cursor = okReply.body?.nextCursor ?? null;
      if (cursor === null) break;
    }
    const complete = cursor === null && attempts[attempts.length - 1].outcome === 'ok';
    // One outcome for the listing: acknowledged only when it got every page (each page's failed tries aside).
    const decisive = attempts[attempts.length - 1];
    const first: Attempt = { ...attempts[0], outcome: complete ? 'ok' : decisive.outcome === 'ok' ? 'info' : decisive.outcome };
    const op = this.record({ process: who, kind: 'list', userId }, [
      { ...first, completeMs: decisive.completeMs, status: decisive.status },
    ]);
    op.attempts = attempts;
    if (complete) op.listed = listed;
    return op;
  }

  private async client(k: number, ids: string[]): Promise<void> {
    const random = prng(this.options.seed * 1000 + k + 1);
    const who = `c${k}`;
    const resendable: Resendable[] = [];
    for (let n = 0; now() < this.end(); n++) {
      const tag = `${this.options.variant}|c${k}|o${n}`;
      // Mostly the set-up's conversations, where the writers meet; else any (created since, some deleted).
      const id = ids[Math.floor(random() * (random() < 0.75 ? this.options.conversations : ids.length))];
      const roll = random();
      if (roll < 0.45) {
        const keyed = random() < 0.5;
        const key = `${this.options.variant}-c${k}-o${n}`;
        // A third of the appends ask for the minimal answer (Prefer: return=minimal: the message, not the conversation).
        const minimal = (n + k) % 3 === 0;
        const request: Request = {
          method: 'POST',
          path: `/conversations/${id}/messages`,
          body: { role: random() < 0.5 ? 'user' : 'assistant', content: tag },
          headers: { ...(keyed ? { 'idempotency-key': key } : {}), ...(minimal ? { prefer: 'return=minimal' } : {}) },
        };
        const { attempts } = await this.withRetries(random, request, keyed);
        const op = this.record(
          { process: who, kind: 'append', conversationId: id, content: tag, idempotencyKey: keyed ? key : undefined },
          attempts,
        );
        if (keyed && op.outcome === 'ok') resendable.push({ op, request });
      } else if (roll < 0.65) {
        const pinned = random() < 0.5;
        const headers: Record<string, string> = {};
        let ifMatch: number | undefined;
        if (pinned) {
          const { op: readOp, etag } = await this.read(random, who, id);
          if (readOp.outcome !== 'ok' || !etag) continue;
          headers['if-match'] = etag;
          ifMatch = readOp.version;
        }
        const body = random() < 0.5 ? { title: `${tag}|title` } : { metadata: { by: who, op: n } };
        const { attempts } = await this.withRetries(random, { method: 'PATCH', path: `/conversations/${id}`, body, headers }, false);
        this.record({ process: who, kind: 'patch', conversationId: id, ifMatch }, attempts);
      } else if (roll < 0.86) {
        await this.read(random, who, id);
      } else if (roll < 0.91 || (roll < 0.93 && this.deletable.length === 0)) {
        const users = [0, 1, 2, 3].map((u) => `history-${this.options.variant}-${u}`).concat(this.legacyUser());
        await this.list(random, who, users[Math.floor(random() * users.length)]);
      } else if (roll < 0.93) {
        const [victim] = this.deletable.splice(Math.floor(random() * this.deletable.length), 1);
        const { attempts } = await this.withRetries(random, { method: 'DELETE', path: `/conversations/${victim}` }, false);
        this.record({ process: who, kind: 'delete', conversationId: victim }, attempts);
      } else {
        const { op, request } = await this.createConversation(
          random,
          who,
          `${tag}|create`,
          `history-${this.options.variant}-${k % 4}`,
          `${this.options.variant}-c${k}-o${n}`,
        );
        if (op.outcome === 'ok') {
          resendable.push({ op, request });
          ids.push(op.conversationId!);
          this.deletable.push(op.conversationId!);
        }
      }
      // A client that never saw its response sends the same keyed request again, through another replica.
      if (resendable.length > 0 && random() < 0.12) {
        const { op, request } = resendable[Math.floor(random() * resendable.length)];
        const reply = await this.attempt(this.pickReplica(random, op.replica), request);
        op.attempts.push({ ...reply.attempt, resubmit: true });
      }
      await sleep(10 + random() * 40);
    }
  }

  /**
   * One operator request, moved to another replica when its replica is down. A read (the status) is also moved when it
   * gets no answer within STATUS_TIMEOUT_MS (a frozen replica would hold it for its whole freeze); a flip waits its
   * OPERATOR_TIMEOUT_MS, since one that got no answer may still commit.
   */
  private async operatorRequest(random: () => number, method: string, path: string, body?: unknown): Promise<Reply> {
    const read = method === 'GET';
    let replica = this.pickReplica(random);
    for (let i = 0; ; i++) {
      const timeout = read ? STATUS_TIMEOUT_MS : OPERATOR_TIMEOUT_MS;
      const reply = await this.attempt(replica, { method, path, body, token: OPERATOR_TOKEN }, timeout);
      const unanswered = reply.attempt.status === 0 && (read || reply.attempt.code === 'ECONNREFUSED');
      if (!unanswered || i >= 3) return reply;
      replica = this.pickReplica(random, replica);
    }
  }

  /**
   * The operator's other requests, throughout the run and its faults: the sync status, the verification runs, and
   * now and then a verification (report only, in two segments so both workers walk it) while none it started is
   * still going. Each is recorded and held to the server-error rule; a 409 (a run already going) or a 503 is an
   * answer. At the end it waits, bounded, for its last verification to finish, so the settling's run is not held.
   */
  private async operatorChecks(): Promise<void> {
    const random = prng(this.options.seed * 104_729 + 3);
    const request = async (method: string, path: string, body?: unknown): Promise<Reply> => {
      const reply = await this.operatorRequest(random, method, path, body);
      const { replica, invokeMs, completeMs, status, code } = reply.attempt;
      this.recorder.operatorRead({ method, path: path.replace(/\/\d+$/, '/:id'), replica, invokeMs, completeMs, status, code });
      return reply;
    };
    let running: number | null = null;
    const counts = { started: 0, completed: 0, failed: 0 };
    const look = async () => {
      if (running === null) return;
      const reply = await request('GET', `/migration/verify/${running}`);
      const state = reply.attempt.outcome === 'ok' ? (reply.body?.status as string) : undefined;
      if (state === 'completed' || state === 'failed') {
        counts[state]++;
        running = null;
      }
    };
    for (let i = 0; now() < this.end() - 1000; i++) {
      await sleep(2000 + random() * 3000);
      if (i % 3 === 0) await request('GET', '/migration/sync');
      else if (i % 3 === 1) await request('GET', '/migration/verify?limit=5');
      else if (running === null) {
        const reply = await request('POST', '/migration/verify', {
          recheckDelayMs: 300,
          chunkSize: 10,
          segments: 2,
          reason: 'history checker: verification during the run',
        });
        if (reply.attempt.status === 202) {
          running = reply.body.id as number;
          counts.started++;
        }
      } else await look();
    }
    for (const until = now() + 60_000; running !== null && now() < until;) {
      await look();
      if (running !== null) await sleep(1000);
    }
    this.log(
      `operator: verifications started ${counts.started}, completed ${counts.completed}, failed ${counts.failed}${running === null ? '' : `, run ${running} still going`}`,
    );
  }

  /** When the load and the operator stop: `seconds` after the start, or later while flips are short (minFlipsEachWay). */
  private end(): number {
    const min = this.options.flips ? (this.options.minFlipsEachWay ?? 0) : 0;
    const short = this.committed.advance < min || this.committed.rollback < min;
    return short ? this.cap : this.deadline;
  }

  /** Flips the source of truth: rollout-100 -> deprecation (forced if gates block) and back, recording each request. */
  private async operator(): Promise<void> {
    const random = prng(this.options.seed * 7919 + 17);
    let extended = false;
    while (now() < this.end() - 1000) {
      if (!extended && now() >= this.deadline) {
        extended = true;
        this.log(`operator: ${this.committed.advance} / ${this.committed.rollback} flips committed at the run's end; going on`);
      }
      await sleep(600 + random() * 900);
      const status = await this.operatorRequest(random, 'GET', '/migration/status');
      const { replica, invokeMs, completeMs, status: answered, code } = status.attempt;
      this.recorder.operatorRead({ path: '/migration/status', replica, invokeMs, completeMs, status: answered, code });
      if (status.attempt.outcome !== 'ok') continue;
      const step: string = status.body.step;
      // Legacy the source of truth with no move under way (one answered 202 or not at all may still commit).
      if (step === 'rollout-100' && status.body.pendingMove == null) this.legacyFlowing = true;
      const direction = step === 'rollout-100' ? 'advance' : step === 'deprecation' ? 'rollback' : null;
      if (!direction) {
        this.log(`operator: unexpected step ${step}`);
        continue;
      }
      const flipId = this.recorder.newFlipId();
      const tries: Array<{ forced: boolean; body: Record<string, unknown> }> =
        direction === 'advance'
          ? [{ forced: false, body: { reason: 'history checker: flip to the new store', expectedStep: step } }]
          : [{ forced: false, body: { reason: 'history checker: flip back to legacy', expectedStep: step } }];
      // Legacy drained before the source of truth leaves it: the legacy application stops, its write in flight ends.
      if (direction === 'advance') await this.drainLegacyApplication();
      let refusedOutright = true;
      for (let i = 0; i < tries.length; i++) {
        const sentAt = Date.now();
        const reply = await this.operatorRequest(random, 'POST', `/migration/${direction}`, tries[i].body);
        const a = reply.attempt;
        // Answered 202: the move goes on in its process; an operator follows it to its end before deciding anything.
        const accepted = a.status === 202 ? await this.followAccepted(random, direction, sentAt) : null;
        const ok = a.status === 200 || accepted?.committed === true;
        if (ok) this.committed[direction]++;
        if (a.status < 400 || a.status >= 500) refusedOutright = false;
        // Back on legacy: the legacy application takes traffic again.
        if (ok && direction === 'rollback') this.legacyFlowing = true;
        this.recorder.flip({
          direction,
          flipId,
          replica: a.replica,
          invokeMs: a.invokeMs,
          completeMs: a.completeMs,
          status: a.status,
          code: accepted && !accepted.committed ? 'ACCEPTED_THEN_FAILED' : a.code,
          forced: tries[i].forced,
          ok,
          message: ok
            ? undefined
            : (accepted?.error ?? (typeof reply.body?.message === 'string' ? reply.body.message : undefined))?.slice(0, 300),
          acceptedUntilMs: accepted?.untilMs,
        });
        if (direction === 'advance' && a.code === 'GATE_FAILED' && !tries[i].forced) {
          tries.push({
            forced: true,
            body: {
              reason: 'history checker: forced flip to the new store (gates are not the subject here)',
              expectedStep: step,
              force: true,
            },
          });
        }
      }
      // Every try refused with a 4xx: nothing moved, legacy is still the source of truth.
      if (direction === 'advance' && refusedOutright) this.legacyFlowing = true;
    }
  }

  /**
   * Follows a move answered 202 until no move is pending (the status), then reads its end in the audit log: the
   * newest entry of this direction since it was sent, committed (`rollback`, `advance`, `advance_forced`) or not
   * (`<direction>_failed`, with its error). Bounded: a move still pending after FOLLOW_ACCEPTED_MS counts as not made.
   */
  private async followAccepted(
    random: () => number,
    direction: 'advance' | 'rollback',
    sentAt: number,
  ): Promise<{ committed: boolean; error?: string; untilMs: number }> {
    // Not much past the run's end either: the settling after it deals with a move still pending.
    const deadline = Math.min(now() + FOLLOW_ACCEPTED_MS, this.end() + 30_000);
    while (now() < deadline) {
      await sleep(500);
      const status = await this.operatorRequest(random, 'GET', '/migration/status');
      const { replica, invokeMs, completeMs, status: answered, code } = status.attempt;
      this.recorder.operatorRead({ path: '/migration/status', replica, invokeMs, completeMs, status: answered, code });
      if (status.attempt.outcome !== 'ok' || status.body.pendingMove != null) continue;
      const history = await this.operatorRequest(random, 'GET', '/migration/history?limit=10');
      const h = history.attempt;
      this.recorder.operatorRead({
        path: '/migration/history',
        replica: h.replica,
        invokeMs: h.invokeMs,
        completeMs: h.completeMs,
        status: h.status,
        code: h.code,
      });
      if (h.outcome !== 'ok') continue;
      const items: Array<{ at: string; action: string; details?: { error?: string } }> = history.body.items ?? [];
      // Server and test share a clock here; a second of slack for the request's own time.
      const entry = items.find((e) => e.action.startsWith(direction) && Date.parse(e.at) >= sentAt - 1000);
      if (!entry) return { committed: false, error: 'answered 202; no audit entry of its end', untilMs: now() };
      const committed = !entry.action.endsWith('_failed');
      return { committed, error: committed ? undefined : entry.details?.error, untilMs: now() };
    }
    return { committed: false, error: `answered 202; still pending after ${FOLLOW_ACCEPTED_MS} ms`, untilMs: now() };
  }

  private async drainLegacyApplication(): Promise<void> {
    this.legacyFlowing = false;
    await this.legacyInFlight;
  }

  /**
   * The legacy application: appends straight to legacy as it always did (the message in the current format, `v` + 1,
   * `updated`), and now and then starts a conversation or deletes one it started (soft: `deleted`, `v` + 1,
   * `updated`), one write at a time, while it takes traffic. Its acknowledgement is legacy's answer (with the new
   * `v`); an error leaves the write indeterminate.
   */
  private async legacyApplication(ids: string[]): Promise<void> {
    const app = this.options.legacyApplication;
    if (!app) return;
    const random = prng(this.options.seed * 31 + 7);
    const client = new MongoClient(app.mongoUrl, { serverSelectionTimeoutMS: 2000, connectTimeoutMS: 2000, socketTimeoutMS: 5000 });
    const conversations = client.db().collection<LegacyAppDocument>('conversations');
    /** The conversations it started and has not deleted. */
    const started: string[] = [];
    try {
      for (let n = 0; now() < this.end(); n++) {
        if (!this.legacyFlowing) {
          await sleep(20);
          continue;
        }
        const content = `${this.options.variant}|legacy|o${n}`;
        const roll = random();
        const write =
          roll < 0.1
            ? this.legacyCreate(conversations, ids, content, started)
            : roll < 0.13 && started.length > 0
              ? this.legacyDelete(conversations, started.splice(Math.floor(random() * started.length), 1)[0])
              : this.legacyAppend(conversations, ids[Math.floor(random() * ids.length)], content);
        this.legacyInFlight = write;
        await write;
        await sleep(20 + random() * 60);
      }
    } finally {
      await client.close().catch(() => undefined);
    }
  }

  /**
   * A conversation the legacy application starts: inserted never modified (no `updated`), so only the catch-up's pass
   * over new `_id`s finds it. Once acknowledged it joins the shared conversations the API's clients write to.
   */
  private async legacyCreate(
    conversations: Collection<LegacyAppDocument>,
    ids: string[],
    content: string,
    started: string[],
  ): Promise<void> {
    const invokeMs = now();
    const at = new Date();
    const id = new ObjectId();
    const attempt: Attempt = { replica: LEGACY_APPLICATION_REPLICA, invokeMs, completeMs: invokeMs, outcome: 'info', status: 0 };
    try {
      await conversations.insertOne({
        _id: id,
        user_id: this.legacyUser(),
        title: `title of ${content}`,
        messages: [{ role: 'user', text: content, ts: at }],
        meta: { by: LEGACY_APPLICATION },
        created: at,
        v: 1,
      });
      Object.assign(attempt, { outcome: 'ok', status: 201, id: id.toHexString(), version: 1 });
    } catch (err) {
      attempt.code = (err as Error).name;
    }
    attempt.completeMs = now();
    this.record({ process: LEGACY_APPLICATION, kind: 'create', conversationId: id.toHexString(), content, userId: this.legacyUser() }, [
      attempt,
    ]);
    if (attempt.outcome === 'ok') {
      ids.push(id.toHexString());
      started.push(id.toHexString());
    }
  }

  /** A soft delete, as the legacy application makes one: only the catch-up's pass over changes finds it. */
  private async legacyDelete(conversations: Collection<LegacyAppDocument>, id: string): Promise<void> {
    await this.legacyChange(conversations, id, 'delete', (at) => ({ $set: { deleted: true, updated: at }, $inc: { v: 1 } }));
  }

  private async legacyAppend(conversations: Collection<LegacyAppDocument>, id: string, content: string): Promise<void> {
    await this.legacyChange(
      conversations,
      id,
      'append',
      (at) => ({ $push: { messages: { role: 'user', text: content, ts: at } }, $inc: { v: 1 }, $set: { updated: at } }),
      content,
    );
  }

  private async legacyChange(
    conversations: Collection<LegacyAppDocument>,
    id: string,
    kind: 'append' | 'delete',
    update: (at: Date) => UpdateFilter<LegacyAppDocument>,
    content?: string,
  ): Promise<void> {
    const invokeMs = now();
    const attempt: Attempt = { replica: LEGACY_APPLICATION_REPLICA, invokeMs, completeMs: invokeMs, outcome: 'info', status: 0 };
    try {
      const after = await conversations.findOneAndUpdate(
        // It writes to no conversation its users deleted (through the API or itself): that is a 404 to them.
        { _id: new ObjectId(id), deleted: { $ne: true } },
        update(new Date()),
        // The whole document back: the dev server does not take a projection on findAndModify.
        { returnDocument: 'after' },
      );
      Object.assign(attempt, after ? { outcome: 'ok', status: 200, version: Number(after.v) } : { outcome: 'fail', status: 404 });
    } catch (err) {
      attempt.code = (err as Error).name;
    }
    attempt.completeMs = now();
    this.record({ process: LEGACY_APPLICATION, kind, conversationId: id, content }, [attempt]);
  }

  /**
   * Faults at fixed fractions of the run, each on its own timeline: Redis frozen (SIGSTOP) for 3 s, a replica
   * SIGKILLed (restarted 3 s later), another one frozen for 11 s, the first worker SIGKILLed (restarted 2 s later)
   * and later the last one frozen (16 s when there are two or more, else 6 s), every Redis connection closed by the server, Redis flushed, legacy's writes answered with a write concern error for 3 s (its majority late), the legacy server SIGKILLed (started again 2 s later: what it acknowledged must still be there), PostgreSQL ending every session of every
   * process ten times a second for 2 s (what a restart or a failover does to them; nothing restarts a process
   * that dies of it, so the run's end sees it), and last PostgreSQL crashing (an immediate shutdown: no
   * checkpoint, every backend gone at once, the writes in flight never answered) and starting again a second
   * later, from its write-ahead log.
   */
  private async faults(random: () => number, started: number, seconds: number): Promise<void> {
    const at = (fraction: number) => sleep(Math.max(0, started + fraction * seconds * 1000 - now()));
    const victim = Math.floor(random() * this.cluster.replicas.length);
    const killReplica = async () => {
      await at(0.2);
      const replica = this.cluster.replicas[victim];
      this.recorder.fault('kill-api', `replica ${victim}`);
      await replica.stop('SIGKILL');
      await sleep(3000);
      await replica.start();
      this.recorder.fault('restart-api', `replica ${victim}`);
    };
    // Another replica frozen for longer than a client waits (10 s) and than an idempotency claim's lease (5 s):
    // its requests, fence holds and claims stay open meanwhile, and it carries on with them when it runs again.
    const pauseReplica = async () => {
      await at(0.3);
      const index = (victim + 1) % this.cluster.replicas.length;
      this.recorder.fault('pause-api', `replica ${index}`);
      await this.cluster.replicas[index].pause(11_000);
      this.recorder.fault('resume-api', `replica ${index}`);
    };
    const killWorker = async () => {
      await at(0.4);
      this.recorder.fault('kill-worker', this.cluster.worker.name);
      await this.cluster.worker.stop('SIGKILL');
      await sleep(2000);
      await this.cluster.worker.start();
      this.recorder.fault('restart-worker', this.cluster.worker.name);
    };
    // Redis hung rather than down (every process's commands wait on it), early, while every client is at work.
    /** A condition on for `ms` from `fraction` of the run, recorded when it begins (`on`) and when it ends (`off`). */
    const window = async (
      fraction: number,
      ms: number,
      [on, off]: [FaultEvent['kind'], FaultEvent['kind']],
      set: (on: boolean) => void,
    ) => {
      await at(fraction);
      this.recorder.fault(on);
      set(true);
      try {
        await sleep(ms);
      } finally {
        set(false);
      }
      this.recorder.fault(off);
    };
    const freezeRedis = () => window(0.1, 3000, ['freeze-redis', 'thaw-redis'], (on) => this.options.redisServer.freeze(on));
    const flush = async () => {
      const redis = new Redis(this.options.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true });
      try {
        await redis.connect();
        // After the worker's restart, so that its connections are among them.
        await at(0.55);
        // Every other client's connection closed under it (what a Redis restart or failover does to them).
        const killed = await redis.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
        this.recorder.fault('kill-redis-clients', `${String(killed)} connections`);
        await at(0.6);
        await redis.flushall();
        this.recorder.fault('flushall');
      } finally {
        redis.disconnect();
      }
    };
    // The worker frozen in the middle of its repairs, outbox and catch-up, then carrying on (with the legacy server
    // stopped for part of it).
    // With more than one worker, the last one frozen for 16 s: past the traffic job's lock (10 s) and the stalled check
    // after it (5 s), so that another worker takes over a flip's traffic change it held, and it carries on when it wakes.
    const pauseWorker = async () => {
      await at(0.62);
      const workers = this.cluster.workers;
      const frozen = workers[workers.length - 1];
      this.recorder.fault('pause-worker', frozen.name);
      await frozen.pause(workers.length > 1 ? 16_000 : 6000);
      this.recorder.fault('resume-worker', frozen.name);
    };
    // Legacy takes the writes but its majority does not confirm them in time: nothing it answers so is acknowledged,
    // and what follows legacy keeps its follow-ups. (Its data stays: the dev server cannot roll a write back.)
    // While a replica is down (killed at 0.2) and before another one is frozen (0.3), when the clients are busy.
    const lateMajority = () =>
      window(0.225, 3000, ['legacy-majority-late', 'legacy-majority-back'], (on) => this.options.legacyMajority.late(on));
    const restartLegacy = async () => {
      await at(0.7);
      this.recorder.fault('kill-legacy');
      await this.options.legacyServer.kill();
      await sleep(2000);
      await this.options.legacyServer.start();
      this.recorder.fault('start-legacy');
    };
    const endPgSessions = async () => {
      await at(0.8);
      const admin = await sessionKiller(this.options.databaseUrl);
      try {
        this.recorder.fault('end-pg-sessions');
        let ended = 0;
        for (const until = now() + 2000; now() < until;) {
          ended += await endSessions(admin);
          await sleep(100);
        }
        this.recorder.fault('pg-sessions-left-alone', `${ended} sessions ended`);
      } finally {
        await admin.end().catch(() => undefined);
      }
    };
    // PostgreSQL holds the write fence, the phase, the outbox and the new store: down, every write waits or is
    // refused, and what it acknowledged must all be there after its recovery. After the sessions' fault, whose
    // connection the crash would end (in a short run the two would overlap).
    const crashPostgres = async () => {
      await endPgSessions();
      await at(0.9);
      this.recorder.fault('crash-pg');
      await this.options.postgresServer.crash();
      await sleep(1000);
      await this.options.postgresServer.start();
      this.recorder.fault('start-pg');
    };
    await Promise.all([
      killReplica(),
      pauseReplica(),
      killWorker(),
      freezeRedis(),
      flush(),
      pauseWorker(),
      lateMajority(),
      restartLegacy(),
      crashPostgres(),
    ]);
  }

  async run(ids: string[]): Promise<void> {
    const started = now();
    this.deadline = started + this.options.seconds * 1000;
    this.cap = this.deadline + EXTRA_FLIP_SECONDS * 1000;
    const random = prng(this.options.seed ^ 0x5eed);
    const tasks: Array<Promise<void>> = Array.from({ length: this.options.clients }, (_, k) => this.client(k, ids));
    tasks.push(this.legacyApplication(ids));
    if (this.options.flips) tasks.push(this.operator());
    tasks.push(this.operatorChecks());
    if (this.options.faults) tasks.push(this.faults(random, started, this.options.seconds));
    const results = await Promise.allSettled(tasks);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length > 0) throw failed[0].reason;
  }
}

export interface RecordedRun {
  recorder: HistoryRecorder;
  ids: string[];
}

/** Sets up the shared conversations and runs the workload; returns the recorded history. */
export async function recordRun(cluster: Cluster, options: WorkloadOptions): Promise<RecordedRun> {
  const runner = new Runner(cluster, options);
  const ids = await runner.setUp();
  await runner.run(ids);
  return { recorder: runner.recorder, ids };
}
