/** The audit log, forced moves marked. */
import { PAGE } from '../data';
import { time } from '../format';
import type { AuditEntry } from '../types';
import { Panel, PanelProps } from './panel';

/** The move an audit entry records, in one line (moves have steps, traffic changes weights, failed moves a target). */
export function auditMove(e: AuditEntry): string {
  const b: unknown = e.before;
  const a: unknown = e.after;
  if (b && a && typeof b === 'object' && 'step' in b) return `${String(b.step)} → ${String(field(a, 'step'))}`;
  if (b && a && typeof b === 'object' && 'weight' in b) return `new ${String(b.weight)}% → ${String(field(a, 'weight'))}%`;
  if (typeof b === 'string') return `${b} → ${String(field(e.details, 'to') ?? '?')} (not done)`;
  return '';
}

/** A field of a JSON value that may be anything (a string or a number has none; null and undefined neither). */
function field(v: unknown, key: string): unknown {
  return v === null || v === undefined ? undefined : (v as Record<string, unknown>)[key];
}

export function AuditLog(p: PanelProps) {
  const { view, setView } = p;
  return (
    <Panel title="Audit log" id="audit" data={p.snapshot.history} wide>
      {({ items, total }) => (
        <>
          <table data-testid="audit-log">
            <thead>
              <tr>
                <th>when</th>
                <th>who</th>
                <th>action</th>
                <th>move</th>
                <th>reason</th>
              </tr>
            </thead>
            <tbody>
              {items.map((e) => (
                <tr key={e.id} class={e.forced ? 'forced' : ''} data-action={e.action}>
                  <td>{time(e.at)}</td>
                  <td>{e.actor}</td>
                  <td>
                    {e.action}{' '}
                    {e.forced && (
                      <span class="badge bad" title="gates were failing and the operator forced the move">
                        forced
                      </span>
                    )}
                  </td>
                  <td>{auditMove(e)}</td>
                  <td>{e.reason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div class="pager">
            <button
              type="button"
              disabled={view.historyOffset === 0}
              onClick={() => setView({ ...view, historyOffset: Math.max(0, view.historyOffset - PAGE) })}
            >
              Newer
            </button>
            <span>{total === 0 ? 'no entries' : `${view.historyOffset + 1}–${view.historyOffset + items.length} of ${total}`}</span>
            <button
              type="button"
              disabled={view.historyOffset + PAGE >= total}
              onClick={() => setView({ ...view, historyOffset: view.historyOffset + PAGE })}
            >
              Older
            </button>
          </div>
        </>
      )}
    </Panel>
  );
}
