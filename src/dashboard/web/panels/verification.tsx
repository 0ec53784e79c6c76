/** Verification runs, and a run's differences page by page; starting one, with or without repair. */
import { useEffect, useState } from 'preact/hooks';
import type { Api } from '../api';
import { PAGE } from '../data';
import { count, time } from '../format';
import { confirmVerify } from '../operations';
import type { VerifyReport, VerifyRun } from '../types';
import { Panel, PanelProps } from './panel';

export function VerifyDetails({ api, runId }: { api: Api; runId: number }) {
  const [offset, setOffset] = useState(0);
  const [report, setReport] = useState<VerifyReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.get<VerifyReport>(`/migration/verify/${runId}?offset=${offset}&limit=${PAGE}`).then(setReport, (e: Error) => setError(e.message));
  }, [runId, offset]);
  if (error)
    return (
      <p class="error">
        Could not load run {runId}: {error}
      </p>
    );
  if (!report) return <p class="muted">Loading run {runId}…</p>;
  const d = report.differences;
  return (
    <div class="details" data-testid="verify-differences">
      <h3>
        Run #{runId}: {count(d.total)} difference(s)
      </h3>
      {d.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>conversation</th>
              <th>kind</th>
              <th>paths</th>
              <th>versions (legacy / new)</th>
              <th>repaired</th>
            </tr>
          </thead>
          <tbody>
            {d.items.map((x) => (
              <tr key={`${x.conversationId}-${x.kind}`}>
                <td>
                  <code class="id">{x.conversationId}</code>
                </td>
                <td>{x.kind}</td>
                <td>
                  {(x.paths ?? []).slice(0, 4).join(', ')}
                  {x.reason ? ` ${x.reason}` : ''}
                </td>
                <td>
                  {x.legacyVersion ?? '—'} / {x.newVersion ?? '—'}
                </td>
                <td>{x.repaired ? 'yes' : 'no'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="pager">
        <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
          Previous
        </button>
        <span>{d.total === 0 ? 'none' : `${offset + 1}–${offset + d.items.length} of ${d.total}`}</span>
        <button type="button" disabled={d.nextOffset === null} onClick={() => setOffset(d.nextOffset ?? offset)}>
          Next
        </button>
      </div>
    </div>
  );
}

function Runs({ api, items }: { api: Api; items: VerifyRun[] }) {
  const [selected, setSelected] = useState<number | null>(null);
  return (
    <>
      <table>
        <thead>
          <tr>
            <th>run</th>
            <th>status</th>
            <th>missing / extra / different</th>
            <th>finished</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {items.map((r) => (
            <tr key={r.id} class={r.status === 'completed' ? (r.clean ? 'pass' : 'fail') : ''}>
              <td>
                #{r.id} {r.mode}
              </td>
              <td>
                {r.status}
                {r.status === 'running' && r.progress.percent !== null ? ` ${r.progress.percent} %` : ''}
                {r.status === 'running' && r.phase === 'scan' && r.progress.segments.total > 1
                  ? `, segments ${r.progress.segments.done} / ${r.progress.segments.total} (${r.progress.segments.active} walking)`
                  : ''}{' '}
                {r.status === 'completed' && <span class={`badge ${r.clean ? 'ok' : 'bad'}`}>{r.clean ? 'clean' : 'differences'}</span>}
              </td>
              <td>
                {r.totals.missing} / {r.totals.extra} / {r.totals.different}
                {r.totals.unreadable ? ` (+${r.totals.unreadable} unreadable)` : ''}
              </td>
              <td>{time(r.finishedAt)}</td>
              <td>
                <button type="button" class="quiet" onClick={() => setSelected(selected === r.id ? null : r.id)}>
                  {selected === r.id ? 'hide' : 'differences'}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {selected !== null && <VerifyDetails api={api} runId={selected} />}
    </>
  );
}

export function Verification(p: PanelProps) {
  return (
    <Panel title="Verification runs" id="verify" data={p.snapshot.verify}>
      {({ items }) => (
        <>
          <div class="buttons panel-actions">
            <button type="button" onClick={() => void confirmVerify(p).catch(p.failed)} data-testid="start-verify">
              Verify…
            </button>
          </div>
          {items.length === 0 ? <p class="muted">No verification run yet.</p> : <Runs api={p.api} items={items} />}
        </>
      )}
    </Panel>
  );
}
