import { MetricsService } from '../common/metrics/metrics.service';
import { registerTrafficGauges } from './traffic-metrics';

const line = (text: string, name: string) => text.split('\n').find((l) => l.startsWith(`${name} `));

describe('traffic gauges', () => {
  it('traffic: open changes and the age of the oldest', async () => {
    const metrics = new MetricsService();
    registerTrafficGauges(metrics, { openSummary: async () => ({ open: 2, oldestAgeSeconds: 731.5 }) });
    const text = await metrics.registry.metrics();
    expect(line(text, 'traffic_changes_open')).toBe('traffic_changes_open 2');
    expect(line(text, 'traffic_change_oldest_open_age_seconds')).toBe('traffic_change_oldest_open_age_seconds 731.5');
  });
});
