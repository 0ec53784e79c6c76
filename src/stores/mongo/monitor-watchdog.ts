import { Logger } from '@nestjs/common';

/** What the watchdog needs of a `MongoClient`: its heartbeat events, `close()` and `connect()`. */
export interface MonitoredClient {
  on(event: 'serverHeartbeatStarted', listener: (e: { awaited: boolean }) => void): unknown;
  on(event: 'serverHeartbeatSucceeded' | 'serverHeartbeatFailed' | 'topologyClosed', listener: () => void): unknown;
  close(): Promise<void>;
  connect(): Promise<unknown>;
}

export interface MonitorWatchdogOptions {
  /** The client's `connectTimeoutMS`: bounds the monitor's connect and its polled `hello` alike. */
  connectTimeoutMS: number;
  /** The client's `heartbeatFrequencyMS`: how long an awaited (streaming) `hello` may be held by the server. */
  heartbeatFrequencyMS: number;
  /** How often the outstanding heartbeat is looked at. */
  checkEveryMs?: number;
  now?: () => number;
}

/**
 * The driver's server monitor can stall. Seen with driver 7.9 against the dev server when the legacy server
 * stops while writes flow: a heartbeat starts as the server goes away and never ends (no succeeded, no failed
 * event), and the monitor starts no other check while one is in progress. The server then stays `Unknown`,
 * and every operation fails server selection long after the server is back: the API answers 503 for the
 * legacy store until it is restarted.
 *
 * No healthy heartbeat outlives its own timeouts: a polled one is a connect and a `hello`, each bounded by
 * `connectTimeoutMS`; an awaited one may also be held for `heartbeatFrequencyMS` by the server. One that is
 * outstanding for longer, plus a margin, is stalled, and the watchdog closes the client and connects it again
 * (a fresh topology, a fresh monitor), retrying the connect on every check until it succeeds. The operations
 * in flight at the close, and those in between, fail as the store being unreachable (503 with Retry-After),
 * which they were already doing.
 */
export class MonitorWatchdog {
  private readonly logger = new Logger('LegacyMonitorWatchdog');
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;
  private outstanding: { since: number; limitMs: number } | null = null;
  private recycling = false;
  private disconnected = false;
  recycled = 0;

  constructor(
    private readonly client: MonitoredClient,
    private readonly options: MonitorWatchdogOptions,
  ) {
    this.now = options.now ?? Date.now;
    client.on('serverHeartbeatStarted', (e) => {
      const held = e.awaited ? options.heartbeatFrequencyMS : 0;
      this.outstanding = { since: this.now(), limitMs: held + 2 * options.connectTimeoutMS + 2_000 };
    });
    const ended = () => {
      this.outstanding = null;
    };
    client.on('serverHeartbeatSucceeded', ended);
    client.on('serverHeartbeatFailed', ended);
    client.on('topologyClosed', ended);
    this.timer = setInterval(() => void this.check(), options.checkEveryMs ?? 1_000);
    this.timer.unref();
  }

  /** Closes and reconnects the client when its heartbeat has stalled (tests call it directly). */
  async check(): Promise<void> {
    if (this.recycling) return;
    this.recycling = true;
    try {
      if (!this.disconnected) {
        const beat = this.outstanding;
        const ageMs = beat ? this.now() - beat.since : 0;
        if (!beat || ageMs <= beat.limitMs) return;
        this.outstanding = null;
        this.logger.warn({ msg: 'legacy server monitor stalled; reconnecting the client', heartbeatAgeMs: ageMs });
        this.disconnected = true;
        await this.client
          .close()
          .catch((err: Error) => this.logger.warn({ msg: 'closing the stalled legacy client failed', err: err.message }));
      }
      await this.client.connect();
      this.disconnected = false;
      this.recycled++;
      this.logger.log({ msg: 'legacy client reconnected' });
    } catch (err) {
      this.logger.warn({ msg: 'reconnecting the legacy client failed; trying again', err: (err as Error).message });
    } finally {
      this.recycling = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
