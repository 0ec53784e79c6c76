/**
 * The conversation API's inputs and answers, as zod schemas: the validation pipe parses requests with them,
 * OpenAPI is generated from them, and the dashboard's types come from them. The SPEC section 1 rules are
 * model/limits.ts's checks, called here, not restated.
 */
import {
  body,
  checked,
  dateTime,
  documentedAs,
  typeError,
  intString,
  jsonObject,
  NO_NUL_PATTERN,
  params,
  query,
  text,
  z,
} from '../http/schema-kit';
import type { JsonObject, MessageRole } from '../model/conversation.model';
import { MESSAGE_ROLES } from '../model/conversation.model';
import { checkContent, checkId, checkMetadata, LIMITS } from '../model/limits';

export const MAX_MESSAGES_PER_CREATE = 1000;

const roleSchema = z.enum(MESSAGE_ROLES as [MessageRole, ...MessageRole[]], {
  error: typeError(`must be one of ${MESSAGE_ROLES.join(', ')}`),
});
const content = checked(
  documentedAs(z.string({ error: typeError('must be a string') }), {
    type: 'string',
    pattern: NO_NUL_PATTERN,
    description: `At most ${LIMITS.contentMaxBytes} bytes of UTF-8; may be empty`,
  }),
  checkContent,
);
const metadata = checked(
  jsonObject(
    `At most ${LIMITS.metadataMaxBytes} bytes serialised and ${LIMITS.metadataMaxDepth} levels deep; keys must not start with $, contain . or NUL, or be __proto__, constructor or prototype`,
  ),
  checkMetadata,
) as unknown as z.ZodType<JsonObject>;
const title = text({ max: LIMITS.titleMaxChars, description: 'null or absent: no title' }).nullable();
const userId = text({ max: LIMITS.userIdMaxChars, min: 1 });

export const MessageInputSchema = body({ role: roleSchema, content });

const messageInList = z.strictObject(
  { role: roleSchema, content },
  {
    error: (i) =>
      i.code === 'unrecognized_keys'
        ? 'is not an accepted field'
        : i.code === 'invalid_type'
          ? 'must be an object with role and content'
          : undefined,
  },
);

export const CreateConversationSchema = body({
  userId,
  title: title.optional(),
  messages: z.array(messageInList, { error: 'must be an array' }).max(MAX_MESSAGES_PER_CREATE).optional(),
  metadata: metadata.optional(),
});

export const PatchConversationSchema = body({ title: title.optional(), metadata: metadata.optional() })
  .superRefine((b, ctx) => {
    if (!('title' in b) && !('metadata' in b)) ctx.addIssue({ code: 'custom', message: 'must change title or metadata', path: [] });
  })
  .meta({ description: 'At least one of title and metadata', minProperties: 1 });

const conversationId = checked(
  documentedAs(z.string({ error: 'must be 24 lower-case hex characters' }), { type: 'string', pattern: '^[0-9a-f]{24}$' }),
  (v, field) => checkId(v, field),
);

export const ConversationIdSchema = params({ id: conversationId });

export const ListConversationsSchema = query({
  userId,
  limit: intString(1, 100).default(20).meta({ description: 'default 20' }),
  cursor: z
    .string()
    .max(200, { error: 'must be a cursor this API issued' })
    .optional()
    .meta({ description: 'nextCursor of the previous page' }),
});

export const IF_MATCH = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/;
/** `If-Match: 7` or `If-Match: "7"` (the ETag as sent); anything else is a 400, not a silent ignore. */
export const IfMatchSchema = z
  .string()
  .regex(IF_MATCH, { error: 'must be a conversation version, e.g. "3"' })
  .transform((v) => Number(IF_MATCH.exec(v)![1]))
  .optional();

export const IdempotencyKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,200}$/, { error: 'must be 1-200 characters of A-Z a-z 0-9 . _ : -' })
  .optional();

// ---- answers

export const MessageSchema = z.object({ role: roleSchema, content: z.string(), createdAt: dateTime() }).meta({ id: 'Message' });

export const ConversationSchema = z
  .object({
    id: z.string().meta({ pattern: '^[0-9a-f]{24}$' }),
    userId: z.string(),
    title: z.string().nullable(),
    messages: z.array(MessageSchema),
    metadata: z.record(z.string(), z.unknown()),
    createdAt: dateTime(),
    updatedAt: dateTime(),
    version: z.int().min(0).meta({ description: 'Also sent as the ETag' }),
  })
  .meta({ description: 'A conversation as both stores hold it' });

export const AppendedMessageSchema = z
  .object({
    id: z.string().meta({ pattern: '^[0-9a-f]{24}$' }),
    version: z.int().min(1).meta({ description: 'Also sent as the ETag' }),
    updatedAt: dateTime(),
    messageCount: z.int().min(1).meta({ description: 'How many messages the conversation holds with this one, its last' }),
    message: MessageSchema,
  })
  .meta({ description: 'An append answered without the conversation (Prefer: return=minimal): the message it added' });

export const ConversationPageSchema = z
  .object({ items: z.array(ConversationSchema), nextCursor: z.string().nullable() })
  .meta({ description: 'Newest first' });

export type CreateConversationInput = z.output<typeof CreateConversationSchema>;
export type PatchConversationInput = z.output<typeof PatchConversationSchema>;
export type ConversationAnswer = z.input<typeof ConversationSchema>;
