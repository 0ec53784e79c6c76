/** A move's gates: live value against threshold, pass or fail (the dry run, the confirmation, the next step's panel). */
import { gateThreshold, gateValue } from './format';
import type { Gate } from './types';

export function GateTable({ gates, caption }: { gates: Gate[]; caption?: string }) {
  if (gates.length === 0) return <p class="muted">No gates for this move.</p>;
  return (
    <table class="gates" data-testid="gate-table">
      {caption && <caption>{caption}</caption>}
      <thead>
        <tr>
          <th>gate</th>
          <th>live value</th>
          <th>threshold</th>
          <th>result</th>
        </tr>
      </thead>
      <tbody>
        {gates.map((g) => (
          <tr key={g.name} class={g.pass ? 'pass' : 'fail'} data-gate={g.name} data-pass={String(g.pass)}>
            <td>{g.name}</td>
            <td>{gateValue(g.name, g.value)}</td>
            <td>{gateThreshold(g.name, g.threshold)}</td>
            <td>
              <span class={`badge ${g.pass ? 'ok' : 'bad'}`}>{g.pass ? 'pass' : 'fail'}</span>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
