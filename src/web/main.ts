/**
 * The demo page: teacher and student side by side on a drawn digit or an MNIST test image, the
 * temperature slider, and distillation of a new student in the tab. Exposes `window.kdDemo`.
 */
import { getBackend, setBackend } from "../runtime/backend.js";
import type {
  DistilOptions,
  DistilResult,
  EpochMetrics,
  KdDemoApi,
  ManifestModel,
  ModelInfo,
  ModelOutput,
  Prediction,
  SiteManifest,
} from "./api.js";
import { type WebBackendOptions, webBackend } from "./backend.js";
import { Classifier, type DistilProgress, distil, fromBytes, type Images, PIXELS, softmaxT } from "./core.js";
import { DrawingPad } from "./draw.js";
import { OwnPanel } from "./own-panel.js";
import { renderBars, renderInfo, renderPlot } from "./view.js";

declare global {
  interface Window {
    kdDemo: KdDemoApi;
  }
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

async function bytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function loadImages(m: SiteManifest["train"]): Promise<Images> {
  const [px, labels] = await Promise.all([bytes(m.images), bytes(m.labels)]);
  return fromBytes(px, labels);
}

interface Loaded {
  readonly manifest: SiteManifest;
  readonly teacher: Classifier;
  readonly student: Classifier;
  readonly train: Images;
  readonly test: Images;
  readonly info: { teacher: ModelInfo; student: ModelInfo };
}

let backendSet!: (v: WebBackendOptions) => void;
let backendFailed!: (e: unknown) => void;
// Settled once ONNX Runtime is set up (or the page failed to start): the own-data panel waits for it.
const backendReady = new Promise<WebBackendOptions>((ok, fail) => {
  backendSet = ok;
  backendFailed = fail;
});

async function load(): Promise<Loaded> {
  const manifest = (await (await fetch("manifest.json")).json()) as SiteManifest;
  // Threads need a cross-origin-isolated page; ?threads=N overrides the default (for measurements).
  const asked = Number(new URLSearchParams(location.search).get("threads"));
  const threads = !self.crossOriginIsolated
    ? 1
    : asked >= 1
      ? Math.floor(asked)
      : Math.min(4, navigator.hardwareConcurrency || 1);
  const verbose = new URLSearchParams(location.search).get("ortlog") === "verbose";
  const ortOptions = { wasmPaths: new URL(manifest.ort, location.href).href, threads, verbose };
  setBackend(webBackend(ortOptions));
  backendSet(ortOptions);
  const model = async (m: ManifestModel) =>
    Classifier.load(await bytes(m.file), m.input, m.output, m.inputShape);
  const [teacher, student, train, test] = await Promise.all([
    model(manifest.teacher),
    model(manifest.student),
    loadImages(manifest.train),
    loadImages(manifest.test),
  ]);
  const info = async (m: ManifestModel, c: Classifier): Promise<ModelInfo> => ({
    name: m.name,
    bytes: m.bytes,
    params: m.params,
    latencyMs: await c.latency(test.x),
  });
  return {
    manifest,
    teacher,
    student,
    train,
    test,
    info: { teacher: await info(manifest.teacher, teacher), student: await info(manifest.student, student) },
  };
}

/** Page state and wiring; every user action goes through the same methods the API exposes. */
class Demo {
  private shown?: {
    source: string;
    logits: Record<"teacher" | "student" | "distilled", Float32Array | undefined>;
  };
  private distilled?: Classifier;
  private distilledInfo?: ModelInfo;
  private temperature = 1;
  private readonly pad: DrawingPad;
  private backendName = "";
  /** The last single-image run, so the next one waits for it. */
  private queue: Promise<unknown> = Promise.resolve();
  private distilling = false;
  /** Teacher logits on the transfer set, computed at the first distillation. */
  private teacherLogits?: Float32Array;
  /** The last distilled student, for the download button. */
  private download?: { bytes: Uint8Array; name: string };

  constructor(private readonly app: Loaded) {
    this.pad = new DrawingPad($<HTMLCanvasElement>("pad"), () => void this.predictDrawing());
  }

  setBackendName(name: string): void {
    this.backendName = name;
    $("backend").textContent = `${name}${self.crossOriginIsolated ? ", cross-origin isolated" : ""}`;
  }

  backend(): string {
    return this.backendName;
  }

  infoNow(): { teacher: ModelInfo; student: ModelInfo } {
    return this.app.info;
  }

  wire(): void {
    $("clear").addEventListener("click", () => this.pad.clear());
    const slider = $<HTMLInputElement>("temp");
    slider.addEventListener("input", () => this.distributions(Number(slider.value)));
    $("random").addEventListener("click", () => void this.show(Math.floor(Math.random() * this.app.test.n)));
    this.thumbnails();
    $("distil").addEventListener("click", () => void this.distil(this.formOptions()).catch(this.fail));
    $("download").addEventListener("click", () => this.save());
    this.renderInfo();
  }

  private fail = (e: unknown) => {
    $("progress").textContent = `error: ${(e as Error).message}`;
  };

  private thumbnails(): void {
    const strip = $("thumbs");
    for (let i = 0; i < Math.min(24, this.app.test.n); i++) {
      const c = document.createElement("canvas");
      c.width = 28;
      c.height = 28;
      c.title = `test image ${i}`;
      const img = c.getContext("2d")!.createImageData(28, 28);
      const px = this.testImage(i).pixels;
      for (let k = 0; k < PIXELS; k++) {
        const v = Math.round(px[k]! * 255);
        img.data.set([v, v, v, 255], k * 4);
      }
      c.getContext("2d")!.putImageData(img, 0, 0);
      c.addEventListener("click", () => void this.show(i));
      strip.append(c);
    }
  }

  private formOptions(): DistilOptions {
    const v = (id: string) => Number($<HTMLInputElement>(id).value);
    return {
      hidden: v("hidden"),
      epochs: v("epochs"),
      temperature: v("dtemp"),
      softWeight: v("softw"),
      lr: v("lr"),
    };
  }

  private renderInfo(): void {
    const rows = [
      { role: "teacher", ...this.app.info.teacher },
      { role: "student", ...this.app.info.student },
      ...(this.distilledInfo ? [{ role: "distilled here", ...this.distilledInfo }] : []),
    ];
    renderInfo($("info"), rows);
  }

  /** Saves the distilled student through a temporary object URL. */
  private save(): void {
    if (!this.download) return;
    const a = document.createElement("a");
    a.href = URL.createObjectURL(
      new Blob([this.download.bytes as BlobPart], { type: "application/octet-stream" }),
    );
    a.download = this.download.name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  testImage(i: number): { pixels: number[]; label: number } {
    const { test } = this.app;
    if (!(i >= 0 && i < test.n)) throw new RangeError(`test image ${i} outside [0, ${test.n})`);
    return { pixels: Array.from(test.x.subarray(i * PIXELS, (i + 1) * PIXELS)), label: test.y[i]! };
  }

  async show(i: number): Promise<Prediction> {
    const { pixels, label } = this.testImage(i);
    this.pad.showImage(pixels);
    $("source").textContent = `MNIST test image ${i} (label ${label})`;
    return this.run(Float32Array.from(pixels), `test:${i}`);
  }

  async predict(pixels: ArrayLike<number>): Promise<Prediction> {
    if (pixels.length !== PIXELS) throw new RangeError(`expected ${PIXELS} pixels, got ${pixels.length}`);
    this.pad.showImage(pixels);
    $("source").textContent = "pixels given through window.kdDemo.predict";
    return this.run(Float32Array.from(pixels), "pixels");
  }

  private async predictDrawing(): Promise<void> {
    const px = this.pad.pixels();
    if (!px) return;
    $("source").textContent = "your drawing (centred and scaled to 28×28 like MNIST)";
    await this.run(px, "canvas");
  }

  /** Runs the models on one image. Runs queue up: a session must not run twice at once. */
  private run(x: Float32Array, source: string): Promise<Prediction> {
    const next = this.queue.then(async () => {
      const teacher = await this.app.teacher.logits(x, 1);
      const student = await this.app.student.logits(x, 1);
      const distilled = await this.distilled?.logits(x, 1);
      this.shown = { source, logits: { teacher, student, distilled } };
      return this.distributions(this.temperature);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  current(): Prediction | undefined {
    return this.shown ? this.prediction() : undefined;
  }

  distributions(T: number): Prediction {
    if (!(T > 0)) throw new RangeError(`temperature must be > 0, got ${T}`);
    this.temperature = T;
    $<HTMLInputElement>("temp").value = String(T);
    $("tempValue").textContent = T.toFixed(1);
    if (!this.shown) throw new Error("nothing shown yet");
    const p = this.prediction();
    renderBars($("col-teacher"), "teacher", p.teacher);
    renderBars($("col-student"), "student", p.student);
    if (p.distilled) renderBars($("col-distilled"), "distilled here", p.distilled);
    $("col-distilled").hidden = !p.distilled;
    return p;
  }

  private prediction(): Prediction {
    const { source, logits } = this.shown!;
    const out = (z: Float32Array): ModelOutput => ({
      logits: Array.from(z),
      probs: softmaxT(z, this.temperature),
    });
    return {
      temperature: this.temperature,
      source,
      teacher: out(logits.teacher!),
      student: out(logits.student!),
      ...(logits.distilled ? { distilled: out(logits.distilled) } : {}),
    };
  }

  async distil(opts: DistilOptions = {}): Promise<DistilResult> {
    if (this.distilling) throw new Error("a distillation is already running");
    this.distilling = true;
    const button = $<HTMLButtonElement>("distil");
    button.disabled = true;
    const progress = $("progress");
    try {
      progress.textContent = "teacher logits on the transfer set…";
      const { teacher, train, test } = this.app;
      this.teacherLogits ??= await teacher.logits(train.x, train.n);
      const teacherLogits = this.teacherLogits;
      const losses: { step: number; loss: number }[] = [];
      const epochs: (EpochMetrics & { atStep: number })[] = [];
      let lastPaint = 0;
      const onProgress = async (p: DistilProgress) => {
        if (p.epochMetrics) epochs.push({ ...p.epochMetrics, atStep: p.step });
        else losses.push({ step: p.step, loss: p.loss });
        const now = performance.now();
        if (!p.epochMetrics && now - lastPaint < 100) return;
        lastPaint = now;
        renderPlot($("plot") as unknown as SVGSVGElement, losses, epochs, p.totalSteps);
        const acc = epochs.at(-1);
        progress.textContent =
          `epoch ${p.epoch}, step ${p.step}/${p.totalSteps}, loss ${p.loss.toFixed(3)}` +
          (acc ? `, test accuracy ${(100 * acc.testAccuracy).toFixed(1)}%` : "");
        await new Promise((r) => requestAnimationFrame(r)); // let the page repaint
      };
      const { result, onnx } = await distil(teacherLogits, train, test, opts, onProgress);
      const fresh = await Classifier.load(onnx, "input", "logits");
      const latencyMs = await fresh.latency(test.x); // before anything else may run it
      // Swap in the new student between single-image runs, never during one.
      const swap = this.queue.then(async () => {
        await this.distilled?.release();
        this.distilled = fresh;
      });
      this.queue = swap;
      await swap;
      this.distilledInfo = {
        name: `mlp ${result.arch}`,
        bytes: onnx.length,
        params: result.params,
        latencyMs,
      };
      this.renderInfo();
      this.download = { bytes: onnx, name: `student-${result.arch}.onnx` };
      $("download").hidden = false;
      progress.textContent =
        `done: ${result.steps} steps at ${result.stepsPerSecond.toFixed(0)} steps/s, ` +
        `test accuracy ${(100 * result.testAccuracy).toFixed(1)}% on ${test.n} images`;
      if (this.shown) {
        const x = await this.shownPixels();
        if (x) await this.run(x, this.shown.source);
      }
      return result;
    } finally {
      this.distilling = false;
      button.disabled = false;
    }
  }

  /** Pixels of what is shown now, to add the distilled student's answer. */
  private async shownPixels(): Promise<Float32Array | undefined> {
    const src = this.shown!.source;
    if (src.startsWith("test:")) return Float32Array.from(this.testImage(Number(src.slice(5))).pixels);
    return this.pad.pixels();
  }
}

async function start(): Promise<Demo> {
  const app = await load();
  const demo = new Demo(app);
  demo.setBackendName(getBackend().name);
  demo.wire();
  await demo.show(0);
  return demo;
}

const own = new OwnPanel(backendReady);
own.wire();
const started = start();
started.catch((e: Error) => {
  backendFailed(e);
  $("backend").textContent = `failed to start: ${e.message}`;
});
let ready: Demo | undefined;
window.kdDemo = {
  ready: started.then((d) => {
    ready = d;
  }),
  backend: () => demoNow().backend(),
  info: () => {
    const d = demoNow();
    return { ...d.infoNow(), crossOriginIsolated: self.crossOriginIsolated };
  },
  testImage: (i) => demoNow().testImage(i),
  show: async (i) => (await started).show(i),
  predict: async (px) => (await started).predict(px),
  current: () => demoNow().current(),
  distributions: (T) => demoNow().distributions(T),
  distil: async (opts) => (await started).distil(opts),
  own,
};

function demoNow(): Demo {
  if (!ready) throw new Error("the demo is still loading: await window.kdDemo.ready");
  return ready;
}
