/**
 * The use cases of the conversation API.
 *
 * Reads go to the store the phase names, read fresh from PostgreSQL for each request: a cached phase could
 * name the old source of truth after a flip and return a version older than one already acknowledged.
 * Every change is a read-modify-write attempt inside the write fence (src/mode/write-fence.ts): it reads the
 * source of truth and compares-and-sets on the version it read, all under one phase, and is acknowledged
 * only once the fence's transaction committed. A lost race is retried (or answered 412 when the client
 * pinned a version with If-Match). Follow-ups the write recorded are settled after the commit, off the
 * request path.
 */
import { Inject, Injectable } from '@nestjs/common';
import { DomainError, NotFoundError, ValidationFailedError, VersionConflictError } from '../common/errors';
import { KeyedLock } from '../common/keyed-lock';
import { MetricsService } from '../common/metrics/metrics.service';
import { WRITE_FENCE } from '../mode/mode.tokens';
import type { FencedWrite, WriteFence } from '../mode/write-fence';
import { OutboxFollower } from '../repair/outbox-follower';
import { RepairRecorder } from '../repair/repair-recorder';
import type { Conversation, ConversationHead, JsonObject, MessageRole } from '../model/conversation.model';
import { newConversationId } from '../model/object-id';
import type { WriteShape } from '../stores/conversation-store.port';
import { DualWriter, WriteOutcome } from './dual-writer';
import { AppendAttempt, Attempt, ClaimedKey, messageSha256, StoredResponse } from './idempotency.service';
import { appendAsLanded, Appended } from './append-record';
import { decodeCursor, encodeCursor } from './list-cursor';
import { MigrationModeService } from '../mode/migration-mode.service';

const MAX_ATTEMPTS = 25;
/** Jittered, growing pause between compare-and-set attempts, so hot conversations do not livelock. */
const backoff = (attempt: number) => new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 5 * 2 ** attempt)));
/** Far below MongoDB's 16 MiB document limit, so the legacy store can always hold what we accept. */
export const MAX_CONVERSATION_BYTES = 12 * 1024 * 1024;

export interface CreateInput {
  userId: string;
  title?: string | null;
  messages?: Array<{ role: MessageRole; content: string }>;
  metadata?: JsonObject;
}

export interface PatchInput {
  title?: string | null;
  metadata?: JsonObject;
}

/** A keyed (Idempotency-Key) write: the claim, and how the response is stored with the write. */
export interface KeyedWrite<A = Conversation> {
  key: ClaimedKey;
  respond(answer: A): StoredResponse;
}

/** What a fenced attempt did, and what it answers if it committed. */
interface Written<A> {
  outcome: WriteOutcome;
  answer: A;
}

/**
 * About the size of `c` as a document: the header serialised, and each message's text plus room for its
 * role and time. Linear in the messages but without building the whole JSON text (the message bodies are
 * most of a conversation, and most of an append's cost if serialised on every write).
 */
function approximateBytes(c: Conversation): number {
  let contentBytes = 0;
  for (const m of c.messages) contentBytes += Buffer.byteLength(m.content, 'utf8');
  return headBytes(c, c.messages.length, contentBytes);
}

/** approximateBytes of a conversation of `count` messages whose text is `contentBytes` long, with `header`. */
function headBytes(header: Omit<Conversation, 'messages'>, count: number, contentBytes: number): number {
  const { messages: _messages, messageCount: _count, contentBytes: _bytes, ...rest } = header as Partial<Conversation & ConversationHead>;
  return Buffer.byteLength(JSON.stringify({ ...rest, messages: [] }), 'utf8') + contentBytes + 64 * count;
}

function tooLarge(id: string): DomainError {
  return new DomainError('CONVERSATION_TOO_LARGE', 422, `Conversation ${id} would exceed ${MAX_CONVERSATION_BYTES} bytes`);
}

type Change = (c: Conversation, now: Date) => Conversation;

/** The conversation a create makes of `input` at `now`. */
function created(id: string, input: CreateInput, now: Date): Conversation {
  return {
    id,
    userId: input.userId,
    title: input.title ?? null,
    messages: (input.messages ?? []).map((m) => ({ role: m.role, content: m.content, createdAt: now })),
    metadata: input.metadata ?? {},
    createdAt: now,
    updatedAt: now,
    version: 1,
    deleted: false,
  };
}

/** What a change does, and what an attempt needs to know to recognise its own earlier, unacknowledged attempt. */
interface ChangeSpec {
  apply: Change;
  /** What `apply` changes, so the stores write only that (an append: one message). */
  shape: WriteShape;
  /** The attempt record of this change on `current`, for keyed writes made with legacy as the source of truth. */
  attempt?(current: Conversation, now: Date): Attempt;
  /**
   * If `current` already holds the change an earlier attempt recorded: the conversation as that attempt wrote it,
   * which is what it would have answered (later writes may have moved `current` on); else null.
   */
  landedAs?(previous: Attempt, current: Conversation): Conversation | null;
}

@Injectable()
export class ConversationService {
  private readonly conflicts;
  private readonly writes = new KeyedLock();

  constructor(
    private readonly mode: MigrationModeService,
    private readonly writer: DualWriter,
    @Inject(WRITE_FENCE) private readonly fence: WriteFence,
    private readonly follower: OutboxFollower,
    private readonly fallback: RepairRecorder,
    metrics: MetricsService,
  ) {
    this.conflicts = metrics.counter('version_conflicts_total', 'Writes that lost a compare-and-set race or failed If-Match', ['kind']);
  }

  async get(id: string): Promise<Conversation> {
    const mode = await this.mode.fresh();
    const c = await this.writer.store(mode.readFrom).get(id);
    if (!c || c.deleted) throw new NotFoundError(`Conversation ${id}`);
    return c;
  }

  /**
   * A keyed append's first response, rebuilt from the source of truth and the record its write stored
   * (appendRecord): 409 if the conversation no longer holds that message where it was written.
   */
  async answerOf(landed: AppendAttempt): Promise<Conversation> {
    const mode = await this.mode.fresh();
    const c = await this.writer.store(mode.sourceOfTruth).get(landed.id);
    const answer = c ? appendAsLanded(landed, c) : null;
    if (answer) return answer;
    throw new DomainError(
      'IDEMPOTENT_RESPONSE_UNAVAILABLE',
      409,
      `This Idempotency-Key's append was acknowledged, but conversation ${landed.id} no longer holds its message where it was written, so its first response cannot be given again; read the conversation`,
    );
  }

  async list(userId: string, limit: number, cursor?: string): Promise<{ items: Conversation[]; nextCursor: string | null }> {
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    if (after === null) throw new ValidationFailedError([{ field: 'cursor', message: 'cursor is not one this API issued' }]);
    const mode = await this.mode.fresh();
    const items = await this.writer.store(mode.readFrom).listByUser(userId, limit, after);
    const last = items[items.length - 1];
    return { items, nextCursor: items.length === limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null };
  }

  async create(input: CreateInput, keyed?: KeyedWrite): Promise<Conversation> {
    const previous = keyed?.key.previous;
    // A retried keyed create reuses the id its earlier attempt chose: if that one landed, it is found, not made twice.
    const id = previous?.kind === 'create' ? previous.id : newConversationId(new Date());
    const result = await this.fenced(id, async (w, legacyWrite) => {
      await keyed?.key.holdIn(w.q);
      if (previous?.kind === 'create') {
        // The earlier attempt made it: answer with what it made (version 1, from this same body at its time),
        // also if the conversation was written to since.
        const existing = await this.writer.read(w, id);
        if (existing) return this.finish(w, keyed, { kind: 'written', followUp: null }, created(id, input, existing.createdAt));
      }
      const c = created(id, input, new Date());
      await this.writer.refuseUnstorable(w, c);
      if (keyed && w.mode.sourceOfTruth === 'legacy') await keyed.key.recordAttempt({ kind: 'create', id });
      legacyWrite();
      return this.finish(w, keyed, await this.writer.write(w, c, null), c);
    });
    return this.settle(id, result, () => new DomainError('CONFLICT', 409, `Conversation ${id} already exists`));
  }

  patch(id: string, input: PatchInput, ifMatch?: number): Promise<Conversation> {
    return this.change(id, ifMatch, {
      shape: 'header',
      apply: (c) => ({
        ...c,
        title: input.title !== undefined ? input.title : c.title,
        metadata: input.metadata !== undefined ? input.metadata : c.metadata,
      }),
    });
  }

  /**
   * `minimal`: the client does not want the whole conversation back (Prefer: return=minimal). Where the new store is
   * the source of truth the append then reads only the conversation's head (appendOnHead), so its cost does not grow
   * with the conversation; elsewhere, and for a retry of a keyed attempt that may have landed, it reads it whole.
   */
  appendMessage(
    id: string,
    message: { role: MessageRole; content: string },
    ifMatch?: number,
    keyed?: KeyedWrite<Conversation | Appended>,
    minimal = false,
  ): Promise<Conversation | Appended> {
    const contentSha256 = messageSha256(message.content);
    return this.change(
      id,
      ifMatch,
      {
        shape: 'append',
        apply: (c, now) => ({ ...c, messages: [...c.messages, { ...message, createdAt: now }] }),
        attempt: (c, now) => ({
          kind: 'append',
          id,
          baseVersion: c.version,
          index: c.messages.length,
          role: message.role,
          contentSha256,
          at: now.toISOString(),
          title: c.title,
          metadata: c.metadata,
        }),
        landedAs: (p, c) => (p.kind === 'append' ? appendAsLanded(p, c) : null),
      },
      keyed,
      minimal ? (w) => this.appendOnHead(w, id, ifMatch, message, keyed) : undefined,
    );
  }

  /**
   * An append on the conversation's head, in the new store (the source of truth): the row's version and message count
   * and the text's bytes stand for the messages, which are neither read nor sent back.
   */
  private async appendOnHead(
    w: FencedWrite,
    id: string,
    ifMatch: number | undefined,
    message: { role: MessageRole; content: string },
    keyed: KeyedWrite<Conversation | Appended> | undefined,
  ): Promise<Written<Conversation | Appended>> {
    const head = await this.writer.readHead(w, id);
    if (!head || head.deleted) throw new NotFoundError(`Conversation ${id}`);
    this.checkIfMatch(ifMatch, head.version);
    const now = new Date(Math.max(Date.now(), head.updatedAt.getTime()));
    const added = { ...message, createdAt: now };
    const next: ConversationHead = {
      ...head,
      updatedAt: now,
      version: head.version + 1,
      messageCount: head.messageCount + 1,
      contentBytes: head.contentBytes + Buffer.byteLength(message.content, 'utf8'),
    };
    if (headBytes(next, next.messageCount, next.contentBytes) > MAX_CONVERSATION_BYTES) throw tooLarge(id);
    await this.writer.refuseUnstorable(w, next);
    const outcome = await this.writer.appendAfterHead(w, next, added, head.version);
    const { messageCount: _count, contentBytes: _bytes, ...header } = next;
    return this.finish(w, keyed, outcome, { head: header, index: head.messageCount, message: added });
  }

  async remove(id: string, ifMatch?: number): Promise<Conversation> {
    return this.change(id, ifMatch, { shape: 'header', apply: (c) => ({ ...c, deleted: true }) });
  }

  /**
   * Changes to one conversation are serialised within this process first, so replicas are the only
   * source of compare-and-set races; without it a hot conversation can starve its writers on a slow store.
   * `onHead`: the change made without reading the whole conversation, where the new store is the source of truth.
   */
  private change<A = never>(
    id: string,
    ifMatch: number | undefined,
    spec: ChangeSpec,
    keyed?: KeyedWrite<Conversation | A>,
    onHead?: (w: FencedWrite) => Promise<Written<Conversation | A>>,
  ): Promise<Conversation | A> {
    return this.writes.run(id, async () => {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const result = await this.fenced<Written<Conversation | A>>(id, async (w, legacyWrite) => {
          await keyed?.key.holdIn(w.q);
          // An earlier attempt of this key is told landed or not from the whole conversation (landedAs).
          if (onHead && w.mode.sourceOfTruth === 'new' && !keyed?.key.previous) return onHead(w);
          const current = await this.writer.read(w, id);
          if (!current) throw new NotFoundError(`Conversation ${id}`);
          // An earlier attempt of this key that landed is answered as it would have been, even if deleted since.
          const previous = keyed?.key.previous;
          const landed = previous ? (spec.landedAs?.(previous, current) ?? null) : null;
          if (landed) return this.finish(w, keyed, { kind: 'written', followUp: null }, landed);
          if (current.deleted) throw new NotFoundError(`Conversation ${id}`);
          this.checkIfMatch(ifMatch, current.version);
          // Timestamps never go backwards, even if this machine's clock is behind the last writer's.
          const now = new Date(Math.max(Date.now(), current.updatedAt.getTime()));
          const next = { ...spec.apply(current, now), updatedAt: now, version: current.version + 1 };
          if (approximateBytes(next) > MAX_CONVERSATION_BYTES) throw tooLarge(id);
          await this.writer.refuseUnstorable(w, next);
          if (keyed && spec.attempt && w.mode.sourceOfTruth === 'legacy') await keyed.key.recordAttempt(spec.attempt(current, now));
          legacyWrite();
          return this.finish(w, keyed, await this.writer.write(w, next, current.version, spec.shape), next);
        });
        if (result.outcome.kind !== 'lost') return this.settle(id, result);
        this.conflicts.inc({ kind: 'race' });
        await backoff(attempt);
      }
      throw new DomainError('WRITE_CONFLICT', 409, `Conversation ${id} is changing too fast; retry`);
    });
  }

  /**
   * One fenced attempt. If it fails after its legacy write was sent in a phase that keeps the new store in
   * step, and its transaction could not record the follow-up (PostgreSQL went away), the legacy write may have
   * landed unacknowledged: that is recorded where it still can be (Redis, else the legacy store's outbox).
   */
  private async fenced<T>(id: string, attempt: (w: FencedWrite, legacyWrite: () => void) => Promise<T>): Promise<T> {
    let sentTo: FencedWrite['mode'] | null = null;
    try {
      return await this.fence.write((w) => attempt(w, () => (sentTo = w.mode)));
    } catch (err) {
      const mode = sentTo as FencedWrite['mode'] | null;
      if (mode?.dualWrite && mode.sourceOfTruth === 'legacy')
        await this.fallback.record(id, 'legacy', 'write not acknowledged; legacy may hold it');
      throw err;
    }
  }

  private checkIfMatch(ifMatch: number | undefined, version: number): void {
    if (ifMatch === undefined || version === ifMatch) return;
    this.conflicts.inc({ kind: 'if_match' });
    throw new VersionConflictError(ifMatch, version);
  }

  /** Inside the fence, last: a keyed write stores its response in the same transaction. */
  private async finish<A>(w: FencedWrite, keyed: KeyedWrite<A> | undefined, outcome: WriteOutcome, answer: A): Promise<Written<A>> {
    if (keyed && outcome.kind === 'written') await keyed.key.completeIn(w.q, keyed.respond(answer));
    return { outcome, answer };
  }

  /** After the commit: start the follow-up, and answer. */
  private settle<A>(id: string, result: Written<A>, lost?: () => Error): A {
    const { outcome, answer } = result;
    if (outcome.kind !== 'lost' && outcome.followUp) {
      const f = outcome.followUp;
      this.follower.follow(id, f.source, f.reason, f.outboxIds, f.change);
    }
    if (outcome.kind === 'failed') throw outcome.error;
    if (outcome.kind === 'lost') throw lost?.() ?? new DomainError('WRITE_CONFLICT', 409, `Conversation ${id} changed meanwhile; retry`);
    return answer;
  }
}
