/** Everything the dashboard shows, loaded together; each part keeps its own error so one failing endpoint blanks one panel only. */
import type { Api } from './api';
import type {
  Archive,
  AuditEntry,
  DeadLetters,
  Page,
  Repairs,
  ShadowStatus,
  ShadowTimeline,
  Status,
  SyncStatus,
  TopPaths,
  TrafficChange,
  VerifyRun,
} from './types';

export type Loaded<T> = { ok: true; value: T } | { ok: false; error: string };

export interface Snapshot {
  at: Date;
  status: Loaded<Status>;
  sync: Loaded<SyncStatus>;
  verify: Loaded<{ items: VerifyRun[] }>;
  shadow: Loaded<ShadowStatus>;
  timeline: Loaded<ShadowTimeline>;
  topPaths: Loaded<TopPaths>;
  repairs: Loaded<Repairs>;
  deadLetters: Loaded<DeadLetters>;
  traffic: Loaded<Page<TrafficChange>>;
  history: Loaded<Page<AuditEntry>>;
  archive: Loaded<Archive>;
}

export interface View {
  shadowWindowMs: number;
  historyOffset: number;
}

export const PAGE = 15;

async function load<T>(p: Promise<T>): Promise<Loaded<T>> {
  try {
    return { ok: true, value: await p };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

export async function loadSnapshot(api: Api, view: View): Promise<Snapshot> {
  const w = view.shadowWindowMs;
  const [status, sync, verify, shadow, timeline, topPaths, repairs, deadLetters, traffic, history, archive] = await Promise.all([
    load(api.get<Status>('/migration/status')),
    load(api.get<SyncStatus>('/migration/sync')),
    load(api.get<{ items: VerifyRun[] }>('/migration/verify?limit=10')),
    load(api.get<ShadowStatus>(`/migration/shadow?windowMs=${w}`)),
    load(api.get<ShadowTimeline>(`/migration/shadow/timeline?windowMs=${w}&buckets=60`)),
    load(api.get<TopPaths>(`/migration/shadow/top-paths?windowMs=${w}&limit=8`)),
    load(api.get<Repairs>('/migration/repairs?limit=20')),
    load(api.get<DeadLetters>('/migration/sync/dead-letters?status=open&limit=20')),
    load(api.get<Page<TrafficChange>>(`/migration/traffic?limit=${PAGE}`)),
    load(api.get<Page<AuditEntry>>(`/migration/history?limit=${PAGE}&offset=${view.historyOffset}`)),
    load(api.get<Archive>('/migration/cleanup')),
  ]);
  return { at: new Date(), status, sync, verify, shadow, timeline, topPaths, repairs, deadLetters, traffic, history, archive };
}
