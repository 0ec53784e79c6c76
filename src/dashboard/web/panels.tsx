/**
 * The read panels: one per thing an operator watches, each in its own file under panels/ and laid out in the grid
 * here. Each shows its own load error instead of its content.
 */
import type { PanelProps } from './panels/panel';
import { Router } from './panels/router';
import { NextGates } from './panels/next-gates';
import { Backfill } from './panels/backfill';
import { Verification } from './panels/verification';
import { Shadow } from './panels/shadow';
import { Repairs } from './panels/repairs';
import { TrafficLog } from './panels/traffic-log';
import { AuditLog } from './panels/audit-log';
import { ArchivePanel } from './panels/archive';

export { Timeline } from './panels/timeline';

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
        <section class="panel wide">
          <p class="error">Could not load the status: {status.error}</p>
        </section>
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
