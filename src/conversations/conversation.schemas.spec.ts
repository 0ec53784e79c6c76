import { z } from 'zod';
import { ValidationFailedError } from '../common/errors';
import { parseInput } from '../http/validation';
import { inputJsonSchema } from '../http/schema-kit';
import { CreateConversationSchema, ListConversationsSchema, MessageInputSchema, PatchConversationSchema } from './conversation.schemas';

function errorsOf(fn: () => unknown): Array<{ field: string; message: string }> {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationFailedError);
    return (err as ValidationFailedError).errors as Array<{ field: string; message: string }>;
  }
  throw new Error('expected a validation error');
}

describe('conversation input schemas (SPEC section 1 through model/limits.ts)', () => {
  it('names every bad field at once, in the API spelling, with the model rules messages', () => {
    const errors = errorsOf(() =>
      parseInput(CreateConversationSchema, {
        userId: 42,
        title: 'a\u0000b',
        messages: [{ role: 'USER', content: 'x', ts: 1 }, 'hi'],
        metadata: { $where: 1, ok: { 'a.b': 2 } },
        extra: true,
      }),
    );
    expect(errors).toEqual(
      expect.arrayContaining([
        { field: 'userId', message: 'must be a string' },
        { field: 'title', message: 'contains a NUL character at index 1' },
        { field: 'messages[0].role', message: 'must be one of user, assistant, system, tool' },
        { field: 'messages[0].ts', message: 'is not an accepted field' },
        { field: 'messages[1]', message: 'must be an object with role and content' },
        { field: 'metadata["$where"]', message: 'key must not start with "$"' },
        { field: 'metadata.ok["a.b"]', message: 'key must not contain "."' },
        { field: 'extra', message: 'is not an accepted field' },
      ]),
    );
    expect(errors).toHaveLength(8);
  });

  it('counts characters as code points and sizes in UTF-8 bytes (model/limits.ts)', () => {
    expect(parseInput(CreateConversationSchema, { userId: 'u', title: '😀'.repeat(500) }).title).toHaveLength(1000);
    expect(errorsOf(() => parseInput(CreateConversationSchema, { userId: 'u', title: '😀'.repeat(501) }))).toEqual([
      { field: 'title', message: 'must be at most 500 characters' },
    ]);
    expect(
      errorsOf(() =>
        parseInput(CreateConversationSchema, { userId: 'u', messages: [{ role: 'user', content: 'é'.repeat(32 * 1024 + 1) }] }),
      ),
    ).toEqual([{ field: 'messages[0].content', message: 'must be at most 65536 bytes in UTF-8 (is 65538)' }]);
  });

  it('refuses a patch that changes nothing, and reads query strings strictly', () => {
    expect(errorsOf(() => parseInput(PatchConversationSchema, {}))).toEqual([{ field: 'body', message: 'must change title or metadata' }]);
    expect(parseInput(ListConversationsSchema, { userId: 'u' }, 'query')).toEqual({ userId: 'u', limit: 20 });
    expect(errorsOf(() => parseInput(ListConversationsSchema, { limit: '1e2', page: '2' }, 'query'))).toEqual(
      expect.arrayContaining([
        { field: 'userId', message: 'is required' },
        { field: 'limit', message: 'must be an integer from 1 to 100' },
        { field: 'page', message: 'is not an accepted query parameter' },
      ]),
    );
  });

  // What the OpenAPI document states must not let through what the validation refuses (clients and the CI fuzzer
  // draw their requests from it).
  it('documents the rules it can: a PATCH changes at least one field, content has no NUL', () => {
    const doc = (s: z.ZodType) =>
      inputJsonSchema(s) as {
        minProperties?: number;
        properties: Record<string, { pattern?: string }>;
      };
    expect(doc(PatchConversationSchema).minProperties).toBe(1);
    expect(PatchConversationSchema.safeParse({}).success).toBe(false);
    expect(new RegExp(doc(MessageInputSchema).properties.content.pattern!).test('a\u0000b')).toBe(false);
    expect(MessageInputSchema.safeParse({ role: 'user', content: 'a\u0000b' }).success).toBe(false);
  });
});
