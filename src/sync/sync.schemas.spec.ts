import { ValidationFailedError } from '../common/errors';
import { parseInput } from '../http/validation';
import { DeadLetterQuerySchema, RedriveSchema, SyncPauseSchema, ThrottleSchema } from './sync.schemas';

const fieldsOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationFailedError);
    return ((err as ValidationFailedError).errors as Array<{ field: string }>).map((e) => e.field).sort();
  }
  throw new Error('expected a validation error');
};

describe('sync operator inputs', () => {
  it('reads the optional fields and fills the defaults', () => {
    expect(parseInput(SyncPauseSchema, {})).toEqual({});
    expect(parseInput(SyncPauseSchema, { reason: 'maintenance' })).toEqual({ reason: 'maintenance' });
    expect(parseInput(RedriveSchema, { ids: [3, 4] })).toEqual({ ids: [3, 4] });
    expect(parseInput(ThrottleSchema, { maxDocsPerSecond: null })).toEqual({ maxDocsPerSecond: null });
    expect(parseInput(ThrottleSchema, { maxDocsPerSecond: 500 })).toEqual({ maxDocsPerSecond: 500 });
    expect(parseInput(DeadLetterQuerySchema, {}, 'query')).toEqual({ status: 'open', limit: 100 });
    expect(parseInput(DeadLetterQuerySchema, { status: 'all', limit: '5', cursor: '17' }, 'query')).toEqual({
      status: 'all',
      limit: 5,
      cursor: 17,
    });
  });

  it('names every bad field at once, unknown ones included', () => {
    expect(fieldsOf(() => parseInput(RedriveSchema, { ids: [1, 'x', -2], limit: 0, extra: 1 }))).toEqual([
      'extra',
      'ids[1]',
      'ids[2]',
      'limit',
    ]);
    expect(fieldsOf(() => parseInput(ThrottleSchema, {}))).toEqual(['maxDocsPerSecond']);
    expect(fieldsOf(() => parseInput(ThrottleSchema, { maxDocsPerSecond: -1 }))).toEqual(['maxDocsPerSecond']);
    expect(fieldsOf(() => parseInput(SyncPauseSchema, { reason: 7 }))).toEqual(['reason']);
    expect(fieldsOf(() => parseInput(SyncPauseSchema, { reason: 'a\u0000b' }))).toEqual(['reason']);
    expect(fieldsOf(() => parseInput(DeadLetterQuerySchema, { status: 'x', limit: '1001', cursor: 'abc' }, 'query'))).toEqual([
      'cursor',
      'limit',
      'status',
    ]);
    expect(fieldsOf(() => parseInput(SyncPauseSchema, []))).toEqual(['body']);
  });
});
