import { ValidationFailedError } from '../common/errors';
import { parseReportQuery, parseRunId, parseVerifyOptions, VERIFY_DEFAULTS } from './verify-input';

const fields = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationFailedError) return (err.errors as Array<{ field: string }>).map((e) => e.field);
    throw err;
  }
  return [];
};

describe('verify input', () => {
  it('defaults an absent or empty body', () => {
    expect(parseVerifyOptions(undefined)).toEqual({ ...VERIFY_DEFAULTS, reason: null });
    expect(parseVerifyOptions({})).toEqual({ ...VERIFY_DEFAULTS, reason: null });
  });

  it('accepts every setting in range', () => {
    expect(parseVerifyOptions({ repair: true, chunkSize: 10, recheckDelayMs: 0, pauseMs: 60000, reason: 'pre-canary' })).toEqual({
      repair: true,
      chunkSize: 10,
      recheckDelayMs: 0,
      pauseMs: 60000,
      reason: 'pre-canary',
    });
  });

  it('names every bad or unknown field', () => {
    expect(fields(() => parseVerifyOptions({ repair: 'yes', chunkSize: 5, recheckDelayMs: 1.5, pauseMs: -1, reason: 7, sample: 10 })).sort()).toEqual(
      ['chunkSize', 'pauseMs', 'reason', 'recheckDelayMs', 'repair', 'sample'],
    );
    expect(fields(() => parseVerifyOptions([]))).toEqual(['body']);
  });

  it('parses report queries strictly', () => {
    expect(parseReportQuery({})).toEqual({ offset: 0, limit: 100 });
    expect(parseReportQuery({ offset: '1000', limit: '1000', kind: 'missing', repaired: 'false' })).toEqual({ offset: 1000, limit: 1000, kind: 'missing', repaired: false });
    expect(fields(() => parseReportQuery({ offset: '-1', limit: '1001', kind: 'all', repaired: 'yes', page: '2' })).sort()).toEqual(['kind', 'limit', 'offset', 'page', 'repaired']);
    expect(fields(() => parseRunId('0'))).toEqual(['runId']);
    expect(fields(() => parseRunId('abc'))).toEqual(['runId']);
    expect(parseRunId('12')).toBe(12);
  });
});
