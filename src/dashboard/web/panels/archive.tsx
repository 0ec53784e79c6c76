/** The cleanup archive's manifest. */
import { bytes, count, time } from '../format';
import { Facts, Panel, PanelProps } from './panel';

export function ArchivePanel(p: PanelProps) {
  return (
    <Panel title="Archive of the legacy collection" id="archive" data={p.snapshot.archive}>
      {(a) => {
        const m = a.manifest;
        return (
          <>
            <p>
              <span class={`badge ${a.verified ? 'ok' : a.state === 'failed' ? 'bad' : ''}`}>{a.state}</span>{' '}
              {a.target ? (
                <>
                  to <code>{a.target}</code>
                </>
              ) : (
                <span class="muted">no archive target configured</span>
              )}
            </p>
            {a.error && <p class="error">{a.error}</p>}
            {a.problems && a.problems.length > 0 && (
              <ul>
                {a.problems.map((x) => (
                  <li key={x.code}>
                    {x.code}: {x.message}
                  </li>
                ))}
              </ul>
            )}
            {m ? (
              <Facts
                rows={[
                  ['documents', count(m.documentCount)],
                  ['collection', `${m.database}.${m.collection}`],
                  ['archive', <code class="long">{m.archive.location}</code>],
                  [
                    'gzip',
                    <>
                      {bytes(m.archive.bytes)}, sha256 <code class="id">{m.archive.sha256}</code>
                    </>,
                  ],
                  [
                    'content',
                    <>
                      {bytes(m.content.bytes)}, sha256 <code class="id">{m.content.sha256}</code>
                    </>,
                  ],
                  ['manifest', <code class="long">{m.manifestName}</code>],
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
