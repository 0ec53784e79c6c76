import { MetricsService } from '../common/metrics/metrics.service';
import { registerShadowGauges } from './shadow-metrics';

const line = (text: string, name: string) => text.split('\n').find((l) => l.startsWith(`${name} `));

describe('shadow gauges', () => {
  it('shadow: the mismatch ratio, the lag ratio beside it and the comparisons over the gates window, NaN when nothing was compared', async () => {
    const metrics = new MetricsService();
    const windows: number[] = [];
    let rate = {
      windowMs: 300_000,
      compared: 4000,
      mismatched: 6,
      lag: 1000,
      rate: 0.0015 as number | null,
      lagShare: 0.25 as number | null,
    };
    registerShadowGauges(metrics, { mismatchRate: async (w) => (windows.push(w), rate) }, 300_000);
    let text = await metrics.registry.metrics();
    expect(line(text, 'shadow_window_mismatch_ratio')).toBe('shadow_window_mismatch_ratio 0.0015');
    expect(line(text, 'shadow_window_comparisons')).toBe('shadow_window_comparisons 4000');
    expect(line(text, 'shadow_window_lag_ratio')).toBe('shadow_window_lag_ratio 0.25');
    expect(text).toContain('in the last 300 s');
    expect(new Set(windows)).toEqual(new Set([300_000]));
    rate = { windowMs: 300_000, compared: 0, mismatched: 0, lag: 0, rate: null, lagShare: null };
    await new Promise((r) => setTimeout(r, 600));
    text = await metrics.registry.metrics();
    expect(line(text, 'shadow_window_mismatch_ratio')).toMatch(/^shadow_window_mismatch_ratio NaN$/i);
    expect(line(text, 'shadow_window_lag_ratio')).toMatch(/^shadow_window_lag_ratio NaN$/i);
  });
});
