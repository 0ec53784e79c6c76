import { Route53SyncTimeoutError } from './route53-errors';

export interface SyncWaitOptions {
  pollIntervalMs: number;
  timeoutMs: number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

/**
 * Polls a change's status until Route 53 reports it INSYNC on all its servers (usually within 60 s).
 * The first look is immediate; later ones every `pollIntervalMs`, never sleeping past the deadline, and
 * one last look is taken at the deadline before giving up with an error naming the change and the wait.
 */
export async function waitForInSync(
  changeId: string,
  getStatus: () => Promise<string | undefined>,
  options: SyncWaitOptions,
): Promise<void> {
  const started = options.now();
  for (;;) {
    const status = (await getStatus()) ?? 'UNKNOWN';
    if (status === 'INSYNC') return;
    const waited = options.now() - started;
    if (waited >= options.timeoutMs) throw new Route53SyncTimeoutError(changeId, waited, status);
    await options.sleep(Math.max(1, Math.min(options.pollIntervalMs, options.timeoutMs - waited)));
  }
}
