import {
  InvalidChangeBatch,
  NoSuchHostedZone,
  PriorRequestNotComplete,
  Route53ServiceException,
  ThrottlingException,
} from '@aws-sdk/client-route-53';
import { RetriesExhaustedError } from './retry';
import { describeProviderError, isRetryableRoute53Error, providerCode, Route53CallError, Route53SyncTimeoutError } from './route53-errors';

const $metadata = { httpStatusCode: 400, requestId: 'r-1' };

/** What the SDK builds from `HTTP 400 <Code>Throttling</Code>`: an unmodelled error named after the code. */
const throttlingCodeShape = () =>
  Object.assign(new Route53ServiceException({ name: 'Throttling', $fault: 'client', $metadata, message: 'Rate exceeded' }), {
    Code: 'Throttling',
  });

describe('isRetryableRoute53Error', () => {
  it.each([
    ['Throttling (HTTP 400 code shape)', throttlingCodeShape()],
    ['ThrottlingException', new ThrottlingException({ $metadata, message: 'Rate exceeded' })],
    ['PriorRequestNotComplete', new PriorRequestNotComplete({ $metadata, message: 'still processing' })],
    ['a generic error carrying the Throttling code', { name: 'Unknown', Code: 'Throttling', $metadata }],
    ['a generic error with an <Error><Code>', { name: 'Error', Error: { Code: 'PriorRequestNotComplete' }, $metadata }],
    ['an error the SDK marks as throttling', { name: 'SlowDown', $retryable: { throttling: true } }],
  ])('retries %s', (_label, err) => {
    expect(isRetryableRoute53Error(err)).toBe(true);
  });

  it.each([
    ['InvalidChangeBatch', new InvalidChangeBatch({ $metadata, message: 'bad batch' })],
    ['NoSuchHostedZone', new NoSuchHostedZone({ $metadata, message: 'No hosted zone found' })],
    ['a connection failure', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })],
    ['not an error at all', 'Throttling?'],
  ])('does not retry %s', (_label, err) => {
    expect(isRetryableRoute53Error(err)).toBe(false);
  });
});

describe('describeProviderError', () => {
  it('gives the code and the provider message', () => {
    expect(describeProviderError(throttlingCodeShape())).toBe('Throttling: Rate exceeded');
    expect(
      describeProviderError(
        new InvalidChangeBatch({ $metadata, message: "[Tried to delete resource record set [name='a.'] but it was not found]" }),
      ),
    ).toBe("InvalidChangeBatch: [Tried to delete resource record set [name='a.'] but it was not found]");
  });

  it('uses the batch messages when the SDK only says UnknownError', () => {
    const legacyShape = { name: 'Unknown', message: 'UnknownError', Messages: { Message: 'first problem' }, $metadata };
    expect(providerCode(legacyShape)).toBe('InvalidChangeBatch');
    expect(describeProviderError(legacyShape)).toBe('InvalidChangeBatch: first problem');
    expect(describeProviderError(new InvalidChangeBatch({ $metadata, message: '', messages: ['one', 'two'] }))).toBe(
      'InvalidChangeBatch: one; two',
    );
  });

  it('never repeats an access key id and stays short', () => {
    const text = describeProviderError({
      name: 'InvalidClientTokenId',
      message: `The security token AKIAIOSFODNN7EXAMPLE is invalid ${'x'.repeat(1000)}`,
    });
    expect(text).not.toContain('AKIAIOSFODNN7EXAMPLE');
    expect(text.length).toBeLessThanOrEqual(500);
  });
});

describe('Route53CallError', () => {
  it('says how many attempts were made and keeps the provider code', () => {
    const once = new Route53CallError('GetChange', new NoSuchHostedZone({ $metadata, message: 'No hosted zone found with ID: Z1' }));
    expect(once.message).toBe('Route 53 GetChange failed: NoSuchHostedZone: No hosted zone found with ID: Z1');
    expect(once.providerCode).toBe('NoSuchHostedZone');
    const exhausted = new Route53CallError('ChangeResourceRecordSets', new RetriesExhaustedError('x', 8, throttlingCodeShape()));
    expect(exhausted.message).toBe('Route 53 ChangeResourceRecordSets failed after 8 attempts: Throttling: Rate exceeded');
    expect(exhausted.attempts).toBe(8);
  });

  it('times out naming the change and the wait', () => {
    expect(new Route53SyncTimeoutError('/change/C1', 300000, 'PENDING').message).toMatch(
      /^Route 53 change \/change\/C1 was still PENDING after waiting 300000 ms/,
    );
  });
});
