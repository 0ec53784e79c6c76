/** Dead repair jobs and dead letters, each with a re-drive. */
import { count, time } from '../format';
import type { DeadLettersRedriven, RepairsRedriven } from '../types';
import { PanelProps, redrive } from './panel';

export function Repairs(p: PanelProps) {
  return (
    <section class="panel" aria-labelledby="repairs-title" data-testid="panel-repairs">
      <h2 id="repairs-title">Repairs and dead letters</h2>
      {p.snapshot.repairs.ok ? (
        (() => {
          const r = p.snapshot.repairs.value;
          return (
            <>
              <p>
                Repair queue:{' '}
                {Object.entries(r.counts)
                  .map(([k, v]) => `${k} ${count(v)}`)
                  .join(' · ')}
              </p>
              <p>
                <strong>{count(r.counts.failed ?? r.dead.length)}</strong> dead repair job(s) (out of attempts){' '}
                <button
                  type="button"
                  disabled={r.dead.length === 0}
                  data-testid="redrive-repairs"
                  onClick={() =>
                    redrive<RepairsRedriven>(
                      p,
                      'Re-drive dead repairs',
                      [
                        `every dead repair job (${count(r.counts.failed ?? r.dead.length)}) goes back in line with a fresh set of attempts`,
                        "a repair copies the source of truth's current state, so running it again is safe",
                      ],
                      '/migration/repairs/redrive',
                      undefined,
                      (x) => `Re-drove ${count(x.redriven)} repair job(s).`,
                    )
                  }
                >
                  Re-drive all…
                </button>
              </p>
              {r.dead.length > 0 && (
                <table>
                  <thead>
                    <tr>
                      <th>conversation</th>
                      <th>why</th>
                      <th>last error</th>
                      <th>attempts</th>
                      <th>failed at</th>
                    </tr>
                  </thead>
                  <tbody>
                    {r.dead.map((d) => (
                      <tr key={d.jobId}>
                        <td>
                          <code class="id">{d.conversationId}</code>
                        </td>
                        <td>{d.reason}</td>
                        <td>{d.failedReason}</td>
                        <td>{d.attempts}</td>
                        <td>{time(d.finishedAt)}</td>
                      </tr>
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
                <strong>
                  {count(items.length)}
                  {p.snapshot.deadLetters.value.nextCursor ? '+' : ''}
                </strong>{' '}
                open dead letter(s) (unreadable legacy documents){' '}
                <button
                  type="button"
                  disabled={items.length === 0}
                  data-testid="redrive-dead-letters"
                  onClick={() =>
                    redrive<DeadLettersRedriven>(
                      p,
                      'Re-drive dead letters',
                      [
                        'every open dead letter is read from the legacy store again',
                        'now readable ones are written (version-guarded) and resolved; the others keep their new reason',
                      ],
                      '/migration/sync/dead-letters/redrive',
                      {},
                      (x) =>
                        `Re-drove ${count(x.redriven)} dead letter(s): ${count(x.written)} written, ${count(x.stillUnreadable)} still unreadable.`,
                    )
                  }
                >
                  Re-drive…
                </button>
              </p>
              {items.length > 0 && (
                <table>
                  <thead>
                    <tr>
                      <th>id</th>
                      <th>conversation</th>
                      <th>reason</th>
                      <th>re-drives</th>
                      <th>since</th>
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((d) => (
                      <tr key={d.id}>
                        <td>{d.id}</td>
                        <td>
                          <code class="id">{d.conversationId}</code>
                        </td>
                        <td>{d.reason}</td>
                        <td>{d.redrives}</td>
                        <td>{time(d.createdAt)}</td>
                      </tr>
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
