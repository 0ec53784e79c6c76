/**
 * `npm run sync -- <command>`: the sync engine for people who prefer a shell. It only calls the
 * operator API (SYNC_API_URL, default http://127.0.0.1:3000) with OPERATOR_TOKEN (or the first entry of
 * OPERATOR_API_TOKENS), both read from the environment or .env.local; the token is never printed.
 *
 *   backfill [--no-follow]   start (or resume) the backfill, then show a live progress bar until it completes
 *   catchup                  run one catch-up pass now and print what it copied
 *   status [--watch]         print the sync status (--watch: the live progress bar)
 *   verify ...               verification (scripts/verify-cli.ts: it talks to the stores and the queue directly)
 *
 * Exit codes: 0 done, 1 the API refused or the run failed, 2 usage, 130 interrupted (the sync goes on).
 */
import { environmentWithEnvFile } from '../src/config/env-file';
import { catchupPassLine, progressLine, statusReport } from '../src/sync/cli/progress';
import type { CatchupPassResult } from '../src/sync/catchup/catchup.service';
import type { SyncStatus } from '../src/sync/sync-status.service';
import { refusal } from './lib/operator-api';

const env = environmentWithEnvFile();
const baseUrl = (env.SYNC_API_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
const pollMs = Number(env.SYNC_CLI_POLL_MS ?? 1000);
const tty = process.stdout.isTTY === true;

class CliError extends Error {}

function token(): string {
  const direct = env.OPERATOR_TOKEN?.trim();
  if (direct) return direct;
  const first = env.OPERATOR_API_TOKENS?.split(',')[0]?.trim();
  if (first) return first.includes(':') ? first.slice(first.indexOf(':') + 1) : first;
  throw new CliError('no operator token: set OPERATOR_TOKEN (or OPERATOR_API_TOKENS) in the environment or .env.local');
}

async function call<T>(method: string, path: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token()}` },
      signal: AbortSignal.timeout(60_000),
    });
  } catch (err) {
    throw new CliError(`cannot reach the API at ${baseUrl}: ${(err as Error).message}`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  if (!res.ok) {
    const refused = refusal(body);
    throw new CliError(`${method} ${path}: ${res.status} ${refused.code ?? ''} ${refused.message ?? text}`.trim());
  }
  return body as T;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Redraws the progress line until the latest run is no longer running. */
async function follow(runId?: number): Promise<number> {
  let lastPrinted = '';
  let lastPrintAt = 0;
  let failures = 0;
  for (;;) {
    let status: SyncStatus;
    try {
      status = await call<SyncStatus>('GET', '/migration/sync');
      failures = 0;
    } catch (err) {
      if (++failures * pollMs > 30_000) throw err;
      await sleep(pollMs);
      continue;
    }
    const line = progressLine(status);
    if (tty) process.stdout.write(`\r${line}\x1b[K`);
    else if (line !== lastPrinted && (Date.now() - lastPrintAt > 2000 || status.backfill?.status !== 'running')) {
      process.stdout.write(`${line}\n`);
      lastPrinted = line;
      lastPrintAt = Date.now();
    }
    const b = status.backfill;
    if (!b || (runId !== undefined && b.runId !== runId) || b.status !== 'running') {
      if (tty) process.stdout.write('\n');
      if (b)
        process.stdout.write(
          `run ${b.runId} ${b.status}: ${b.counts.written} written, ${b.counts.skipped} skipped, ${b.counts.dead} dead-lettered\n`,
        );
      return b && b.status !== 'completed' ? 1 : 0;
    }
    await sleep(pollMs);
  }
}

const commands: Record<string, (args: string[]) => Promise<number>> = {
  async backfill(args) {
    const started = await call<{ runId: number; resumed: boolean; ranges: number; enqueued: number }>('POST', '/migration/sync/backfill');
    process.stdout.write(
      `run ${started.runId} ${started.resumed ? 'resumed' : 'started'}: ${started.ranges} ranges, ${started.enqueued} jobs queued\n`,
    );
    return args.includes('--no-follow') ? 0 : follow(started.runId);
  },
  async catchup() {
    const out = await call<{ jobId: string; state: string; result?: CatchupPassResult; failedReason?: string }>(
      'POST',
      '/migration/sync/catchup?wait=true',
    );
    if (out.state === 'failed') throw new CliError(`catch-up pass failed: ${out.failedReason}`);
    if (out.state !== 'completed') {
      process.stdout.write(`catch-up pass ${out.jobId} is still ${out.state} (is a worker serving the catchup queue?)\n`);
      return 1;
    }
    if (!out.result) throw new CliError(`catch-up pass ${out.jobId} completed without a result`);
    process.stdout.write(`${catchupPassLine(out.result)}\n`);
    const status = await call<SyncStatus>('GET', '/migration/sync');
    process.stdout.write(
      `${
        statusReport(status)
          .split('\n')
          .find((l) => l.startsWith('catch-up')) ?? ''
      }\n`,
    );
    return 0;
  },
  async status(args) {
    if (args.includes('--watch')) return follow();
    process.stdout.write(`${statusReport(await call<SyncStatus>('GET', '/migration/sync'))}\n`);
    return 0;
  },
  async verify(args) {
    // Loaded only when asked for: it builds the stores' modules, which the API-only commands do not need.
    const { runVerifyCli } = await import('./verify-cli');
    return runVerifyCli(args);
  },
};

function usage(): number {
  process.stderr.write(`usage: npm run sync -- <${Object.keys(commands).join('|')}> [--no-follow|--watch]\n`);
  return 2;
}

async function main(): Promise<number> {
  const [name, ...args] = process.argv.slice(2);
  const command = name ? commands[name] : undefined;
  if (!command) return usage();
  // verify handles Ctrl-C itself (it stops its run at a checkpoint).
  if (name !== 'verify') {
    process.on('SIGINT', () => {
      process.stdout.write('\ninterrupted; the sync goes on in the workers (npm run sync -- status)\n');
      process.exit(130);
    });
  }
  return command(args);
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${err instanceof CliError ? err.message : (err?.stack ?? String(err))}\n`);
    process.exit(1);
  },
);
