import { createZodDto } from 'nestjs-zod';
import { ValidationFailedError } from '../common/errors';
import { body, intString, text, z } from './schema-kit';
import { parseInput, ZodInputPipe } from './validation';

function errorsOf(fn: () => unknown): Array<{ field: string; message: string }> {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationFailedError);
    return (err as ValidationFailedError).errors as Array<{ field: string; message: string }>;
  }
  throw new Error('expected a validation error');
}

describe('schema-first input: the API error shape from zod issues', () => {
  it('names nested fields in the API spelling and reads query strings strictly', () => {
    const schema = body({ list: z.array(body({ name: text({ max: 3 }) })), n: intString(1, 5).optional() });
    expect(errorsOf(() => parseInput(schema, { list: [{ name: 'abcd' }, { nom: 'x' }], n: '1e2' }))).toEqual(
      expect.arrayContaining([
        { field: 'list[0].name', message: 'must be at most 3 characters' },
        { field: 'list[1].name', message: 'is required' },
        { field: 'list[1].nom', message: 'is not an accepted field' },
        { field: 'n', message: 'must be an integer from 1 to 5' },
      ]),
    );
    expect(parseInput(schema, { list: [], n: '5' })).toEqual({ list: [], n: 5 });
  });

  it('caps the unknown keys it lists, so an answer is never larger than the request', () => {
    const many = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 1]));
    const errors = errorsOf(() => parseInput(body({ a: text({ max: 5 }).optional() }), many));
    expect(errors).toHaveLength(21);
    expect(errors[20]).toEqual({ field: 'body', message: '30 more unknown fields' });
  });

  it('the pipe: an absent body is {} where that is valid, else "body" is required; other parameters pass', () => {
    const pipe = new ZodInputPipe();
    class Optional extends createZodDto(body({ reason: text({ max: 5 }).optional() })) {}
    class Required extends createZodDto(body({ name: z.string() })) {}
    expect(pipe.transform(undefined, { type: 'body', metatype: Optional })).toEqual({});
    expect(errorsOf(() => pipe.transform(undefined, { type: 'body', metatype: Required }))).toEqual([
      { field: 'body', message: 'must be a JSON object' },
    ]);
    expect(pipe.transform('raw', { type: 'param', metatype: String, data: 'id' })).toBe('raw');
  });
});
