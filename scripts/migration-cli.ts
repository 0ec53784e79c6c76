/**
 * `npm run migration -- <command> [options]`: the phase machine for operators who prefer a shell. It
 * only calls the operator API (API_URL, default http://127.0.0.1:3000, with OPERATOR_TOKEN).
 *
 *   status                                   phase, step, weights, roles and the next step's gates as a table
 *   advance  [--reason R] [--expected-step S] [--force] [--dry-run]
 *   rollback --reason R [--to STEP] [--dry-run]
 *   pause | resume [--reason R]
 *   history  [--limit N]
 *
 * Exit codes: 0 done, 1 refused (gates, conflicts) or failed, 2 usage.
 */
import { gateTable } from '../src/migration/cli/gate-table';
import type { GateResult } from '../src/migration/domain/gates';
import type { AuditEntry, MoveResult, Page, Status } from '../src/dashboard/web/types';
import { CliError, operatorApi, refusal } from './lib/operator-api';

const USAGE =
  'usage: npm run migration -- status | advance [--reason R] [--expected-step S] [--force] [--dry-run] | rollback --reason R [--to STEP] [--dry-run] | pause | resume | history [--limit N]';

function options(args: string[]): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) throw new CliError(`unexpected argument "${a}"\n${USAGE}`);
    const name = a.slice(2);
    if (['force', 'dry-run'].includes(name)) out[name] = true;
    else if (i + 1 < args.length) out[name] = args[++i];
    else throw new CliError(`--${name} needs a value`);
  }
  return out;
}

function printMove(body: MoveResult): void {
  const verb = body.dryRun ? 'would move' : body.pending ? 'moving' : 'moved';
  console.log(
    `${verb} ${body.from} -> ${body.to} (new ${body.weights.before}% -> ${body.weights.after}%, source of truth ${body.mode.before.sourceOfTruth} -> ${body.mode.after.sourceOfTruth})${body.forced ? ' FORCED' : ''}`,
  );
  if (body.gates?.length) console.log(gateTable(body.gates));
  if (body.trafficChange)
    console.log(
      `traffic change #${body.trafficChange.id}: ${body.trafficChange.state}${body.trafficChange.changeId ? ` (${body.trafficChange.changeId})` : ''}`,
    );
  if (body.pending)
    console.log(
      'the traffic change is still under way (is a worker serving the traffic queue?); the phase moves when it is done: see `status`',
    );
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const o = options(rest);
  const { call } = operatorApi();
  const str = (k: string) => (typeof o[k] === 'string' ? o[k] : undefined);
  let res: { status: number; body: unknown };
  switch (command) {
    case 'status': {
      const got = await call<Status>('GET', '/migration/status');
      res = got;
      if (got.status !== 200) break;
      const s = got.body;
      console.log(
        `phase ${s.phase}, step ${s.step}${s.paused ? ' (PAUSED)' : ''}; new ${s.weights.newPercent}% / legacy ${s.weights.legacyPercent}% via ${s.weights.provider}`,
      );
      console.log(
        `source of truth ${s.sourceOfTruth}, reads from ${s.readFrom}, dual writes ${s.dualWrite ? 'on' : 'off'}, shadow comparison ${s.shadowComparison ? 'on' : 'off'}`,
      );
      if (s.next.step)
        console.log(`\nnext: ${s.next.step} (${s.next.allPass ? 'all gates pass' : 'gates failing'})\n${gateTable(s.next.gates)}`);
      return 0;
    }
    case 'advance':
      res = await call('POST', '/migration/advance', {
        reason: str('reason'),
        expectedStep: str('expected-step'),
        force: o.force === true ? true : undefined,
        dryRun: o['dry-run'] === true ? true : undefined,
      });
      if (res.status === 200) return (printMove(res.body as MoveResult), 0);
      if (refusal(res.body).code === 'GATE_FAILED') {
        const refused = refusal(res.body);
        console.error(`refused: ${refused.message}\n${gateTable(refused.errors as GateResult[])}`);
        return 1;
      }
      break;
    case 'rollback':
      if (!str('reason')) throw new CliError('rollback needs --reason');
      res = await call('POST', '/migration/rollback', {
        reason: str('reason'),
        to: str('to'),
        dryRun: o['dry-run'] === true ? true : undefined,
      });
      if (res.status === 200) return (printMove(res.body as MoveResult), 0);
      break;
    case 'pause':
    case 'resume':
      res = await call('POST', `/migration/${command}`, str('reason') ? { reason: str('reason') } : {});
      if (res.status === 200) return (console.log(command === 'pause' ? 'paused' : 'resumed'), 0);
      break;
    case 'history': {
      const got = await call<Page<AuditEntry>>('GET', `/migration/history?limit=${str('limit') ?? '50'}`);
      res = got;
      if (got.status !== 200) break;
      for (const e of [...got.body.items].reverse()) {
        console.log(
          `${e.at}  ${e.actor.padEnd(18)} ${e.action.padEnd(16)} ${JSON.stringify(e.before)} -> ${JSON.stringify(e.after)}${e.reason ? `  "${e.reason}"` : ''}`,
        );
      }
      return 0;
    }
    default:
      console.error(USAGE);
      return 2;
  }
  const refused = refusal(res.body);
  console.error(`${res.status} ${refused.code ?? ''}: ${refused.message ?? JSON.stringify(res.body)}`);
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof CliError ? err.message : err);
    process.exit(err instanceof CliError ? 2 : 1);
  },
);
