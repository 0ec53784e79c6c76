import { MetricsService } from './metrics.service';
import { registerScrapeGauges } from './scrape-gauges';

const line = (text: string, name: string) => text.split('\n').find((l) => l.startsWith(`${name} `));

describe('scrape-time gauges', () => {
  it('read once per scrape for all the gauges registered together, once per registry', async () => {
    const metrics = new MetricsService();
    let reads = 0;
    const read = async () => ({ a: ++reads, b: 10 });
    registerScrapeGauges(
      metrics,
      'test figures',
      read,
      [
        { name: 'test_a', help: 'a', value: (r) => r.a },
        { name: 'test_b', help: 'b', value: (r) => r.b },
      ],
      0,
    );
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
    registerScrapeGauges(
      metrics,
      'test figures',
      async () => {
        if (fail) throw new Error('connection refused');
        return 7;
      },
      [{ name: 'test_c', help: 'c', value: (r) => r }],
      0,
    );
    expect(line(await metrics.registry.metrics(), 'test_c')).toBe('test_c 7');
    fail = true;
    await new Promise((r) => setTimeout(r, 20));
    // prom-client writes NaN as "Nan"; Prometheus parses either (Go's ParseFloat ignores the case).
    expect(line(await metrics.registry.metrics(), 'test_c')).toMatch(/^test_c NaN$/i);
  });
});
