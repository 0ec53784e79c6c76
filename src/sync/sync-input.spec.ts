import { ValidationFailedError } from '../common/errors';
import { parseDeadLetterQuery, parsePause, parseRedrive, parseThrottle } from './sync-input';

const fieldsOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationFailedError);
    return ((err as ValidationFailedError).errors as Array<{ field: string }>).map((e) => e.field);
  }
  throw new Error('expected a validation error');
};

describe('sync operator inputs', () => {
  it('accepts absent bodies and reads the optional fields', () => {
    expect(parsePause(undefined)).toEqual({ reason: undefined });
    expect(parsePause({ reason: 'maintenance' })).toEqual({ reason: 'maintenance' });
    expect(parseRedrive(undefined)).toEqual({ ids: undefined, limit: 1000 });
    expect(parseRedrive({ ids: [3, 4] })).toEqual({ ids: [3, 4], limit: 2 });
    expect(parseThrottle({ maxDocsPerSecond: null })).toEqual({ maxDocsPerSecond: null });
    expect(parseThrottle({ maxDocsPerSecond: 500 })).toEqual({ maxDocsPerSecond: 500 });
    expect(parseDeadLetterQuery({})).toEqual({ status: 'open', limit: 100, after: undefined });
    expect(parseDeadLetterQuery({ status: 'all', limit: '5', cursor: '17' })).toEqual({ status: 'all', limit: 5, after: 17 });
  });

  it('names every bad field at once, unknown ones included', () => {
    expect(fieldsOf(() => parseRedrive({ ids: [1, 'x', -2], limit: 0, extra: 1 }))).toEqual(['extra', 'ids[1]', 'ids[2]', 'limit']);
    expect(fieldsOf(() => parseThrottle({}))).toEqual(['maxDocsPerSecond']);
    expect(fieldsOf(() => parseThrottle({ maxDocsPerSecond: -1 }))).toEqual(['maxDocsPerSecond']);
    expect(fieldsOf(() => parsePause({ reason: 7 }))).toEqual(['reason']);
    expect(fieldsOf(() => parseDeadLetterQuery({ status: 'x', limit: '1001', cursor: 'abc' }))).toEqual(['status', 'limit', 'cursor']);
    expect(fieldsOf(() => parsePause([]))).toEqual(['body']);
  });
});
