import { chartGeometry } from './chart';
import { ratio, time } from './format';
import type { ShadowTimeline } from './types';

const W = 600;
const H = 160;

/** The mismatch rate per bucket as a line (gaps where nothing was compared), with the gate's threshold dashed. */
export function ShadowChart({ timeline }: { timeline: ShadowTimeline }) {
  const points = timeline.buckets.map((b) => ({ t: Date.parse(b.start), value: b.rate }));
  const g = chartGeometry(points, W, H, timeline.maxMismatchRate);
  const compared = timeline.buckets.reduce((n, b) => n + b.compared, 0);
  const first = timeline.buckets[0]?.start ?? null;
  return (
    <figure class="chart" data-testid="shadow-chart">
      <svg
        viewBox={`0 0 ${W + 60} ${H + 20}`}
        role="img"
        aria-label={`mismatch rate over the last ${Math.round(timeline.windowMs / 60000)} minutes`}
      >
        <g transform="translate(56 4)">
          {g.yTicks.map((t) => (
            <g key={t.value}>
              <line x1={0} x2={W} y1={t.y} y2={t.y} class="grid" />
              <text x={-6} y={t.y + 4} class="tick" text-anchor="end">
                {ratio(t.value)}
              </text>
            </g>
          ))}
          {g.thresholdY !== null && <line x1={0} x2={W} y1={g.thresholdY} y2={g.thresholdY} class="threshold" />}
          {g.paths.map((d) => (
            <path key={d} d={d} class="line" />
          ))}
          {g.dots.map((d) => (
            <circle key={`${d.x}-${d.y}`} cx={d.x} cy={d.y} r={2} class="dot">
              <title>{ratio(d.value)}</title>
            </circle>
          ))}
        </g>
        <text x={56} y={H + 18} class="tick">
          {time(first)}
        </text>
        <text x={W + 56} y={H + 18} class="tick" text-anchor="end">
          now
        </text>
      </svg>
      <figcaption>
        {compared === 0
          ? 'Nothing compared in this window.'
          : `${compared} comparisons in ${timeline.buckets.length} buckets of ${Math.round(timeline.bucketMs / 1000)} s`}{' '}
        · dashed: the gate's threshold {ratio(timeline.maxMismatchRate)}
      </figcaption>
    </figure>
  );
}
