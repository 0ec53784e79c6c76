/**
 * The use cases of the conversation API. Reads go to the store the phase names; every change is
 * read-modify-write on the source of truth with a compare-and-set on the version read, retried on a
 * lost race (or answered 412 when the client pinned a version with If-Match).
 */
import { Injectable } from '@nestjs/common';
import { DomainError, NotFoundError, ValidationFailedError, VersionConflictError } from '../common/errors';
import { KeyedLock } from '../common/keyed-lock';
import { MetricsService } from '../common/metrics/metrics.service';
import type { Conversation, JsonObject, MessageRole } from './domain/conversation.model';
import { newConversationId } from './domain/object-id';
import { DualWriter } from './dual-writer';
import { decodeCursor, encodeCursor } from './list-cursor';
import { MigrationModeService } from './migration-mode.service';

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

function approximateBytes(c: Conversation): number {
  return Buffer.byteLength(JSON.stringify(c), 'utf8');
}

@Injectable()
export class ConversationService {
  private readonly conflicts;
  private readonly writes = new KeyedLock();

  constructor(
    private readonly mode: MigrationModeService,
    private readonly writer: DualWriter,
    metrics: MetricsService,
  ) {
    this.conflicts = metrics.counter('version_conflicts_total', 'Writes that lost a compare-and-set race or failed If-Match', ['kind']);
  }

  async get(id: string): Promise<Conversation> {
    const mode = await this.mode.current();
    const c = await this.writer.store(mode.readFrom).get(id);
    if (!c || c.deleted) throw new NotFoundError(`Conversation ${id}`);
    return c;
  }

  async list(userId: string, limit: number, cursor?: string): Promise<{ items: Conversation[]; nextCursor: string | null }> {
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    if (after === null) throw new ValidationFailedError([{ field: 'cursor', message: 'cursor is not one this API issued' }]);
    const mode = await this.mode.current();
    const items = await this.writer.store(mode.readFrom).listByUser(userId, limit, after);
    const last = items[items.length - 1];
    return { items, nextCursor: items.length === limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null };
  }

  async create(input: CreateInput): Promise<Conversation> {
    const now = new Date();
    const c: Conversation = {
      id: newConversationId(now),
      userId: input.userId,
      title: input.title ?? null,
      messages: (input.messages ?? []).map((m) => ({ role: m.role, content: m.content, createdAt: now })),
      metadata: input.metadata ?? {},
      createdAt: now,
      updatedAt: now,
      version: 1,
      deleted: false,
    };
    const mode = await this.mode.current();
    if (!(await this.writer.write(mode, c, null))) throw new DomainError('CONFLICT', 409, `Conversation ${c.id} already exists`);
    return c;
  }

  patch(id: string, input: PatchInput, ifMatch?: number): Promise<Conversation> {
    return this.change(id, ifMatch, (c) => ({
      ...c,
      title: input.title !== undefined ? input.title : c.title,
      metadata: input.metadata !== undefined ? input.metadata : c.metadata,
    }));
  }

  appendMessage(id: string, message: { role: MessageRole; content: string }, ifMatch?: number): Promise<Conversation> {
    return this.change(id, ifMatch, (c, now) => ({ ...c, messages: [...c.messages, { ...message, createdAt: now }] }));
  }

  async remove(id: string, ifMatch?: number): Promise<Conversation> {
    return this.change(id, ifMatch, (c) => ({ ...c, deleted: true }));
  }

  /**
   * Changes to one conversation are serialised within this process first, so replicas are the only
   * source of compare-and-set races; without it a hot conversation can starve its writers on a slow store.
   */
  private change(id: string, ifMatch: number | undefined, apply: (c: Conversation, now: Date) => Conversation): Promise<Conversation> {
    return this.writes.run(id, () => this.changeUnlocked(id, ifMatch, apply));
  }

  private async changeUnlocked(id: string, ifMatch: number | undefined, apply: (c: Conversation, now: Date) => Conversation): Promise<Conversation> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const mode = await this.mode.current();
      const current = await this.writer.store(mode.sourceOfTruth).get(id);
      if (!current || current.deleted) throw new NotFoundError(`Conversation ${id}`);
      if (ifMatch !== undefined && current.version !== ifMatch) {
        this.conflicts.inc({ kind: 'if_match' });
        throw new VersionConflictError(ifMatch, current.version);
      }
      // Timestamps never go backwards, even if this machine's clock is behind the last writer's.
      const now = new Date(Math.max(Date.now(), current.updatedAt.getTime()));
      const next = { ...apply(current, now), updatedAt: now, version: current.version + 1 };
      if (approximateBytes(next) > MAX_CONVERSATION_BYTES) {
        throw new DomainError('CONVERSATION_TOO_LARGE', 422, `Conversation ${id} would exceed ${MAX_CONVERSATION_BYTES} bytes`);
      }
      if (await this.writer.write(mode, next, current.version)) return next;
      this.conflicts.inc({ kind: 'race' });
      await backoff(attempt);
    }
    throw new DomainError('WRITE_CONFLICT', 409, `Conversation ${id} is changing too fast; retry`);
  }
}
