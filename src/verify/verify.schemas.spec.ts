import { ValidationFailedError } from '../common/errors';
import { parseInput } from '../http/validation';
import { ReportQuerySchema, RunIdSchema, VERIFY_DEFAULTS, VerifyOptionsSchema } from './verify.schemas';

const fields = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationFailedError) return (err.errors as Array<{ field: string }>).map((e) => e.field).sort();
    throw err;
  }
  return [];
};

describe('verify input', () => {
  it('defaults an empty body', () => {
    expect(parseInput(VerifyOptionsSchema, {})).toEqual({ ...VERIFY_DEFAULTS, reason: null });
  });

  it('accepts every setting in range', () => {
    expect(
      parseInput(VerifyOptionsSchema, {
        repair: true,
        chunkSize: 10,
        recheckDelayMs: 0,
        pauseMs: 60000,
        segments: 64,
        reason: 'pre-canary',
      }),
    ).toEqual({
      repair: true,
      chunkSize: 10,
      recheckDelayMs: 0,
      pauseMs: 60000,
      segments: 64,
      reason: 'pre-canary',
    });
  });

  it('names every bad or unknown field', () => {
    expect(
      fields(() =>
        parseInput(VerifyOptionsSchema, { repair: 'yes', chunkSize: 5, recheckDelayMs: 1.5, pauseMs: -1, reason: 7, sample: 10 }),
      ),
    ).toEqual(['chunkSize', 'pauseMs', 'reason', 'recheckDelayMs', 'repair', 'sample']);
    expect(fields(() => parseInput(VerifyOptionsSchema, []))).toEqual(['body']);
    expect(fields(() => parseInput(VerifyOptionsSchema, { segments: 0 }))).toEqual(['segments']);
    expect(fields(() => parseInput(VerifyOptionsSchema, { segments: 65 }))).toEqual(['segments']);
    expect(fields(() => parseInput(VerifyOptionsSchema, { segments: 2.5 }))).toEqual(['segments']);
    expect(fields(() => parseInput(VerifyOptionsSchema, { reason: 'nul\u0000' }))).toEqual(['reason']);
  });

  it('parses report queries strictly', () => {
    expect(parseInput(ReportQuerySchema, {}, 'query')).toEqual({ offset: 0, limit: 100 });
    expect(parseInput(ReportQuerySchema, { offset: '1000', limit: '1000', kind: 'missing', repaired: 'false' }, 'query')).toEqual({
      offset: 1000,
      limit: 1000,
      kind: 'missing',
      repaired: false,
    });
    expect(
      fields(() => parseInput(ReportQuerySchema, { offset: '-1', limit: '1001', kind: 'all', repaired: 'yes', page: '2' }, 'query')),
    ).toEqual(['kind', 'limit', 'offset', 'page', 'repaired']);
    expect(fields(() => parseInput(RunIdSchema, { runId: '0' }, 'params'))).toEqual(['runId']);
    expect(fields(() => parseInput(RunIdSchema, { runId: 'abc' }, 'params'))).toEqual(['runId']);
    expect(parseInput(RunIdSchema, { runId: '12' }, 'params')).toEqual({ runId: 12 });
  });
});
