/**
 * html.ts: --html FILE: one self-contained page (no network) with the machine, four charts
 * (p50 and p99 round trip by size, throughput in MB/s and msg/s by size; one series per
 * transport or baseline, log axes since the figures span decades) drawn by Chart.js, whose
 * UMD build is read from node_modules and inlined, and the full table.
 *
 * After drawing, the page checks itself: at every data point it reads the canvas pixel and
 * looks for a series colour, then writes the verdict as JSON into #render-check. The test
 * (test/cli/html-report.test.ts) renders the page in headless Chromium and reads that marker,
 * so "the charts drew" is checked by the browser, not assumed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { formatMb, formatRate, formatSize, formatUs } from '../../src/cli/format.js';
import { machineLine } from '../machine.js';
import type { BenchReport, BenchResult } from '../result.js';

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f', '#393b79', '#637939', '#8c6d31', '#843c39'];

function chartJsSource(): string {
  // chart.js's exports map hides dist/; resolve its entry point and take the UMD file beside it.
  const entry = createRequire(import.meta.url).resolve('chart.js');
  return readFileSync(join(dirname(entry), 'chart.umd.min.js'), 'utf8');
}

/** Makes text safe inside <script>: no `</script`, no `<!--`. */
function scriptSafe(text: string): string {
  return text.replace(/<(\/script|!--)/gi, '\\u003c$1');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

interface Series {
  label: string;
  kind: string;
  /** 'bus' or 'link' for a transport; '' for a baseline (the same at every level). */
  level: string;
  threads: boolean;
  color: string;
  points: Array<{ size: number; p50: number; p99: number; mbps: number; msgs: number }>;
}

/**
 * One series per transport and level, and per baseline. When both levels are present, a
 * transport's two series share a colour (so the pair reads together): bus solid with round
 * points, link thin with triangles, and the labels say which is which.
 */
function seriesOf(results: readonly BenchResult[]): Series[] {
  const byKey = new Map<string, Series>();
  const colours = new Map<string, string>();
  const levels = new Set(results.filter((r) => r.kind === 'transport').map((r) => r.level));
  for (const r of results) {
    const level = r.kind === 'transport' ? r.level : '';
    const key = `${r.name}\u0000${level}`;
    let s = byKey.get(key);
    if (!s) {
      let color = colours.get(r.name);
      if (!color) colours.set(r.name, (color = PALETTE[colours.size % PALETTE.length]!));
      const label = level && levels.size > 1 ? `${r.name} (${level})` : r.name;
      s = { label, kind: r.kind, level, threads: r.threads === true, color, points: [] };
      byKey.set(key, s);
    }
    s.points.push({ size: r.size, p50: r.rtt.p50Us, p99: r.rtt.p99Us, mbps: r.throughput.mbPerSec, msgs: r.throughput.msgsPerSec });
  }
  return [...byKey.values()];
}

function tableHtml(results: readonly BenchResult[]): string {
  const rows = results
    .map((r) => {
      const cells = [
        escapeHtml(r.name),
        r.threads ? 'baseline (threads)' : r.kind,
        r.kind === 'baseline' ? 'any' : r.level,
        formatSize(r.size),
        formatUs(r.rtt.p50Us),
        formatUs(r.rtt.p99Us),
        formatUs(r.rtt.p999Us),
        formatRate(r.rtt.samples),
        formatRate(r.throughput.msgsPerSec),
        formatMb(r.throughput.mbPerSec),
        r.throughput.received < r.throughput.sent ? `${((100 * (r.throughput.sent - r.throughput.received)) / r.throughput.sent).toFixed(1)}%` : '',
      ];
      return `<tr>${cells.map((c, i) => `<td${i >= 3 ? ' class="n"' : ''}>${c}</td>`).join('')}</tr>`;
    })
    .join('\n');
  return `<table><thead><tr><th>name</th><th>kind</th><th>level</th><th>size</th><th>p50 µs</th><th>p99 µs</th><th>p99.9 µs</th><th>round trips</th><th>msg/s</th><th>MB/s</th><th>lost</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** The page's own script: draws the charts, then checks the pixels under every point. */
const PAGE_SCRIPT = String.raw`
(function () {
  var marker = document.getElementById('render-check');
  function verdict(v) { marker.textContent = JSON.stringify(v); marker.setAttribute('data-status', v.status); }
  try {
    var data = JSON.parse(document.getElementById('bench-data').textContent);
    var sizeLabel = function (v) {
      if (v >= 1048576 && v % 1048576 === 0) return (v / 1048576) + ' MiB';
      if (v >= 1024 && v % 1024 === 0) return (v / 1024) + ' KiB';
      return v + ' B';
    };
    var specs = [
      { id: 'chart-p50', key: 'p50', title: 'Round trip, p50 (µs, log scale; lower is better)' },
      { id: 'chart-p99', key: 'p99', title: 'Round trip, p99 (µs, log scale; lower is better)' },
      { id: 'chart-mbps', key: 'mbps', title: 'One-way throughput (MB/s, log scale; higher is better)' },
      { id: 'chart-msgs', key: 'msgs', title: 'One-way throughput (messages/s, log scale; higher is better)' }
    ];
    var charts = specs.map(function (spec) {
      return new Chart(document.getElementById(spec.id), {
        type: 'line',
        data: {
          datasets: data.series.map(function (s) {
            return {
              label: s.label + (s.threads ? ' (threads)' : s.kind === 'baseline' ? ' (baseline)' : ''),
              data: s.points.map(function (p) { return { x: p.size, y: p[spec.key] }; }),
              borderColor: s.color, backgroundColor: s.color,
              borderDash: s.kind === 'baseline' ? (s.threads ? [2, 3] : [6, 4]) : [],
              pointStyle: s.level === 'link' ? 'triangle' : 'circle',
              pointRadius: s.level === 'link' ? 5 : 4, borderWidth: s.level === 'link' ? 1 : 2
            };
          })
        },
        options: {
          animation: false, responsive: false, devicePixelRatio: 1,
          plugins: { title: { display: true, text: spec.title }, legend: { position: 'right', labels: { usePointStyle: true } } },
          scales: {
            x: { type: 'logarithmic', title: { display: true, text: 'message size' },
                 afterBuildTicks: function (axis) { axis.ticks = data.sizes.map(function (v) { return { value: v }; }); },
                 ticks: { callback: function (v) { return sizeLabel(v); } } },
            y: { type: 'logarithmic' }
          }
        }
      });
    });
    // Each point's centre must carry a series colour: proof that the data, not only the axes, drew.
    var colours = data.series.map(function (s) {
      return [parseInt(s.color.slice(1, 3), 16), parseInt(s.color.slice(3, 5), 16), parseInt(s.color.slice(5, 7), 16)];
    });
    var points = 0, hits = 0, misses = [];
    charts.forEach(function (chart) {
      var ctx = chart.canvas.getContext('2d');
      chart.data.datasets.forEach(function (ds, i) {
        chart.getDatasetMeta(i).data.forEach(function (el) {
          points++;
          // The 5x5 pixels around the centre: a crossing line may blend the centre pixel itself.
          var px = ctx.getImageData(Math.round(el.x) - 2, Math.round(el.y) - 2, 5, 5).data;
          var match = false;
          for (var k = 0; k < px.length && !match; k += 4) {
            match = px[k + 3] > 200 && colours.some(function (c) {
              return Math.abs(c[0] - px[k]) < 40 && Math.abs(c[1] - px[k + 1]) < 40 && Math.abs(c[2] - px[k + 2]) < 40;
            });
          }
          if (match) hits++;
          else misses.push(chart.canvas.id + ':' + ds.label + '@' + Math.round(el.x) + ',' + Math.round(el.y));
        });
      });
    });
    var expected = data.series.reduce(function (n, s) { return n + s.points.length; }, 0) * specs.length;
    verdict({ status: points === expected && hits === points && points > 0 ? 'ok' : 'incomplete',
              charts: charts.length, points: points, expected: expected, hits: hits, misses: misses.slice(0, 10) });
  } catch (e) {
    verdict({ status: 'error', error: String(e && e.message || e) });
  }
})();
`;

/** "bus", "link" or "bus and link": the levels of the transports measured. */
function levelsOf(report: BenchReport): string {
  const levels = [...new Set(report.results.filter((r) => r.kind === 'transport').map((r) => r.level))].sort();
  return levels.length ? levels.join(' and ') : (report.results[0]?.level ?? 'link');
}

export function renderHtml(report: BenchReport): string {
  const sizes = [...new Set(report.results.map((r) => r.size))].sort((a, b) => a - b);
  const data = { sizes, series: seriesOf(report.results) };
  const failures = report.failures.length
    ? `<h2>Not measured</h2><ul>${report.failures.map((f) => `<li>${escapeHtml(`${f.name} ${f.size === null ? '' : formatSize(f.size)}: ${f.error}`)}</li>`).join('')}</ul>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>switchyard bench (${levelsOf(report)} level)</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
canvas { display: block; margin: 1em 0; }
table { border-collapse: collapse; margin-top: 1em; }
td, th { padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.machine { color: #555; }
</style>
</head>
<body>
<h1>switchyard bench</h1>
<p class="machine">${escapeHtml(machineLine(report.machine))}, ${escapeHtml(report.machine.date)}, ${report.machine.mode} run.
${levelsOf(report).includes(' and ') ? 'Each transport is drawn twice in one colour: bus level (tell/ask through the bus; round points) and link level (raw frames; thin line, triangles). ' : ''}Baselines are dashed (they are the same at every level); worker_threads (dotted) are threads of one process, not two processes.</p>
<canvas id="chart-p50" width="1000" height="420"></canvas>
<canvas id="chart-p99" width="1000" height="420"></canvas>
<canvas id="chart-mbps" width="1000" height="420"></canvas>
<canvas id="chart-msgs" width="1000" height="420"></canvas>
${tableHtml(report.results)}
${failures}
<pre id="render-check" data-status="pending">pending</pre>
<script type="application/json" id="bench-data">${scriptSafe(JSON.stringify(data))}</script>
<script>${scriptSafe(chartJsSource())}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

export function writeHtmlReport(file: string, report: BenchReport): void {
  writeFileSync(file, renderHtml(report));
}
