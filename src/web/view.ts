/** The page's drawing code: probability bars, the model table and the live learning-curve plot (SVG). */
import type { EpochMetrics, ModelInfo, ModelOutput } from "./api.js";

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

/** Ten bars, one per class, the arg-max highlighted. */
export function renderBars(target: HTMLElement, title: string, out: ModelOutput): void {
  const best = out.probs.indexOf(Math.max(...out.probs));
  target.replaceChildren(el("h3", undefined, `${title}: ${best}`));
  out.probs.forEach((p, c) => {
    const row = el("div", c === best ? "bar best" : "bar");
    const fill = el("span", "fill");
    fill.style.width = `${(p * 100).toFixed(2)}%`;
    row.append(el("span", "digit", String(c)), el("span", "track"), el("span", "value", p.toFixed(3)));
    row.children[1]!.append(fill);
    target.append(row);
  });
}

const kib = (b: number) =>
  b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(2)} MiB` : `${(b / 1024).toFixed(1)} KiB`;

/** Model rows: role, file, size, parameters, latency, and validation accuracy where a row has one. */
export function renderInfo(
  tbody: HTMLElement,
  rows: readonly (ModelInfo & { role: string; valAccuracy?: number })[],
): void {
  tbody.replaceChildren(
    ...rows.map((m) => {
      const tr = el("tr");
      tr.append(
        el("td", undefined, m.role),
        el("td", undefined, m.name),
        el("td", "num", kib(m.bytes)),
        el("td", "num", m.params.toLocaleString("en")),
        el("td", "num", `${m.latencyMs.toFixed(2)} ms`),
      );
      if (m.valAccuracy !== undefined) tr.append(el("td", "num", `${(100 * m.valAccuracy).toFixed(1)}%`));
      return tr;
    }),
  );
}

const W = 460;
const H = 200;
const PAD = 34;

/** Loss per graph run (left axis) and test accuracy per epoch (right axis, 0–100%). */
export function renderPlot(
  svg: SVGSVGElement,
  losses: readonly { step: number; loss: number }[],
  epochs: readonly (EpochMetrics & { atStep: number })[],
  totalSteps: number,
): void {
  const maxLoss = Math.max(1e-6, ...losses.map((l) => l.loss));
  const x = (s: number) => PAD + ((W - 2 * PAD) * s) / Math.max(1, totalSteps);
  const yLoss = (v: number) => H - PAD + ((2 * PAD - H) * v) / maxLoss;
  // Accuracy from `lo` (80%, or lower when needed) to 100%: the interesting part of the axis.
  const lo = Math.min(0.8, Math.floor(10 * Math.min(1, ...epochs.map((e) => e.testAccuracy))) / 10);
  const yAcc = (a: number) => H - PAD + ((2 * PAD - H) * (a - lo)) / (1 - lo);
  const lossPts = losses.map((l) => `${x(l.step).toFixed(1)},${yLoss(l.loss).toFixed(1)}`).join(" ");
  const accPts = epochs.map((e) => `${x(e.atStep).toFixed(1)},${yAcc(e.testAccuracy).toFixed(1)}`).join(" ");
  const dots = epochs
    .map(
      (e) =>
        `<circle cx="${x(e.atStep).toFixed(1)}" cy="${yAcc(e.testAccuracy).toFixed(1)}" r="3" class="acc"/>` +
        `<text x="${x(e.atStep).toFixed(1)}" y="${(yAcc(e.testAccuracy) + 14).toFixed(1)}" class="acc" text-anchor="middle">${(100 * e.testAccuracy).toFixed(1)}</text>`,
    )
    .join("");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.innerHTML =
    `<rect x="${PAD}" y="${PAD}" width="${W - 2 * PAD}" height="${H - 2 * PAD}" class="frame"/>` +
    `<text x="4" y="${PAD - 8}" class="loss">loss (max ${maxLoss.toFixed(2)})</text>` +
    `<text x="${W - 4}" y="${PAD - 8}" class="acc" text-anchor="end">test accuracy % (${100 * lo}–100)</text>` +
    `<text x="${W / 2}" y="${H - 8}" text-anchor="middle">training steps (${totalSteps})</text>` +
    `<polyline points="${lossPts}" class="loss"/>` +
    `<polyline points="${accPts}" class="acc"/>${dots}`;
}
