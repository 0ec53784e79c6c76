/** The frame every panel shares: its section with a title and a load error, a fact list, and the re-drive confirmation. */
import type { ComponentChildren } from 'preact';
import type { Api } from '../api';
import { Loaded, Snapshot, View } from '../data';
import type { DialogState, Notice } from '../types';

export interface PanelProps {
  snapshot: Snapshot;
  view: View;
  setView: (v: View) => void;
  api: Api;
  setDialog: (d: DialogState | null) => void;
  setNotice: (n: Notice | null) => void;
  failed: (err: unknown) => Promise<void> | void;
  refresh: () => Promise<void>;
}

export function Panel<T>({
  title,
  id,
  data,
  children,
  wide,
}: {
  title: string;
  id: string;
  data: Loaded<T>;
  children: (v: T) => ComponentChildren;
  wide?: boolean;
}) {
  return (
    <section class={`panel${wide ? ' wide' : ''}`} aria-labelledby={`${id}-title`} data-testid={`panel-${id}`}>
      <h2 id={`${id}-title`}>{title}</h2>
      {data.ok ? children(data.value) : <p class="error">Could not load: {data.error}</p>}
    </section>
  );
}

export function Facts({ rows }: { rows: Array<[string, ComponentChildren]> }) {
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

export const store = (s: string) => (s === 'new' ? 'new (PostgreSQL)' : 'legacy (MongoDB)');

export function redrive<R>(p: PanelProps, title: string, lines: string[], path: string, body: unknown, done: (r: R) => string) {
  p.setDialog({
    title,
    lines,
    reason: 'optional',
    confirmLabel: 'Re-drive',
    run: async () => ({ kind: 'ok', text: done(await p.api.post<R>(path, body)) }),
  });
}
