/**
 * The one way this code base bounds a wait. Both helpers take their deadline from `AbortSignal.timeout`,
 * whose timer never keeps a process alive and needs no clearing; the operation itself is not cancelled
 * (a Redis command or a query goes on), only the caller stops waiting for it. A late rejection of the
 * operation is absorbed, so it never surfaces as an unhandled rejection.
 */

/** What `withTimeout` rejects with when the deadline passes first. */
export class TimeoutError extends Error {
  readonly code = 'TIMEOUT';
  override readonly name = 'TimeoutError';
}

/** Settles as `op` does, or rejects with a TimeoutError carrying `message` once `ms` have passed. */
export function withTimeout<T>(op: Promise<T>, ms: number, message: string | (() => string)): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const signal = AbortSignal.timeout(ms);
    const onTimeout = () => reject(new TimeoutError(typeof message === 'function' ? message() : message));
    signal.addEventListener('abort', onTimeout, { once: true });
    op.then(resolve, reject).finally(() => signal.removeEventListener('abort', onTimeout));
  });
}

/** Waits at most `ms` for `op` to settle: true when it did (read its outcome from `op`), false when time ran out. Never rejects. */
export function settlesWithin(op: Promise<unknown>, ms: number): Promise<boolean> {
  return withTimeout(
    op.then(
      () => true,
      () => true,
    ),
    ms,
    '',
  ).catch(() => false);
}
