import { EventEmitter } from 'node:events';
import { MonitoredClient, MonitorWatchdog } from './monitor-watchdog';

class FakeClient extends EventEmitter implements MonitoredClient {
  calls: string[] = [];
  connectFails = 0;
  async close(): Promise<void> {
    this.calls.push('close');
    this.emit('topologyClosed');
  }
  async connect(): Promise<unknown> {
    this.calls.push('connect');
    if (this.connectFails > 0) {
      this.connectFails--;
      throw new Error('connect ECONNREFUSED');
    }
    return this;
  }
}

describe('MonitorWatchdog', () => {
  let now = 0;
  let client: FakeClient;
  let watchdog: MonitorWatchdog;

  beforeEach(() => {
    now = 0;
    client = new FakeClient();
    watchdog = new MonitorWatchdog(client, { connectTimeoutMS: 3000, heartbeatFrequencyMS: 10_000, checkEveryMs: 60_000, now: () => now });
  });
  afterEach(() => watchdog.stop());

  it('leaves a client alone while its heartbeats end within their timeouts', async () => {
    client.emit('serverHeartbeatStarted', { awaited: false });
    now = 7_900;
    await watchdog.check();
    client.emit('serverHeartbeatFailed');
    now = 60_000;
    await watchdog.check();
    expect(client.calls).toEqual([]);
  });

  it('reconnects a client whose polled heartbeat outlived a connect and a hello', async () => {
    client.emit('serverHeartbeatStarted', { awaited: false });
    now = 8_001;
    await watchdog.check();
    expect(client.calls).toEqual(['close', 'connect']);
    expect(watchdog.recycled).toBe(1);
    now = 20_000;
    await watchdog.check();
    expect(client.calls).toEqual(['close', 'connect']);
  });

  it('gives an awaited heartbeat the time the server may hold it', async () => {
    client.emit('serverHeartbeatStarted', { awaited: true });
    now = 17_000;
    await watchdog.check();
    expect(client.calls).toEqual([]);
    now = 18_001;
    await watchdog.check();
    expect(client.calls).toEqual(['close', 'connect']);
  });

  it('keeps trying to connect until the server answers', async () => {
    client.connectFails = 2;
    client.emit('serverHeartbeatStarted', { awaited: false });
    now = 9_000;
    await watchdog.check();
    await watchdog.check();
    expect(watchdog.recycled).toBe(0);
    await watchdog.check();
    expect(client.calls).toEqual(['close', 'connect', 'connect', 'connect']);
    expect(watchdog.recycled).toBe(1);
  });
});
