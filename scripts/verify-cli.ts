/**
 * `verify` for people who prefer a shell (wired as `npm run sync -- verify ...`). It talks to the stores
 * and the queue directly (no API needed): it starts a run, which the workers pick up, and follows it with
 * a live progress bar. With no worker running (or with --inline) the run is done in this process, with
 * the same code a worker runs; Ctrl-C then stops it at a checkpoint and `--resume <id>` continues it.
 *
 *   verify [--repair] [--chunk-size N] [--recheck-delay-ms N] [--pause-ms N] [--segments N] [--reason TEXT] [--inline] [--detach] [--json]
 *   verify --resume RUN_ID [--json]      continue an interrupted run in this process
 *   verify --report RUN_ID [--kind missing|extra|different|unreadable] [--offset N] [--limit N] [--json]
 *   verify --list [--limit N]
 *
 * Exit status: 0 clean, 2 differences remain, 1 the run failed or the command was wrong.
 */
import 'reflect-metadata';
import { userInfo } from 'node:os';
import { INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { sharedImports } from '../src/app.module';
import { nestLogger } from '../src/common/logging/logging.module';
import { createRootLogger } from '../src/common/logging/root-logger';
import { loadConfig } from '../src/app-config';
import { environmentWithEnvFile } from '../src/config/env-file';
import { DomainError } from '../src/common/errors';
import { parseInput } from '../src/http/validation';
import { ReportQuerySchema, VerifyOptions, VerifyOptionsSchema } from '../src/verify/verify.schemas';
import { RunReport, runReport, RunSummary, runSummary } from '../src/verify/verify-report';
import { VerifyModule } from '../src/verify/verify.module';
import { VerifyQueue } from '../src/verify/verify-queue';
import { VerifyRunRepository } from '../src/verify/verify-run.repository';
import { VerifyRunner } from '../src/verify/verify.runner';
import { VerifyService } from '../src/verify/verify.service';

const USAGE = `usage:
  verify [--repair] [--chunk-size N] [--recheck-delay-ms N] [--pause-ms N] [--segments N] [--reason TEXT] [--inline] [--detach] [--json]
  verify --resume RUN_ID [--json]
  verify --report RUN_ID [--kind missing|extra|different|unreadable] [--offset N] [--limit N] [--json]
  verify --list [--limit N]`;

const EXIT = { clean: 0, failed: 1, differences: 2 } as const;

class UsageError extends Error {}

interface Args {
  flags: Set<string>;
  values: Map<string, string>;
}

const BOOLEAN_FLAGS = ['repair', 'inline', 'detach', 'json', 'list', 'help'];
const VALUE_FLAGS = ['chunk-size', 'recheck-delay-ms', 'pause-ms', 'segments', 'reason', 'resume', 'report', 'kind', 'offset', 'limit'];

function parseArgs(argv: string[]): Args {
  const args: Args = { flags: new Set(), values: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i].replace(/^--/, '').split(/=(.*)/s, 2);
    if (!argv[i].startsWith('--')) throw new UsageError(`unexpected argument ${argv[i]}`);
    if (BOOLEAN_FLAGS.includes(name) && inline === undefined) args.flags.add(name);
    else if (VALUE_FLAGS.includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      args.values.set(name, value);
    } else throw new UsageError(`unknown option --${name}`);
  }
  return args;
}

function integerValue(args: Args, name: string): number | undefined {
  const v = args.values.get(name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a non-negative integer`);
  return Number(v);
}

function runOptions(args: Args): VerifyOptions {
  const body: Record<string, unknown> = {};
  if (args.flags.has('repair')) body.repair = true;
  for (const [flag, key] of [
    ['chunk-size', 'chunkSize'],
    ['recheck-delay-ms', 'recheckDelayMs'],
    ['pause-ms', 'pauseMs'],
    ['segments', 'segments'],
  ] as const) {
    const v = integerValue(args, flag);
    if (v !== undefined) body[key] = v;
  }
  if (args.values.has('reason')) body.reason = args.values.get('reason');
  return parseInput(VerifyOptionsSchema, body);
}

const fmt = (n: number) => n.toLocaleString('en-US');

function duration(seconds: number | null): string {
  if (seconds === null) return '--';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

/** The segments walked, when the walk is split: ` segments 3/8 (2 walking, 2 workers)`. */
function segmentsNote(s: RunSummary): string {
  const seg = s.progress.segments;
  if (seg.total <= 1) return '';
  return ` segments ${seg.done}/${seg.total} (${seg.active} walking, ${seg.workers} worker${seg.workers === 1 ? '' : 's'})`;
}

function progressLine(s: RunSummary, width = 24): string {
  const pct = s.progress.percent ?? 0;
  const filled = Math.round((pct / 100) * width);
  const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
  const t = s.totals;
  const stage =
    s.status === 'queued'
      ? 'waiting for a worker'
      : s.phase === 'scan'
        ? `${fmt(s.progress.ratePerSecond)}/s ETA ${duration(s.progress.etaSeconds)}` + segmentsNote(s)
        : s.phase;
  return (
    `verify #${s.id} [${bar}] ${pct.toFixed(1).padStart(5)}% ${fmt(s.progress.recordsCompared)}/${fmt(s.progress.recordsEstimate)} ${stage}` +
    ` | missing ${fmt(t.missing)} extra ${fmt(t.extra)} different ${fmt(t.different)}` +
    (t.unreadable ? ` unreadable ${fmt(t.unreadable)}` : '') +
    (t.pendingRecheck ? ` (rechecking ${fmt(t.pendingRecheck)})` : '') +
    (t.repaired ? ` repaired ${fmt(t.repaired)}` : '')
  );
}

/** Redraws one line on a terminal; elsewhere (CI logs) prints a line every few seconds. */
class ProgressPrinter {
  private lastLine = 0;
  private readonly tty = process.stderr.isTTY === true;

  show(s: RunSummary): void {
    const line = progressLine(s);
    if (this.tty) process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 200) - 1)}`);
    else if (Date.now() - this.lastLine >= 5000) {
      process.stderr.write(`${line}\n`);
      this.lastLine = Date.now();
    }
  }

  end(s: RunSummary): void {
    if (this.tty) process.stderr.write(`\r\x1b[2K${progressLine(s)}\n`);
    else process.stderr.write(`${progressLine(s)}\n`);
  }
}

function printReport(r: RunReport): void {
  const t = r.totals;
  const lines = [
    `run ${r.id} (${r.mode}) ${r.status}${r.clean ? ', clean' : ''}: ${fmt(r.progress.recordsCompared)} records in ${fmt(r.progress.chunksDone)} chunks (${fmt(r.progress.chunksDiffering)} differing), ${duration(r.progress.elapsedSeconds)}`,
    `  missing ${fmt(t.missing)}  extra ${fmt(t.extra)}  different ${fmt(t.different)}  unreadable (dead-lettered) ${fmt(t.unreadable)}  repaired ${fmt(t.repaired)}`,
  ];
  if (r.error) lines.push(`  note: ${r.error}`);
  const d = r.differences;
  if (d.total > 0) {
    lines.push(`differences ${d.offset + 1}-${d.offset + d.items.length} of ${fmt(d.total)}${d.kind ? ` (${d.kind})` : ''}:`);
    for (const item of d.items) {
      const detail = [item.paths.join(', '), item.reason].filter(Boolean).join(' - ');
      lines.push(
        `  ${item.conversationId}  ${item.kind.padEnd(10)} legacy v${item.legacyVersion ?? '-'} new v${item.newVersion ?? '-'}${item.repaired ? ' repaired' : ''}${detail ? `  ${detail}` : ''}`,
      );
    }
    if (d.nextOffset !== null) lines.push(`  ... more with --report ${r.id} --offset ${d.nextOffset}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

function exitFor(s: RunSummary): number {
  if (s.status !== 'completed') return EXIT.failed;
  return s.clean ? EXIT.clean : EXIT.differences;
}

@Module({})
class VerifyCliModule {}

async function context(): Promise<INestApplicationContext> {
  const env = environmentWithEnvFile();
  // The CLI opens no HTTP port, so API tokens are not needed to run it.
  const config = loadConfig({
    ...env,
    LOCAL_DEV_MODE: env.APP_API_TOKENS || env.OPERATOR_API_TOKENS ? env.LOCAL_DEV_MODE : 'true',
    LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
  });
  // The service's JSON lines, on stderr: stdout is the report.
  const log = createRootLogger({ level: config.app.logLevel, stream: 'stderr' });
  const ctx = await NestFactory.createApplicationContext(
    { module: VerifyCliModule, imports: [...sharedImports(config, log), VerifyModule] },
    { logger: nestLogger(log), abortOnError: false },
  );
  await ctx.init();
  return ctx;
}

/** Follows a run until it ends, or until the inline `work` driving it settles; draws its progress. */
async function follow(runs: VerifyRunRepository, runId: number, work: Promise<unknown> | null): Promise<RunSummary> {
  const printer = new ProgressPrinter();
  let settled = false;
  work?.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (;;) {
    const run = await runs.get(runId);
    if (!run) throw new Error(`verification run ${runId} disappeared`);
    const summary = runSummary(run);
    if (summary.status === 'completed' || summary.status === 'failed' || settled) {
      printer.end(summary);
      return summary;
    }
    printer.show(summary);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export async function runVerifyCli(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return EXIT.failed;
  }
  if (args.flags.has('help')) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.clean;
  }
  let ctx: INestApplicationContext | undefined;
  try {
    const runId = args.values.has('report') ? integerValue(args, 'report') : undefined;
    const resumeId = args.values.has('resume') ? integerValue(args, 'resume') : undefined;
    const options = runId === undefined && resumeId === undefined && !args.flags.has('list') ? runOptions(args) : undefined;
    ctx = await context();
    const runs = ctx.get(VerifyRunRepository);
    const service = ctx.get(VerifyService);

    if (args.flags.has('list')) {
      const items = await service.list(integerValue(args, 'limit') ?? 20);
      if (args.flags.has('json')) process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
      else for (const s of items) process.stdout.write(`${progressLine(s)}  ${s.status}${s.clean ? ' clean' : ''}  ${s.createdAt}\n`);
      return EXIT.clean;
    }

    if (runId !== undefined) {
      const query = parseInput(
        ReportQuerySchema,
        Object.fromEntries([...args.values].filter(([k]) => ['kind', 'offset', 'limit'].includes(k))),
        'query',
      );
      const report = await service.report(runId, query);
      if (args.flags.has('json')) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else printReport(report);
      return exitFor(report);
    }

    const runner = ctx.get(VerifyRunner);
    let id: number;
    let inline = false;
    const workers = await ctx
      .get(VerifyQueue)
      .workerCount()
      .catch(() => 0);
    if (resumeId !== undefined) {
      id = resumeId;
      inline = true;
    } else {
      inline = args.flags.has('inline') || workers === 0;
      if (inline && !args.flags.has('inline'))
        process.stderr.write('no worker serves the verify queue: running the verification in this process\n');
      const requestedBy = `cli:${userInfo().username}`;
      id = (await service.start(options!, requestedBy, { enqueue: !inline })).id;
      process.stderr.write(
        `verification run ${id} ${inline ? 'started here' : `queued; follow it with --report ${id} or GET /migration/verify/${id}`}\n`,
      );
      if (args.flags.has('detach') && !inline) return EXIT.clean;
    }

    let work: Promise<unknown> | null = null;
    if (inline) {
      const onSignal = () => {
        process.stderr.write('\nstopping at the next checkpoint...\n');
        runner.beginShutdown();
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      work = runner.run(id, { finalAttempt: true, helpers: workers > 0 });
      work.catch(() => undefined);
    }
    const summary = await follow(runs, id, work);
    if (work) {
      try {
        await work;
      } catch (err) {
        if (summary.status === 'running') {
          process.stderr.write(`run ${id} stopped (${(err as Error).message}); continue it with --resume ${id}\n`);
          return EXIT.failed;
        }
        throw err;
      }
    }
    const report = runReport((await runs.get(id))!, { offset: 0, limit: 20 }, await runs.differences(id, { offset: 0, limit: 20 }));
    if (args.flags.has('json')) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else printReport(report);
    return exitFor(report);
  } catch (err) {
    if (err instanceof UsageError) process.stderr.write(`${err.message}\n${USAGE}\n`);
    else if (err instanceof DomainError)
      process.stderr.write(`${err.code}: ${err.message}${err.errors ? ` ${JSON.stringify(err.errors)}` : ''}\n`);
    else process.stderr.write(`verify failed: ${(err as Error).message ?? err}\n`);
    return EXIT.failed;
  } finally {
    await ctx?.close().catch(() => undefined);
  }
}

if (require.main === module) {
  runVerifyCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`${String(err?.stack ?? err)}\n`);
      process.exit(1);
    },
  );
}
