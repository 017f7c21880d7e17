/** Small dependency-free SVG charts for the HTML report: line charts and confusion-matrix heat maps. */
import type { LineChartOptions } from "../analyses/blocks.js";

/** Escapes text for XML/HTML content and attribute values. */
export function esc(s: unknown): string {
  return String(s)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** Distinct colours (Tableau 10, reordered so the first few contrast most). */
export const PALETTE = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#ff7f0e",
  "#9467bd",
  "#17becf",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
];

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';
/** A coordinate with at most two decimals, never NaN. */
const c = (v: number) => (Number.isFinite(v) ? String(Math.round(v * 100) / 100) : "0");
const svgOpen = (w: number, h: number, title: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(title)}" ${FONT}><title>${esc(title)}</title><rect width="${w}" height="${h}" fill="#fff"/>`;

interface Axis {
  /** Data value to pixel. */
  readonly map: (v: number) => number;
  readonly ticks: readonly number[];
  readonly label: (v: number) => string;
}

/** A linear or log axis over `values` onto pixels [p0, p1], with "nice" ticks at 1, 2, 5 × 10^k. */
function axis(values: readonly number[], log: boolean, p0: number, p1: number): Axis {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  let ticks: number[] = [];
  let decimals = 0;
  if (log) {
    if (hi / lo < 1.5) [lo, hi] = [lo / 1.5, hi * 1.5];
    const cands: number[] = [];
    for (let k = Math.floor(Math.log10(lo)) - 1; k <= Math.ceil(Math.log10(hi)); k++)
      for (const m of [1, 2, 5]) cands.push(Number((m * 10 ** k).toPrecision(12)));
    lo = Math.max(...cands.filter((t) => t <= lo * 1.000001));
    hi = Math.min(...cands.filter((t) => t >= hi / 1.000001));
    ticks = cands.filter((t) => t >= lo && t <= hi);
    if (ticks.length > 9) ticks = ticks.filter((t) => Number(t.toExponential(0).slice(0, 1)) !== 2);
    if (ticks.length > 9) ticks = ticks.filter((t) => Number(t.toExponential(0).slice(0, 1)) === 1);
    const [a, b] = [Math.log10(lo), Math.log10(hi)];
    return {
      map: (v) => p0 + ((Math.log10(v) - a) / (b - a)) * (p1 - p0),
      ticks,
      label: (v) => String(Number(v.toPrecision(6))),
    };
  }
  if (hi - lo < 1e-12)
    [lo, hi] = [lo - Math.max(1, Math.abs(lo) * 0.1), hi + Math.max(1, Math.abs(hi) * 0.1)];
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  let step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
  if (values.every(Number.isInteger)) step = Math.max(1, step);
  decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  lo = Math.floor(lo / step + 1e-9) * step;
  hi = Math.ceil(hi / step - 1e-9) * step;
  for (let t = lo; t <= hi + step / 2; t += step) ticks.push(Number(t.toFixed(decimals)));
  return {
    map: (v) => p0 + ((v - lo) / (hi - lo)) * (p1 - p0),
    ticks,
    label: (v) => v.toFixed(decimals),
  };
}

/**
 * A line chart (or, with `scatter`, markers only) with axes, grid, ticks, optional spread bars and a
 * legend on the right. Non-finite (or, on a log axis, non-positive) points are skipped.
 */
export function lineChart(o: LineChartOptions): string {
  const W = o.width ?? 640;
  const H = o.height ?? 360;
  const ok = (v: number, log?: boolean) => Number.isFinite(v) && (!log || v > 0);
  const series = o.series
    .map((s, i) => {
      const keep = s.points.map(([x, y]) => ok(x, o.logX) && ok(y, o.logY));
      const bar = (j: number) => {
        const d = s.spread?.[j];
        return d !== undefined && Number.isFinite(d) && d > 0 ? d : 0;
      };
      return {
        ...s,
        color: PALETTE[i % PALETTE.length]!,
        pts: s.points.filter((_, j) => keep[j]),
        bars: s.points.map((_, j) => bar(j)).filter((_, j) => keep[j]),
      };
    })
    .filter((s) => s.pts.length > 0);
  const legendW = series.length ? 34 + 6.6 * Math.max(...series.map((s) => s.name.length)) : 0;
  const m = { top: 40, left: 64, bottom: 50, right: 16 + Math.min(legendW, W * 0.4) };
  const [x0, x1, y0, y1] = [m.left, W - m.right, H - m.bottom, m.top];
  const out = [svgOpen(W, H, o.title)];
  out.push(
    `<text x="${c(W / 2)}" y="22" text-anchor="middle" font-size="15" font-weight="600" fill="#222">${esc(o.title)}</text>`,
  );
  out.push(
    `<text x="${c((x0 + x1) / 2)}" y="${c(H - 10)}" text-anchor="middle" font-size="12" fill="#444">${esc(o.xLabel)}</text>`,
  );
  out.push(
    `<text transform="translate(16 ${c((y0 + y1) / 2)}) rotate(-90)" text-anchor="middle" font-size="12" fill="#444">${esc(o.yLabel)}</text>`,
  );
  if (series.length === 0) {
    out.push(
      `<rect x="${x0}" y="${y1}" width="${c(x1 - x0)}" height="${c(y0 - y1)}" fill="none" stroke="#999"/>`,
    );
    out.push(
      `<text x="${c((x0 + x1) / 2)}" y="${c((y0 + y1) / 2)}" text-anchor="middle" font-size="13" fill="#888">no data</text>`,
    );
    return `${out.join("")}</svg>`;
  }
  const ax = axis(
    series.flatMap((s) => s.pts.map((p) => p[0])),
    !!o.logX,
    x0,
    x1,
  );
  // The y axis spans the spread bars too (on a log axis, only their positive ends).
  const ay = axis(
    series.flatMap((s) =>
      s.pts.flatMap(([, y], j) => [y, y - s.bars[j]!, y + s.bars[j]!].filter((v) => ok(v, o.logY))),
    ),
    !!o.logY,
    y0,
    y1,
  );
  for (const t of ax.ticks) {
    const x = c(ax.map(t));
    out.push(`<line x1="${x}" x2="${x}" y1="${y1}" y2="${y0}" stroke="#eee"/>`);
    out.push(`<line x1="${x}" x2="${x}" y1="${y0}" y2="${y0 + 5}" stroke="#666"/>`);
    out.push(
      `<text x="${x}" y="${y0 + 18}" text-anchor="middle" font-size="11" fill="#444">${esc(ax.label(t))}</text>`,
    );
  }
  for (const t of ay.ticks) {
    const y = c(ay.map(t));
    out.push(`<line x1="${x0}" x2="${x1}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    out.push(`<line x1="${x0 - 5}" x2="${x0}" y1="${y}" y2="${y}" stroke="#666"/>`);
    out.push(
      `<text x="${x0 - 8}" y="${y}" dy="0.35em" text-anchor="end" font-size="11" fill="#444">${esc(ay.label(t))}</text>`,
    );
  }
  out.push(`<path d="M${x0} ${y1}V${y0}H${x1}" fill="none" stroke="#666"/>`);
  series.forEach((s, i) => {
    const xy = s.pts.map(([x, y]) => `${c(ax.map(x))} ${c(ay.map(y))}`);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : "";
    s.pts.forEach(([x, y], j) => {
      const d = s.bars[j]!;
      if (d === 0) return;
      const [px, lo, hi] = [c(ax.map(x)), ay.map(o.logY && y - d <= 0 ? y : y - d), ay.map(y + d)];
      out.push(
        `<path d="M${px} ${c(lo)}V${c(hi)}M${c(ax.map(x) - 4)} ${c(lo)}h8M${c(ax.map(x) - 4)} ${c(hi)}h8" stroke="${s.color}" stroke-width="1.5"/>`,
      );
    });
    if (xy.length > 1 && !s.scatter)
      out.push(
        `<path d="M${xy.join("L")}" fill="none" stroke="${s.color}" stroke-width="2" stroke-linejoin="round"${dash}/>`,
      );
    if (!s.dashed && (s.pts.length <= 40 || xy.length === 1 || s.scatter))
      for (const [x, y] of s.pts)
        out.push(
          `<circle cx="${c(ax.map(x))}" cy="${c(ay.map(y))}" r="3.2" fill="${s.color}" stroke="#fff" stroke-width="1"/>`,
        );
    const ly = y1 + 8 + i * 20;
    out.push(
      `<line x1="${c(x1 + 12)}" x2="${c(x1 + 34)}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2.5"${dash}/>`,
      `<text x="${c(x1 + 40)}" y="${ly}" dy="0.35em" font-size="12" fill="#222">${esc(s.name)}</text>`,
    );
  });
  return `${out.join("")}</svg>`;
}

export interface ConfusionOptions {
  readonly title: string;
  /** matrix[true][predicted] counts. */
  readonly matrix: readonly (readonly number[])[];
  readonly labels?: readonly string[];
}

/** Blends white into `rgb` by t in [0, 1]. */
function tint(rgb: readonly [number, number, number], t: number): string {
  const ch = (v: number) => Math.round(255 + (v - 255) * Math.min(1, Math.max(0, t)));
  return `rgb(${ch(rgb[0])},${ch(rgb[1])},${ch(rgb[2])})`;
}

/** A heat map of a confusion matrix: the diagonal in green, errors in red, each on its own scale, counts in the cells. */
export function confusionMatrix(o: ConfusionOptions): string {
  const n = o.matrix.length;
  const cell = 36;
  const m = { top: 62, left: 62 };
  const W = Math.max(m.left + n * cell + 16, 300, Math.ceil(o.title.length * 8.6) + 24);
  const H = m.top + n * cell + 38;
  const val = (i: number, j: number) => {
    const v = o.matrix[i]?.[j];
    return typeof v === "number" && Number.isFinite(v) ? v : 0;
  };
  let maxDiag = 0;
  let maxOff = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      if (i === j) maxDiag = Math.max(maxDiag, val(i, j));
      else maxOff = Math.max(maxOff, val(i, j));
    }
  const label = (k: number) => esc(o.labels?.[k] ?? String(k));
  const out = [svgOpen(W, H, o.title)];
  out.push(
    `<text x="${c(W / 2)}" y="20" text-anchor="middle" font-size="15" font-weight="600" fill="#222">${esc(o.title)}</text>`,
  );
  out.push(
    `<text x="${c(m.left + (n * cell) / 2)}" y="40" text-anchor="middle" font-size="12" fill="#444">predicted</text>`,
    `<text transform="translate(18 ${c(m.top + (n * cell) / 2)}) rotate(-90)" text-anchor="middle" font-size="12" fill="#444">true</text>`,
  );
  for (let k = 0; k < n; k++) {
    out.push(
      `<text x="${c(m.left + (k + 0.5) * cell)}" y="${m.top - 6}" text-anchor="middle" font-size="11" fill="#444">${label(k)}</text>`,
    );
    out.push(
      `<text x="${m.left - 8}" y="${c(m.top + (k + 0.5) * cell)}" dy="0.35em" text-anchor="end" font-size="11" fill="#444">${label(k)}</text>`,
    );
  }
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const v = val(i, j);
      const t =
        i === j
          ? maxDiag
            ? 0.15 + 0.85 * (v / maxDiag)
            : 0
          : maxOff && v
            ? 0.12 + 0.88 * Math.sqrt(v / maxOff)
            : 0;
      const fill = i === j ? tint([26, 127, 55], t) : v ? tint([207, 34, 46], t) : "#fafafa";
      const [x, y] = [m.left + j * cell, m.top + i * cell];
      out.push(
        `<rect class="cell" x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}" stroke="#fff"/>`,
      );
      const ink = t > 0.55 ? "#fff" : v ? "#222" : "#bbb";
      const fs = String(v).length > 4 ? 9 : 11;
      out.push(
        `<text x="${c(x + cell / 2)}" y="${c(y + cell / 2)}" dy="0.35em" text-anchor="middle" font-size="${fs}" fill="${ink}">${esc(v)}</text>`,
      );
    }
  out.push(
    `<rect x="${m.left}" y="${H - 21}" width="10" height="10" fill="#1a7f37"/><text x="${m.left + 14}" y="${H - 12}" font-size="11" fill="#555">correct (own scale)</text>`,
    `<rect x="${m.left + 140}" y="${H - 21}" width="10" height="10" fill="#cf222e"/><text x="${m.left + 154}" y="${H - 12}" font-size="11" fill="#555">errors (own scale)</text>`,
  );
  return `${out.join("")}</svg>`;
}
