import { createRootLogger } from '../../src/common/logging/root-logger';

/** Progress lines are JSON on stderr, like the service's logs: stdout carries only the JSON result lines. */
const log = createRootLogger({ level: 'info', stream: 'stderr' }).child({ context: 'bench' });

export function progress(scope: string, message: string): void {
  log.info({ scope }, message);
}

export function envInt(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name}=${raw} must be an integer >= ${min}`);
  return n;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export const round = (n: number, digits = 2) => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};
