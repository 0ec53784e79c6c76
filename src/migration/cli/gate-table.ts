import type { GateResult } from '../domain/gates';

function cell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(4);
  return String(v);
}

/** Gates as a fixed-width table an operator can read at a glance: PASS/FAIL, name, value, threshold. */
export function gateTable(gates: GateResult[]): string {
  if (gates.length === 0) return '(no gates)';
  const rows = [['', 'gate', 'value', 'threshold'], ...gates.map((g) => [g.pass ? 'PASS' : 'FAIL', g.name, cell(g.value), g.threshold])];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
