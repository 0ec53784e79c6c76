/**
 * How Route 53 failures are told apart and reported. Route 53 throttles with HTTP 400 and the code
 * `Throttling` (not a modelled exception: the SDK names the error after the code), or with the
 * modelled `ThrottlingException`; `PriorRequestNotComplete` means an earlier change to the zone is still
 * being processed. Those three are worth retrying; everything else (InvalidChangeBatch, InvalidInput,
 * NoSuchHostedZone, credentials, connection refused...) is reported with the provider's own message.
 */
import { RetriesExhaustedError } from './retry';

export const RETRYABLE_CODES: ReadonlySet<string> = new Set(['Throttling', 'ThrottlingException', 'PriorRequestNotComplete']);

const MAX_MESSAGE = 500;

type ErrorShape = {
  name?: unknown;
  message?: unknown;
  Code?: unknown;
  code?: unknown;
  Error?: { Code?: unknown; Message?: unknown };
  messages?: unknown;
  Messages?: { Message?: unknown };
  $retryable?: { throttling?: boolean };
  $metadata?: { httpStatusCode?: number };
};

const asShape = (err: unknown): ErrorShape => (typeof err === 'object' && err !== null ? err : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The provider's error code: the SDK's error name, or the code of the XML error body when the name is generic. */
export function providerCode(err: unknown): string {
  const e = asShape(err);
  const name = str(e.name);
  const code = str(e.Code) ?? str(e.Error?.Code) ?? str(e.code);
  if (name && !['Error', 'Unknown', 'UnknownError', 'Route53ServiceException'].includes(name)) return name;
  // Route 53's older <InvalidChangeBatch><Messages> body has no code; the SDK calls it "Unknown".
  return code ?? (batchMessages(e).length > 0 ? 'InvalidChangeBatch' : (name ?? 'Error'));
}

export function isRetryableRoute53Error(err: unknown): boolean {
  const e = asShape(err);
  if (RETRYABLE_CODES.has(providerCode(err))) return true;
  // The bare HTTP 400 shape: a generic error whose XML body says <Code>Throttling</Code>.
  const code = str(e.Code) ?? str(e.Error?.Code);
  if (code && RETRYABLE_CODES.has(code)) return true;
  return e.$retryable?.throttling === true;
}

/** `Code: message`, with the InvalidChangeBatch messages when the SDK only says "UnknownError". Never holds credentials. */
export function describeProviderError(err: unknown): string {
  const e = asShape(err);
  let message = str(e.message) ?? str(e.Error?.Message) ?? '';
  const listed = batchMessages(e);
  if ((message === '' || message === 'UnknownError') && listed.length > 0) message = listed.join('; ');
  const code = providerCode(err);
  const text = message === '' ? code : message.startsWith(`${code}:`) ? message : `${code}: ${message}`;
  return redact(text).slice(0, MAX_MESSAGE);
}

function batchMessages(e: ErrorShape): string[] {
  if (Array.isArray(e.messages)) return e.messages.filter((m): m is string => typeof m === 'string');
  const m = e.Messages?.Message;
  if (typeof m === 'string') return [m];
  if (Array.isArray(m)) return m.filter((x): x is string => typeof x === 'string');
  return [];
}

/** Access key ids are not secrets, but nothing identifying credentials belongs in a status line either. */
function redact(text: string): string {
  return text.replace(/\b(AKIA|ASIA)[A-Z0-9]{12,}\b/g, '$1***');
}

/** A Route 53 call failed for good: not retryable, or retried `attempts` times. */
export class Route53CallError extends Error {
  readonly code = 'ROUTE53_CALL_FAILED';
  readonly providerCode: string;
  readonly attempts: number;

  constructor(
    readonly operation: string,
    err: unknown,
  ) {
    const last = err instanceof RetriesExhaustedError ? err.lastError : err;
    const attempts = err instanceof RetriesExhaustedError ? err.attempts : 1;
    super(`Route 53 ${operation} failed${attempts > 1 ? ` after ${attempts} attempts` : ''}: ${describeProviderError(last)}`, {
      cause: last,
    });
    this.name = 'Route53CallError';
    this.providerCode = providerCode(last);
    this.attempts = attempts;
  }
}

/** GetChange did not report INSYNC in time. The change may still take effect later. */
export class Route53SyncTimeoutError extends Error {
  readonly code = 'ROUTE53_SYNC_TIMEOUT';
  constructor(
    readonly changeId: string,
    readonly waitedMs: number,
    readonly lastStatus: string,
  ) {
    super(
      `Route 53 change ${changeId} was still ${lastStatus} after waiting ${waitedMs} ms (ROUTE53_SYNC_TIMEOUT_MS); ` +
        'it may still take effect, so read the weights back before sending it again',
    );
    this.name = 'Route53SyncTimeoutError';
  }
}

/** retireLegacy would take traffic away or leave the name without an answer. */
export class Route53RetireRefusedError extends Error {
  readonly code = 'ROUTE53_RETIRE_REFUSED';
  constructor(reason: string) {
    super(`Refusing to delete the legacy weighted record: ${reason}`);
    this.name = 'Route53RetireRefusedError';
  }
}
