/** The read panels: one per thing an operator watches. Each shows its own load error instead of its content. */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { PLAN, stepName } from '../../migration/domain/phase-plan';
import type { Api } from './api';
import type { DialogState } from './actions';
import type { Notice } from './app';
import { Loaded, PAGE, Snapshot, View } from './data';
import { bytes, count, duration, ratio, time } from './format';
import { GateTable } from './actions';
import { ShadowChart } from './shadow-chart';
import type { AuditEntry, Status, VerifyReport } from './types';

interface PanelProps {
  snapshot: Snapshot;
  view: View;
  setView: (v: View) => void;
  api: Api;
  setDialog: (d: DialogState | null) => void;
  setNotice: (n: Notice | null) => void;
  failed: (err: unknown) => Promise<void> | void;
  refresh: () => Promise<void>;
}

function Panel<T>({ title, id, data, children, wide }: { title: string; id: string; data: Loaded<T>; children: (v: T) => ComponentChildren; wide?: boolean }) {
  return (
    <section class={`panel${wide ? ' wide' : ''}`} aria-labelledby={`${id}-title`} data-testid={`panel-${id}`}>
      <h2 id={`${id}-title`}>{title}</h2>
      {data.ok ? children(data.value) : <p class="error">Could not load: {data.error}</p>}
    </section>
  );
}

function Facts({ rows }: { rows: Array<[string, ComponentChildren]> }) {
  return (
    <dl class="facts">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

const store = (s: string) => (s === 'new' ? 'new (PostgreSQL)' : 'legacy (MongoDB)');

export function Timeline({ status }: { status: Status }) {
  const names = PLAN.map(stepName);
  const current = names.indexOf(status.step);
  const phases = ['not_started', 'shadow', 'canary', 'rollout', 'deprecation', 'cleanup', 'complete'];
  return (
    <section class="panel timeline" aria-label="Timeline" data-testid="panel-timeline">
      <h2>
        Phase <span data-testid="current-step">{status.step}</span>
        {status.paused && <span class="badge warn">paused</span>}
        <span class="muted"> · entered {time(status.enteredAt)} · revision {status.revision} · gate profile {status.gateProfile.name}</span>
      </h2>
      <ol class="phases">
        {phases.map((phase) => {
          const steps = PLAN.map((p, i) => ({ p, i })).filter(({ p }) => p.phase === phase);
          const state = steps.some(({ i }) => i === current) ? 'current' : steps.every(({ i }) => i < current) ? 'done' : 'todo';
          return (
            <li key={phase} class={state} data-phase={phase} data-state={state}>
              <span class="phase-name">{phase.replace('_', ' ')}</span>
              <span class="steps">
                {steps.map(({ p, i }) => (
                  <span key={i} class={`step ${i === current ? 'current' : i < current ? 'done' : 'todo'}`}>{p.weight}%</span>
                ))}
              </span>
            </li>
          );
        })}
      </ol>
    </section>
  );
}

function Router({ status }: { status: Status }) {
  const w = status.weights;
  const inEffect = w.inEffect === null ? (
    <span class="muted">nothing read back yet{w.provider === 'none' ? ' (provider none: no change made yet)' : ''}</span>
  ) : 'error' in w.inEffect ? (
    <span class="bad">could not read the records: {w.inEffect.error}</span>
  ) : (
    <span data-testid="weights-in-effect">legacy {w.inEffect.legacy} / new {w.inEffect.new}</span>
  );
  return (
    <section class="panel" aria-labelledby="router-title" data-testid="panel-router">
      <h2 id="router-title">Traffic and roles</h2>
      <div class="weightbar" aria-label={`new ${w.newPercent}%, legacy ${w.legacyPercent}%`}>
        <svg viewBox="0 0 100 6" preserveAspectRatio="none" role="img">
          <rect x="0" y="0" width={w.legacyPercent} height="6" class="legacy" />
          <rect x={w.legacyPercent} y="0" width={w.newPercent} height="6" class="new" />
        </svg>
      </div>
      <Facts
        rows={[
          ['planned weights', <span data-testid="planned-weights">new {w.newPercent}% / legacy {w.legacyPercent}%</span>],
          [`read back from the router (${w.provider})`, inEffect],
          ['source of truth', <strong data-testid="source-of-truth">{store(status.sourceOfTruth)}</strong>],
          ['writes', status.dualWrite ? 'dual (both stores)' : `${store(status.sourceOfTruth)} only`],
          ['reads served from', store(status.readFrom)],
          ['shadow comparison', status.shadowComparison ? 'on' : 'off'],
          ['automatic progression', status.autoProgression.enabled ? `on (${status.autoProgression.failedChecks}/${status.autoProgression.threshold} failed checks)` : 'off'],
          ['last traffic change', status.lastTrafficChange ? `#${status.lastTrafficChange.id} ${status.lastTrafficChange.state} at ${time(status.lastTrafficChange.requestedAt)}` : 'none'],
        ]}
      />
    </section>
  );
}

function NextGates({ status }: { status: Status }) {
  return (
    <section class="panel" aria-labelledby="gates-title" data-testid="panel-gates">
      <h2 id="gates-title">Gates into {status.next.step ?? '—'}</h2>
      {status.next.step === null ? (
        <p class="muted">{status.step === 'not_started' ? 'Start moves to shadow; it has no gates.' : 'No further step.'}</p>
      ) : (
        <>
          <p>{status.next.allPass ? <span class="ok">every gate passes</span> : <span class="bad">{status.next.gates.filter((g) => !g.pass).length} gate(s) failing</span>}</p>
          <GateTable gates={status.next.gates} />
        </>
      )}
    </section>
  );
}

function Progress({ value, label }: { value: number | null; label: string }) {
  return <progress max={100} value={value ?? undefined} aria-label={label} />;
}

function redrive(p: PanelProps, title: string, lines: string[], path: string, body: unknown, done: (r: any) => string) {
  p.setDialog({
    title,
    lines,
    reason: 'optional',
    confirmLabel: 'Re-drive',
    run: async () => ({ kind: 'ok', text: done(await p.api.post(path, body)) }),
  });
}

function Backfill(p: PanelProps) {
  return (
    <Panel title="Backfill and catch-up" id="backfill" data={p.snapshot.sync}>
      {(s) => {
        const b = s.backfill;
        return (
          <>
            {b ? (
              <>
                <p>
                  Run #{b.runId} <span class="badge">{b.status}</span> {s.paused && <span class="badge warn">paused{s.pause?.reason ? `: ${s.pause.reason}` : ''}</span>}
                </p>
                <Progress value={b.percent} label="backfill progress" />
                <Facts
                  rows={[
                    ['progress', `${b.percent} % (${count(b.counts.read)} of ${count(b.counts.expected)} read)`],
                    ['written / skipped / dead', `${count(b.counts.written)} / ${count(b.counts.skipped)} / ${count(b.counts.dead)}`],
                    ['rate', `${count(b.rate.docsPerSecond)} docs/s (last ${b.rate.windowSeconds} s)`],
                    ['ETA', b.etaSeconds === null ? '—' : b.etaSeconds === 0 ? 'done' : duration(b.etaSeconds * 1000)],
                    ['ranges', `${b.ranges.done} done, ${b.ranges.running} running, ${b.ranges.pending} pending of ${b.ranges.total}`],
                  ]}
                />
              </>
            ) : (
              <p class="muted">No backfill has run yet (POST /migration/sync/backfill).</p>
            )}
            <Facts
              rows={[
                ['catch-up lag', <span data-testid="catchup-lag">{s.catchup.lagSeconds === null ? 'no pass yet' : duration(s.catchup.lagSeconds * 1000)}</span>],
                ['watermark', s.catchup.watermark ? time(s.catchup.watermark.updated) : '—'],
                ['throttle', s.throttle.maxDocsPerSecond === 0 ? 'none' : `${count(s.throttle.maxDocsPerSecond)} docs/s (${s.throttle.source})`],
                ['dead letters', `${count(s.deadLetters.open)} open, ${count(s.deadLetters.resolved)} resolved`],
              ]}
            />
          </>
        );
      }}
    </Panel>
  );
}

function VerifyDetails({ api, runId }: { api: Api; runId: number }) {
  const [offset, setOffset] = useState(0);
  const [report, setReport] = useState<VerifyReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.get<VerifyReport>(`/migration/verify/${runId}?offset=${offset}&limit=${PAGE}`).then(setReport, (e: Error) => setError(e.message));
  }, [runId, offset]);
  if (error) return <p class="error">Could not load run {runId}: {error}</p>;
  if (!report) return <p class="muted">Loading run {runId}…</p>;
  const d = report.differences;
  return (
    <div class="details" data-testid="verify-differences">
      <h3>Run #{runId}: {count(d.total)} difference(s)</h3>
      {d.items.length > 0 && (
        <table>
          <thead><tr><th>conversation</th><th>kind</th><th>paths</th><th>versions (legacy / new)</th><th>repaired</th></tr></thead>
          <tbody>
            {d.items.map((x: any) => (
              <tr key={`${x.conversationId}-${x.kind}`}>
                <td><code>{x.conversationId}</code></td>
                <td>{x.kind}</td>
                <td>{(x.paths ?? []).slice(0, 4).join(', ')}{x.reason ? ` ${x.reason}` : ''}</td>
                <td>{x.legacyVersion ?? '—'} / {x.newVersion ?? '—'}</td>
                <td>{x.repaired ? 'yes' : 'no'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="pager">
        <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>Previous</button>
        <span>{d.total === 0 ? 'none' : `${offset + 1}–${offset + d.items.length} of ${d.total}`}</span>
        <button type="button" disabled={d.nextOffset === null} onClick={() => setOffset(d.nextOffset ?? offset)}>Next</button>
      </div>
    </div>
  );
}

function Verification(p: PanelProps) {
  const [selected, setSelected] = useState<number | null>(null);
  return (
    <Panel title="Verification runs" id="verify" data={p.snapshot.verify}>
      {({ items }) =>
        items.length === 0 ? (
          <p class="muted">No verification run yet (POST /migration/verify).</p>
        ) : (
          <>
            <table>
              <thead><tr><th>run</th><th>status</th><th>missing / extra / different</th><th>finished</th><th></th></tr></thead>
              <tbody>
                {items.map((r) => (
                  <tr key={r.id} class={r.status === 'completed' ? (r.clean ? 'pass' : 'fail') : ''}>
                    <td>#{r.id} {r.mode}</td>
                    <td>{r.status}{r.status === 'running' && r.progress.percent !== null ? ` ${r.progress.percent} %` : ''} {r.status === 'completed' && <span class={`badge ${r.clean ? 'ok' : 'bad'}`}>{r.clean ? 'clean' : 'differences'}</span>}</td>
                    <td>{r.totals.missing} / {r.totals.extra} / {r.totals.different}{r.totals.unreadable ? ` (+${r.totals.unreadable} unreadable)` : ''}</td>
                    <td>{time(r.finishedAt)}</td>
                    <td><button type="button" class="quiet" onClick={() => setSelected(selected === r.id ? null : r.id)}>{selected === r.id ? 'hide' : 'differences'}</button></td>
                  </tr>
                ))}
              </tbody>
            </table>
            {selected !== null && <VerifyDetails api={p.api} runId={selected} />}
          </>
        )
      }
    </Panel>
  );
}

const WINDOWS: Array<[number, string]> = [
  [15 * 60_000, '15 min'],
  [3_600_000, '1 h'],
  [6 * 3_600_000, '6 h'],
  [24 * 3_600_000, '24 h'],
];

function Shadow(p: PanelProps) {
  const { snapshot, view, setView } = p;
  return (
    <section class="panel wide" aria-labelledby="shadow-title" data-testid="panel-shadow">
      <h2 id="shadow-title">Shadow comparison</h2>
      <div class="tabs" role="group" aria-label="window">
        {WINDOWS.map(([ms, label]) => (
          <button key={ms} type="button" class={ms === view.shadowWindowMs ? 'selected' : 'quiet'} onClick={() => setView({ ...view, shadowWindowMs: ms })}>{label}</button>
        ))}
      </div>
      <div class="split">
        <div>
          {snapshot.shadow.ok && (
            <p>
              {snapshot.shadow.value.active ? 'sampling on' : 'sampling off in this phase'} · {count(snapshot.shadow.value.window.compared)} compared · {count(snapshot.shadow.value.window.mismatched)} mismatched · rate{' '}
              <strong data-testid="shadow-rate">{ratio(snapshot.shadow.value.window.mismatchRate)}</strong> · {count(snapshot.shadow.value.window.lag)} lag · {count(snapshot.shadow.value.window.dropped)} dropped
            </p>
          )}
          {snapshot.timeline.ok ? <ShadowChart timeline={snapshot.timeline.value} /> : <p class="error">Could not load: {snapshot.timeline.error}</p>}
        </div>
        <div>
          <h3>Top differing paths</h3>
          {snapshot.topPaths.ok ? (
            snapshot.topPaths.value.items.length === 0 ? (
              <p class="muted">No mismatch in this window.</p>
            ) : (
              <table data-testid="top-paths">
                <thead><tr><th>path</th><th>mismatches</th><th>last seen</th></tr></thead>
                <tbody>
                  {snapshot.topPaths.value.items.map((x) => (
                    <tr key={x.path}><td><code>{x.path}</code></td><td>{count(x.mismatches)}</td><td>{time(x.lastSeen)}</td></tr>
                  ))}
                </tbody>
              </table>
            )
          ) : (
            <p class="error">Could not load: {snapshot.topPaths.error}</p>
          )}
        </div>
      </div>
    </section>
  );
}

function Repairs(p: PanelProps) {
  return (
    <section class="panel" aria-labelledby="repairs-title" data-testid="panel-repairs">
      <h2 id="repairs-title">Repairs and dead letters</h2>
      {p.snapshot.repairs.ok ? (
        (() => {
          const r = p.snapshot.repairs.value;
          return (
            <>
              <p>Repair queue: {Object.entries(r.counts).map(([k, v]) => `${k} ${count(v)}`).join(' · ')}</p>
              <p>
                <strong>{count(r.counts.failed ?? r.dead.length)}</strong> dead repair job(s) (out of attempts){' '}
                <button
                  type="button"
                  disabled={r.dead.length === 0}
                  data-testid="redrive-repairs"
                  onClick={() => redrive(p, 'Re-drive dead repairs', [`every dead repair job (${count(r.counts.failed ?? r.dead.length)}) goes back in line with a fresh set of attempts`, 'a repair copies the source of truth\'s current state, so running it again is safe'], '/migration/repairs/redrive', undefined, (x) => `Re-drove ${count(x.redriven)} repair job(s).`)}
                >
                  Re-drive all…
                </button>
              </p>
              {r.dead.length > 0 && (
                <table>
                  <thead><tr><th>conversation</th><th>why</th><th>last error</th><th>attempts</th><th>failed at</th></tr></thead>
                  <tbody>
                    {r.dead.map((d) => (
                      <tr key={d.jobId}><td><code>{d.conversationId}</code></td><td>{d.reason}</td><td>{d.failedReason}</td><td>{d.attempts}</td><td>{time(d.finishedAt)}</td></tr>
                    ))}
                  </tbody>
                </table>
              )}
            </>
          );
        })()
      ) : (
        <p class="error">Could not load: {p.snapshot.repairs.error}</p>
      )}
      {p.snapshot.deadLetters.ok ? (
        (() => {
          const items = p.snapshot.deadLetters.value.items;
          return (
            <>
              <p>
                <strong>{count(items.length)}{p.snapshot.deadLetters.value.nextCursor ? '+' : ''}</strong> open dead letter(s) (unreadable legacy documents){' '}
                <button
                  type="button"
                  disabled={items.length === 0}
                  data-testid="redrive-dead-letters"
                  onClick={() => redrive(p, 'Re-drive dead letters', ['every open dead letter is read from the legacy store again', 'now readable ones are written (version-guarded) and resolved; the others keep their new reason'], '/migration/sync/dead-letters/redrive', {}, (x) => `Re-drove ${count(x.redriven)} dead letter(s): ${count(x.written)} written, ${count(x.stillUnreadable)} still unreadable.`)}
                >
                  Re-drive…
                </button>
              </p>
              {items.length > 0 && (
                <table>
                  <thead><tr><th>id</th><th>conversation</th><th>reason</th><th>re-drives</th><th>since</th></tr></thead>
                  <tbody>
                    {items.map((d) => (
                      <tr key={d.id}><td>{d.id}</td><td><code>{d.conversationId}</code></td><td>{d.reason}</td><td>{d.redrives}</td><td>{time(d.createdAt)}</td></tr>
                    ))}
                  </tbody>
                </table>
              )}
            </>
          );
        })()
      ) : (
        <p class="error">Could not load: {p.snapshot.deadLetters.error}</p>
      )}
    </section>
  );
}

function TrafficLog(p: PanelProps) {
  return (
    <Panel title="Traffic change log" id="traffic" data={p.snapshot.traffic}>
      {({ items, total }) =>
        items.length === 0 ? (
          <p class="muted">No traffic change yet.</p>
        ) : (
          <>
            <table data-testid="traffic-log">
              <thead><tr><th>#</th><th>requested</th><th>change</th><th>state</th><th>provider change id</th><th>error</th></tr></thead>
              <tbody>
                {items.map((c) => (
                  <tr key={c.id} class={c.state === 'done' ? '' : c.state === 'failed' || c.state === 'undone' ? 'fail' : 'warn'}>
                    <td>{c.id}</td>
                    <td>{time(c.requestedAt)}</td>
                    <td>{c.kind === 'retire_legacy' ? 'retire the legacy record' : `new ${c.before?.new ?? '?'} → ${c.weights.new}, legacy ${c.before?.legacy ?? '?'} → ${c.weights.legacy}`}</td>
                    <td>{c.state}</td>
                    <td>{c.changeId ?? '—'}</td>
                    <td>{c.error ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {total > items.length && <p class="muted">{total - items.length} older change(s): GET /migration/traffic?offset=…</p>}
          </>
        )
      }
    </Panel>
  );
}

/** The move an audit entry records, in one line (moves have steps, traffic changes weights, failed moves a target). */
function auditMove(e: AuditEntry): string {
  const b = e.before as any;
  const a = e.after as any;
  if (b && a && typeof b === 'object' && 'step' in b) return `${b.step} → ${a.step}`;
  if (b && a && typeof b === 'object' && 'weight' in b) return `new ${b.weight}% → ${a.weight}%`;
  if (typeof b === 'string') return `${b} → ${(e.details as any)?.to ?? '?'} (not done)`;
  return '';
}

function AuditLog(p: PanelProps) {
  const { view, setView } = p;
  return (
    <Panel title="Audit log" id="audit" data={p.snapshot.history} wide>
      {({ items, total }) => (
        <>
          <table data-testid="audit-log">
            <thead><tr><th>when</th><th>who</th><th>action</th><th>move</th><th>reason</th></tr></thead>
            <tbody>
              {items.map((e) => (
                <tr key={e.id} class={e.forced ? 'forced' : ''} data-action={e.action}>
                  <td>{time(e.at)}</td>
                  <td>{e.actor}</td>
                  <td>{e.action} {e.forced && <span class="badge bad" title="gates were failing and the operator forced the move">forced</span>}</td>
                  <td>{auditMove(e)}</td>
                  <td>{e.reason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div class="pager">
            <button type="button" disabled={view.historyOffset === 0} onClick={() => setView({ ...view, historyOffset: Math.max(0, view.historyOffset - PAGE) })}>Newer</button>
            <span>{total === 0 ? 'no entries' : `${view.historyOffset + 1}–${view.historyOffset + items.length} of ${total}`}</span>
            <button type="button" disabled={view.historyOffset + PAGE >= total} onClick={() => setView({ ...view, historyOffset: view.historyOffset + PAGE })}>Older</button>
          </div>
        </>
      )}
    </Panel>
  );
}

function ArchivePanel(p: PanelProps) {
  return (
    <Panel title="Archive of the legacy collection" id="archive" data={p.snapshot.archive}>
      {(a) => {
        const m = a.manifest;
        return (
          <>
            <p>
              <span class={`badge ${a.verified ? 'ok' : a.state === 'failed' ? 'bad' : ''}`}>{a.state}</span> {a.target ? <>to <code>{a.target}</code></> : <span class="muted">no archive target configured</span>}
            </p>
            {a.error && <p class="error">{a.error}</p>}
            {a.problems && a.problems.length > 0 && <ul>{a.problems.map((x) => <li key={x.code}>{x.code}: {x.message}</li>)}</ul>}
            {m ? (
              <Facts
                rows={[
                  ['documents', count(m.documentCount)],
                  ['collection', `${m.database}.${m.collection}`],
                  ['archive', <code>{m.archive.location}</code>],
                  ['gzip', `${bytes(m.archive.bytes)}, sha256 ${m.archive.sha256}`],
                  ['content', `${bytes(m.content.bytes)}, sha256 ${m.content.sha256}`],
                  ['manifest', <code>{m.manifestName}</code>],
                  ['finished', time(m.finishedAt)],
                ]}
              />
            ) : (
              <p class="muted">No manifest yet: the archive runs when the migration enters cleanup.</p>
            )}
          </>
        );
      }}
    </Panel>
  );
}

export function Panels(p: PanelProps) {
  const status = p.snapshot.status;
  return (
    <main class="grid">
      {status.ok ? (
        <>
          <Router status={status.value} />
          <NextGates status={status.value} />
        </>
      ) : (
        <section class="panel wide"><p class="error">Could not load the status: {status.error}</p></section>
      )}
      <Backfill {...p} />
      <Verification {...p} />
      <Shadow {...p} />
      <Repairs {...p} />
      <TrafficLog {...p} />
      <AuditLog {...p} />
      <ArchivePanel {...p} />
    </main>
  );
}
