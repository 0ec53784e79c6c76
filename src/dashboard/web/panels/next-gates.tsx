/** The next step's gates with their live values. */
import { GateTable } from '../gate-table';
import type { Status } from '../types';

export function NextGates({ status }: { status: Status }) {
  return (
    <section class="panel" aria-labelledby="gates-title" data-testid="panel-gates">
      <h2 id="gates-title">Gates into {status.next.step ?? '—'}</h2>
      {status.next.step === null ? (
        <p class="muted">{status.step === 'not_started' ? 'Start moves to shadow; it has no gates.' : 'No further step.'}</p>
      ) : (
        <>
          <p>
            {status.next.allPass ? (
              <span class="ok">every gate passes</span>
            ) : (
              <span class="bad">{status.next.gates.filter((g) => !g.pass).length} gate(s) failing</span>
            )}
          </p>
          <GateTable gates={status.next.gates} />
        </>
      )}
    </section>
  );
}
