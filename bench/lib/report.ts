/**
 * `npm run bench -- --report`: docs/benchmarks.md from a run's result lines, for people rather than
 * machines. One section per scenario: every figure with its measured value, baseline, ratio, target and
 * pass/fail; the machine it ran on (CPU, memory, load, Node, the commit); and SVG charts (docs/bench/*.svg)
 * for lines that carry a `chart` (see ChartSpec): the scenario decides what is worth drawing.
 * The SVG is written by hand (no dependency): axes, grid, one polyline or bar group per series, a legend.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { capacityReport } from './capacity';
import type { BenchLine } from './types';

/** What a result line may carry to be drawn. `kind` line: x numeric; bar: x labels. */
export interface ChartSpec {
  id: string;
  title: string;
  kind: 'line' | 'bar';
  x: string;
  y: string;
  /** Line charts: a logarithmic x axis (sizes 10, 100, 1,000 evenly apart). */
  logX?: boolean;
  series: Array<{ name: string; points: Array<[number | string, number]> }>;
}

const ROOT = path.resolve(__dirname, '../..');
const DOCS = path.join(ROOT, 'docs');
const CHART_DIR = path.join(DOCS, 'bench');
const COLOURS = ['#1f6feb', '#d1242f', '#1a7f37', '#9a6700', '#8250df', '#bc4c00'];

export function machine(): Record<string, string> {
  const cpus = os.cpus();
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    /* not a checkout */
  }
  return {
    date: new Date().toISOString(),
    commit,
    cpu: `${cpus.length} x ${cpus[0]?.model ?? 'unknown'}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    'load average (1/5/15 min, at the end)': os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' / '),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
  };
}

function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString('en-US') : String(v);
  if (typeof v === 'string') return v.replace(/\|/g, '\\|');
  return JSON.stringify(v).replace(/\|/g, '\\|').slice(0, 160);
}

/** The measured value of a line, whatever the scenario called it. */
function measured(l: BenchLine): unknown {
  for (const k of ['ratio', 'p99_ratio', 'measured', 'value', 'docs_per_s', 'p99_ms', 'peak_rss_mb']) if (k in l) return l[k];
  return undefined;
}

function baseline(l: BenchLine): unknown {
  for (const k of ['baseline', 'baseline_docs_per_s', 'baseline_p99_ms']) if (k in l) return typeof l[k] === 'object' ? undefined : l[k];
  return undefined;
}

const DETAIL_SKIP = new Set(['bench', 'figure', 'target', 'pass', 'chart', 'ratio', 'p99_ratio']);

function details(l: BenchLine): string {
  return Object.entries(l)
    .filter(([k]) => !DETAIL_SKIP.has(k))
    .map(([k, v]) => `${k}: ${cell(v)}`)
    .join('; ')
    .slice(0, 400);
}

export function svg(spec: ChartSpec): string {
  const W = 640;
  // The legend takes rows of up to three entries above the plot.
  const perRow = 3;
  const legendRows = Math.ceil(spec.series.length / perRow);
  const H = 320 + (legendRows - 1) * 14;
  const m = { l: 64, r: 16, t: 36 + (legendRows - 1) * 14, b: 48 };
  const w = W - m.l - m.r;
  const h = H - m.t - m.b;
  const ys = spec.series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  const yMax = niceMax(Math.max(1e-9, ...ys));
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${esc(spec.title)}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const y = m.t + h - (i / 4) * h;
    out.push(
      `<line x1="${m.l}" y1="${y}" x2="${m.l + w}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${m.l - 6}" y="${y + 4}" text-anchor="end">${fmt((yMax * i) / 4)}</text>`,
    );
  }
  out.push(`<text x="14" y="${m.t + h / 2}" transform="rotate(-90 14 ${m.t + h / 2})" text-anchor="middle">${esc(spec.y)}</text>`);
  out.push(`<text x="${m.l + w / 2}" y="${H - 8}" text-anchor="middle">${esc(spec.x)}</text>`);
  if (spec.kind === 'line') {
    const xs = spec.series.flatMap((s) => s.points.map((p) => Number(p[0])));
    const tx = (x: number) => (spec.logX ? Math.log10(Math.max(x, 1e-9)) : x);
    const [xMin, xMax] = [Math.min(...xs.map(tx)), Math.max(...xs.map(tx))];
    const px = (x: number) => m.l + (xMax === xMin ? w / 2 : ((tx(x) - xMin) / (xMax - xMin)) * w);
    const py = (y: number) => m.t + h - (y / yMax) * h;
    for (const x of [...new Set(xs)].sort((a, b) => a - b).filter((_, i, a) => a.length <= 8 || i % Math.ceil(a.length / 8) === 0)) {
      out.push(`<text x="${px(x)}" y="${m.t + h + 16}" text-anchor="middle">${fmt(x)}</text>`);
    }
    spec.series.forEach((s, i) => {
      const drawn = s.points.filter(([, y]) => Number.isFinite(y));
      const pts = drawn.map(([x, y]) => `${px(Number(x)).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
      out.push(`<polyline fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="2" points="${pts}"/>`);
      for (const [x, y] of drawn)
        out.push(
          `<circle cx="${px(Number(x)).toFixed(1)}" cy="${py(y).toFixed(1)}" r="${s.points.length > 40 ? 1.5 : 3}" fill="${COLOURS[i % COLOURS.length]}"/>`,
        );
    });
  } else {
    const labels = [...new Set(spec.series.flatMap((s) => s.points.map((p) => String(p[0]))))];
    const group = w / Math.max(1, labels.length);
    const bar = (group * 0.8) / Math.max(1, spec.series.length);
    labels.forEach((label, li) => {
      out.push(`<text x="${m.l + group * li + group / 2}" y="${m.t + h + 16}" text-anchor="middle">${esc(label)}</text>`);
      spec.series.forEach((s, si) => {
        const v = s.points.find((p) => String(p[0]) === label)?.[1];
        if (v === undefined || !Number.isFinite(v)) return;
        const bh = (v / yMax) * h;
        const x = m.l + group * li + group * 0.1 + bar * si;
        out.push(
          `<rect x="${x.toFixed(1)}" y="${(m.t + h - bh).toFixed(1)}" width="${bar.toFixed(1)}" height="${bh.toFixed(1)}" fill="${COLOURS[si % COLOURS.length]}"/>`,
        );
        out.push(
          `<text x="${(x + bar / 2).toFixed(1)}" y="${(m.t + h - bh - 3).toFixed(1)}" text-anchor="middle" font-size="9">${fmt(v)}</text>`,
        );
      });
    });
  }
  spec.series.forEach((s, i) => {
    const x = m.l + 8 + (i % perRow) * 185;
    const y = 36 + Math.floor(i / perRow) * 14;
    out.push(
      `<rect x="${x}" y="${y - 12}" width="10" height="10" fill="${COLOURS[i % COLOURS.length]}"/>`,
      `<text x="${x + 14}" y="${y - 3}">${esc(s.name)}</text>`,
    );
  });
  out.push(
    `<line x1="${m.l}" y1="${m.t + h}" x2="${m.l + w}" y2="${m.t + h}" stroke="#333"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${m.t + h}" stroke="#333"/>`,
    '</svg>',
  );
  return out.join('\n');
}

/**
 * What tells two lines of the same figure apart in the targets table: the size, the phase, the store, the worker
 * state, the CPU layout of the run (BENCH_LEGACY_CPUS), an append's answer and key (BENCH_APPEND_MINIMAL, _KEYED).
 */
function qualifier(l: BenchLine): string {
  const q = [
    typeof l.docs === 'number' ? `${l.docs.toLocaleString('en-US')} documents` : null,
    l.dual_phase ?? l.phase ?? null,
    typeof l.store === 'string' ? `${l.store} store` : null,
    l.worker ? `worker ${l.worker}` : null,
    typeof l.layout === 'string' ? l.layout : null,
    l.minimal === true ? 'Prefer: return=minimal' : null,
    l.keyed === true ? 'keyed' : null,
  ].filter((x) => x !== null);
  return q.length > 0 ? ` (${q.join(', ')})` : '';
}

const passCell = (l: BenchLine) => (l.pass === true ? 'yes' : l.pass === false ? '**no**' : '');

/** The targets table: the lines with a target, one row per figure, qualifier and target, in order of appearance. */
function targetRows(lines: BenchLine[]): string[] {
  const groups = new Map<string, BenchLine[]>();
  for (const l of lines.filter((x) => x.target !== undefined)) {
    const key = [l.bench, `${l.figure}${qualifier(l)}`, cell(l.target)].join('\u0000');
    groups.set(key, [...(groups.get(key) ?? []), l]);
  }
  return [...groups.values()].map((g) => {
    const last = g[g.length - 1];
    const judged = g.filter((l) => typeof l.pass === 'boolean');
    const met = judged.length > 0 ? `${judged.filter((l) => l.pass === true).length} of ${judged.length}` : '';
    const earlier = g.slice(0, -1).map((l) => cell(measured(l)) || '-');
    return `| ${last.bench} | ${last.figure}${qualifier(last)} | ${cell(last.run)} | ${cell(measured(last))} | ${cell(baseline(last))} | ${cell(last.target)} | ${passCell(last)} | ${met} | ${earlier.join(' / ')} |`;
  });
}

function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const f of [1, 2, 2.5, 5, 10]) if (f * p >= v) return f * p;
  return 10 * p;
}

function fmt(v: number): string {
  if (Math.abs(v) >= 10_000) return `${Math.round(v / 1000)}k`;
  if (Math.abs(v) >= 100) return String(Math.round(v));
  return String(Math.round(v * 100) / 100);
}

/** Writes docs/benchmarks.md (and its charts) from `lines`; returns the report's path. */
export function writeReport(lines: BenchLine[], scenarios: string[], sources?: string[]): string {
  fs.mkdirSync(CHART_DIR, { recursive: true });
  const out: string[] = [
    '# Benchmarks',
    '',
    ...(sources
      ? [
          `Written by \`npm run bench -- --report-from\` (bench/lib/report.ts) from the result lines of ${sources.length} run(s) on this machine, one`,
          `after another: ${sources.map((s) => `\`${s}\``).join(', ')} (each run's \`started\` line gives its time). Ratios compare two measurements`,
          'taken in the same run on the same machine (SPEC section 6); absolute figures are only as good as the machine below.',
        ]
      : [
          'Written by `npm run bench -- --report` (bench/lib/report.ts) from the run it finished; every figure comes from',
          'a JSON line of that run (`bench/results/latest.jsonl`). Ratios compare two measurements taken in the same run',
          'on the same machine (SPEC section 6); absolute figures are only as good as the machine below.',
        ]),
    '',
    '## Machine',
    '',
    '| | |',
    '| --- | --- |',
    ...Object.entries(machine()).map(([k, v]) => `| ${k} | ${cell(v)} |`),
    '',
    '## Targets',
    '',
    'One row per target: the last run that measured it (its figure, baseline and pass), how many of the runs that',
    "judged it met it, and the earlier runs' figures, oldest first.",
    '',
    '| scenario | figure | last run | measured | baseline | target | pass | runs that met it | earlier runs |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...targetRows(lines),
    '',
  ];
  for (const name of scenarios) {
    const own = lines.filter((l) => l.bench === name);
    if (own.length === 0) continue;
    out.push(`## ${name}`, '', '| figure | measured | target | pass | details |', '| --- | --- | --- | --- | --- |');
    for (const l of own) out.push(`| ${l.figure} | ${cell(measured(l))} | ${cell(l.target)} | ${passCell(l)} | ${details(l)} |`);
    out.push('');
    // One chart per id: several runs in one report draw the last run's (each chart is one run's figures).
    const charts = new Map<string, ChartSpec>();
    for (const l of own) if (l.chart) charts.set((l.chart as ChartSpec).id, l.chart as ChartSpec);
    for (const chart of charts.values()) {
      const file = `${chart.id}.svg`;
      fs.writeFileSync(path.join(CHART_DIR, file), `${svg(chart)}\n`);
      const runs = own.filter((l) => (l.chart as ChartSpec | undefined)?.id === chart.id).length;
      out.push(`![${chart.title}](bench/${file})`, '', ...(runs > 1 ? [`(the last of ${runs} runs)`, ''] : []));
    }
  }
  const capacity = capacityReport(lines);
  if (capacity) fs.writeFileSync(path.join(DOCS, 'capacity.md'), `${capacity}\n`);
  const report = path.join(DOCS, 'benchmarks.md');
  fs.writeFileSync(report, `${out.join('\n')}\n`);
  return report;
}
