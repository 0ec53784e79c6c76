/** The traffic change log. */
import { time } from '../format';
import { Panel, PanelProps } from './panel';

export function TrafficLog(p: PanelProps) {
  return (
    <Panel title="Traffic change log" id="traffic" data={p.snapshot.traffic}>
      {({ items, total }) =>
        items.length === 0 ? (
          <p class="muted">No traffic change yet.</p>
        ) : (
          <>
            <table data-testid="traffic-log">
              <thead>
                <tr>
                  <th>#</th>
                  <th>requested</th>
                  <th>change</th>
                  <th>state</th>
                  <th>provider change id</th>
                  <th>error</th>
                </tr>
              </thead>
              <tbody>
                {items.map((c) => (
                  <tr key={c.id} class={c.state === 'done' ? '' : c.state === 'failed' || c.state === 'undone' ? 'fail' : 'warn'}>
                    <td>{c.id}</td>
                    <td>{time(c.requestedAt)}</td>
                    <td>
                      {c.kind === 'retire_legacy'
                        ? 'retire the legacy record'
                        : `new ${c.before?.new ?? '?'} → ${c.weights.new}, legacy ${c.before?.legacy ?? '?'} → ${c.weights.legacy}`}
                    </td>
                    <td>{c.state}</td>
                    <td>{c.changeId ? <code class="id">{c.changeId}</code> : '—'}</td>
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
