/**
 * The shell: sign-in, the polling loop, the notice line and the action dialog. A sign-in is checked
 * against GET /migration/status before the token is kept (in sessionStorage only: it goes with the tab).
 * Every move sends the step this screen shows as `expectedStep`; a 409 STEP_CHANGED (the migration
 * moved since the screen was drawn) reloads the view and says so, and nothing is retried blindly.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { Api, ApiError, refusalText, session } from './api';
import { Actions, Dialog } from './actions';
import { loadSnapshot, Snapshot, View } from './data';
import { gateThreshold, gateValue, time } from './format';
import { Panels, Timeline } from './panels';
import type { DialogState, Gate, Notice } from './types';

const POLL_MS = 5000;

function SignIn({ onSignedIn, message }: { onSignedIn: (token: string) => void; message: string | null }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(message);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const t = token.trim();
    if (!t) return setError('Enter an operator token.');
    setBusy(true);
    try {
      await new Api(t).get('/migration/status');
      session.save(t);
      onSignedIn(t);
    } catch (err) {
      setError(err instanceof ApiError && err.status > 0 ? refusalText(err.status) : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      {/* Handlers run their work on their own (the browser ignores what a handler returns) and catch their own errors. */}
      <form onSubmit={(e) => void submit(e)} aria-label="Sign in">
        <h1>Migration dashboard</h1>
        <p>
          Sign in with an operator token (one of <code>OPERATOR_API_TOKENS</code>). It is kept in this tab's session storage only.
        </p>
        <label for="token">Operator token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
        />
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        {error && (
          <p class="error" role="alert" data-testid="signin-error">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}

export function App() {
  const [token, setToken] = useState<string | null>(session.token());
  const [signOutReason, setSignOutReason] = useState<string | null>(null);
  const signOut = useCallback((reason: string | null) => {
    session.clear();
    setSignOutReason(reason);
    setToken(null);
    fetch('/dashboard/queues-session', { method: 'DELETE', credentials: 'same-origin' }).catch(() => undefined);
  }, []);
  if (!token)
    return (
      <SignIn
        message={signOutReason}
        onSignedIn={(t) => {
          setSignOutReason(null);
          setToken(t);
        }}
      />
    );
  return <Dashboard token={token} signOut={signOut} />;
}

function Dashboard({ token, signOut }: { token: string; signOut: (reason: string | null) => void }) {
  const api = useRef(
    new Api(token, (reason, message) =>
      signOut(
        reason === 'unauthorized'
          ? `Signed out: the API no longer accepts this token (401: ${message}).`
          : `Signed out: ${refusalText(403)}`,
      ),
    ),
  ).current;
  const [snapshot, setSnapshot] = useState<Snapshot | null>(null);
  const [view, setView] = useState<View>({ shadowWindowMs: 3_600_000, historyOffset: 0 });
  const [notice, setNotice] = useState<Notice | null>(null);
  const [dialog, setDialog] = useState<DialogState | null>(null);
  const viewRef = useRef(view);
  viewRef.current = view;

  const refresh = useCallback(async () => {
    setSnapshot(await loadSnapshot(api, viewRef.current));
  }, [api]);

  // A new view (another page of the audit log, another shadow window) loads at once, then every POLL_MS.
  // The polling loop is fire-and-forget: each load stands alone and the next one comes POLL_MS later.
  useEffect(() => {
    void refresh();
    const timer = setInterval(() => void refresh(), POLL_MS);
    return () => clearInterval(timer);
  }, [refresh, view]);

  /** A failed action: a stale screen is reloaded and says so; anything else is shown as the API said it. */
  const failed = useCallback(
    async (err: unknown) => {
      if (!(err instanceof ApiError)) return setNotice({ kind: 'error', text: (err as Error).message });
      if (err.code === 'STEP_CHANGED') {
        setDialog(null);
        await refresh();
        return setNotice({
          kind: 'info',
          text: `The migration moved while this screen was open, so nothing was done (${err.message}). The view has been refreshed: check it and try again.`,
        });
      }
      const details =
        err.code === 'GATE_FAILED'
          ? (err.errors as Array<{ name: string; value: Gate['value']; threshold: string }>).map(
              (g) => `${g.name}: ${gateValue(g.name, g.value)} (needs ${gateThreshold(g.name, g.threshold)})`,
            )
          : undefined;
      setNotice({ kind: 'error', text: `${err.code} (${err.status}): ${err.message}`, details });
      await refresh();
    },
    [refresh],
  );

  const openQueues = async () => {
    try {
      const { url } = await api.post<{ url: string }>('/dashboard/queues-session');
      window.open(url, '_blank');
    } catch (err) {
      await failed(err);
    }
  };

  const status = snapshot?.status.ok ? snapshot.status.value : null;
  return (
    <div class="shell">
      <header class="top">
        <h1>Migration dashboard</h1>
        <span class="updated" data-testid="updated">
          {snapshot ? `updated ${time(snapshot.at.toISOString())}` : 'loading…'}
        </span>
        {/* Handlers run their work on their own (the browser ignores what a handler returns). */}
        <button type="button" onClick={() => void refresh()} data-testid="refresh">
          Refresh
        </button>
        <button type="button" onClick={() => void openQueues()} data-testid="open-queues">
          Queues (bull-board)
        </button>
        <button type="button" class="quiet" onClick={() => signOut(null)}>
          Sign out
        </button>
      </header>
      {notice && (
        <div class={`notice ${notice.kind}`} role="status" data-testid="notice">
          <span>{notice.text}</span>
          {notice.details && (
            <ul>
              {notice.details.map((d) => (
                <li key={d}>{d}</li>
              ))}
            </ul>
          )}
          <button type="button" class="quiet" onClick={() => setNotice(null)} aria-label="Dismiss">
            ×
          </button>
        </div>
      )}
      {status && <Timeline status={status} />}
      {status && <Actions api={api} status={status} setDialog={setDialog} setNotice={setNotice} failed={failed} />}
      {snapshot ? (
        <Panels
          snapshot={snapshot}
          view={view}
          setView={setView}
          api={api}
          setDialog={setDialog}
          setNotice={setNotice}
          failed={failed}
          refresh={refresh}
        />
      ) : (
        <p class="loading">Loading…</p>
      )}
      {dialog && <Dialog state={dialog} close={() => setDialog(null)} failed={failed} setNotice={setNotice} refresh={refresh} />}
    </div>
  );
}
