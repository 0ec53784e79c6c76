/**
 * Legacy documents in every variation the SPEC lists (old field names, upper-case roles, ISO or epoch
 * timestamps, missing optional fields), each paired with the conversation it must read as. Unit specs use it
 * for `fromLegacy`; integration tests can seed the legacy store with it (converting `_id` to an ObjectId).
 */
import fc from 'fast-check';
import { Conversation, Message } from '../conversation.model';
import { LegacyDocument, LegacyMessage } from '../legacy-document';
import { arbConversation } from './arbitraries';

export interface WildLegacyCase {
  document: LegacyDocument;
  /** What `fromLegacy(document)` must equal in canonical form. */
  expected: Conversation;
}

/** The same instant written with a UTC offset, e.g. `2021-03-04T07:06:07.123+02:00`. */
export function isoWithOffset(date: Date, offsetMinutes: number): string {
  const local = new Date(date.getTime() + offsetMinutes * 60_000).toISOString().slice(0, -1);
  const abs = Math.abs(offsetMinutes);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${local}${offsetMinutes < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

const arbOffset = fc.integer({ min: -12 * 4, max: 14 * 4 }).map((quarters) => quarters * 15);

function arbIsoString(date: Date): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constant(date.toISOString()),
    fc.constant(date.toISOString().replace('Z', '000Z')), // microsecond digits, as Python writes them
    arbOffset.map((offset) => isoWithOffset(date, offset)),
  );
}

function arbTimestamp(date: Date, allowEpoch: boolean): fc.Arbitrary<Date | string | number> {
  const forms: fc.Arbitrary<Date | string | number>[] = [fc.constant(new Date(date.getTime())), arbIsoString(date)];
  if (allowEpoch) forms.push(fc.constant(date.getTime()));
  return fc.oneof(...forms);
}

function arbLegacyMessage(m: Message): fc.Arbitrary<LegacyMessage> {
  return fc
    .record({
      role: fc.constantFrom(m.role, m.role.toUpperCase(), m.role[0].toUpperCase() + m.role.slice(1)),
      body: fc.constantFrom<Array<'text' | 'content' | 'both'>>('text', 'content', 'both'),
      ts: arbTimestamp(m.createdAt, true),
    })
    .map(({ role, body, ts }) => ({
      role,
      ...(body !== 'content' ? { text: m.content } : {}),
      ...(body !== 'text' ? { content: m.content } : {}),
      ts,
    }));
}

export function arbWildLegacyCase(): fc.Arbitrary<WildLegacyCase> {
  return arbConversation().chain((c) =>
    fc
      .record({
        userIdField: fc.constantFrom('user_id', 'userId', 'both'),
        omitTitle: fc.boolean(),
        omitMessages: fc.boolean(),
        messages: fc.tuple(...c.messages.map(arbLegacyMessage)),
        omitMeta: fc.boolean(),
        created: arbTimestamp(c.createdAt, false) as fc.Arbitrary<Date | string>,
        omitUpdated: fc.boolean(),
        omitV: fc.boolean(),
      })
      .map((w): WildLegacyCase => {
        const expected: Conversation = {
          ...c,
          title: w.omitTitle ? null : c.title,
          messages: w.omitMessages ? [] : c.messages,
          metadata: w.omitMeta ? {} : c.metadata,
          updatedAt: w.omitUpdated ? c.createdAt : c.updatedAt,
          version: w.omitV ? 0 : c.version,
        };
        const document: LegacyDocument = {
          _id: c.id,
          ...(w.userIdField !== 'userId' ? { user_id: c.userId } : {}),
          ...(w.userIdField !== 'user_id' ? { userId: c.userId } : {}),
          ...(w.omitTitle ? {} : { title: c.title }),
          ...(w.omitMessages ? {} : { messages: w.messages }),
          ...(w.omitMeta ? {} : { meta: c.metadata }),
          created: w.created,
          ...(w.omitUpdated ? {} : { updated: new Date(c.updatedAt.getTime()) }),
          ...(w.omitV ? {} : { v: c.version }),
          ...(c.deleted ? { deleted: true as const } : {}),
        };
        return { document, expected };
      }),
  );
}
