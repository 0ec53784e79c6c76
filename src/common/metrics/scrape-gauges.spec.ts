import { MetricsService } from './metrics.service';
import { registerScrapeGauges } from './scrape-gauges';
import { registerTrafficGauges } from '../../traffic/traffic-metrics';
import { registerShadowGauges } from '../../shadow/shadow-metrics';

const line = (text: string, name: string) => text.split('\n').find((l) => l.startsWith(`${name} `));

describe('scrape-time gauges', () => {
  it('read once per scrape for all the gauges registered together, once per registry', async () => {
    const metrics = new MetricsService();
    let reads = 0;
    const read = async () => ({ a: ++reads, b: 10 });
    registerScrapeGauges(metrics, 'test figures', read, [
      { name: 'test_a', help: 'a', value: (r) => r.a },
      { name: 'test_b', help: 'b', value: (r) => r.b },
    ], 0);
    registerScrapeGauges(metrics, 'test figures', read, [{ name: 'test_a', help: 'a', value: () => -1 }], 0);
    const text = await metrics.registry.metrics();
    expect(line(text, 'test_a')).toBe('test_a 1');
    expect(line(text, 'test_b')).toBe('test_b 10');
    expect(reads).toBe(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(line(await metrics.registry.metrics(), 'test_a')).toBe('test_a 2');
  });

  it('read NaN (unknown) in a scrape whose read failed, without failing /metrics', async () => {
    const metrics = new MetricsService();
    let fail = false;
    registerScrapeGauges(metrics, 'test figures', async () => {
      if (fail) throw new Error('connection refused');
      return 7;
    }, [{ name: 'test_c', help: 'c', value: (r) => r }], 0);
    expect(line(await metrics.registry.metrics(), 'test_c')).toBe('test_c 7');
    fail = true;
    await new Promise((r) => setTimeout(r, 20));
    // prom-client writes NaN as "Nan"; Prometheus parses either (Go's ParseFloat ignores the case).
    expect(line(await metrics.registry.metrics(), 'test_c')).toMatch(/^test_c NaN$/i);
  });

  it('traffic: open changes and the age of the oldest', async () => {
    const metrics = new MetricsService();
    registerTrafficGauges(metrics, { openSummary: async () => ({ open: 2, oldestAgeSeconds: 731.5 }) });
    const text = await metrics.registry.metrics();
    expect(line(text, 'traffic_changes_open')).toBe('traffic_changes_open 2');
    expect(line(text, 'traffic_change_oldest_open_age_seconds')).toBe('traffic_change_oldest_open_age_seconds 731.5');
  });

  it('shadow: the mismatch ratio and the comparisons over the gates window, NaN when nothing was compared', async () => {
    const metrics = new MetricsService();
    const windows: number[] = [];
    let rate = { windowMs: 300_000, compared: 4000, mismatched: 6, rate: 0.0015 as number | null };
    registerShadowGauges(metrics, { mismatchRate: async (w) => (windows.push(w), rate) }, 300_000);
    let text = await metrics.registry.metrics();
    expect(line(text, 'shadow_window_mismatch_ratio')).toBe('shadow_window_mismatch_ratio 0.0015');
    expect(line(text, 'shadow_window_comparisons')).toBe('shadow_window_comparisons 4000');
    expect(text).toContain('in the last 300 s');
    expect(new Set(windows)).toEqual(new Set([300_000]));
    rate = { windowMs: 300_000, compared: 0, mismatched: 0, rate: null };
    await new Promise((r) => setTimeout(r, 600));
    text = await metrics.registry.metrics();
    expect(line(text, 'shadow_window_mismatch_ratio')).toMatch(/^shadow_window_mismatch_ratio NaN$/i);
  });
});
