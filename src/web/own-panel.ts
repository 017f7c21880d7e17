/**
 * The page's "your teacher, your images" panel: file inputs (and drops) for a teacher ONNX file and
 * the data (an image folder as a zip or through the folder picker, an .npz, an .npy pair or a CSV
 * file), the student and objective fields, progress, stop, the result beside the teacher's and the
 * download. Every problem is one line in the status; the panel keeps working after it. The work
 * itself is own.ts, folder.ts and tables.ts.
 */

import type { CsvParse } from "../data/csv-format.js";
import { getBackend, type InferenceBackend, setBackend } from "../runtime/backend.js";
import { ensure } from "../util/errors.js";
import { setTotalMemory } from "../util/memory.js";
import type { OwnApi, OwnDataInfo, OwnDistilled, OwnModelInfo } from "./api.js";
import type { WebBackendOptions } from "./backend.js";
import { Classifier } from "./core.js";
import {
  type FolderFile,
  type ImageSet,
  isNpz,
  loadImageSet,
  loadNpzSet,
  pickedFiles,
  zipFiles,
} from "./folder.js";
import {
  distilOwn,
  forTeacher,
  loadTeacher,
  type OwnOptions,
  PAGE_OBJECTIVES,
  type Teacher,
  teacherLogits,
} from "./own.js";
import { loadCsvSet, loadNpyPair } from "./tables.js";
import { renderInfo } from "./view.js";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** One line for anything thrown: kd's own messages as they are, the browser's out-of-memory in words. */
export function oneLine(e: unknown): string {
  const msg = String((e as Error)?.message ?? e).split("\n")[0]!;
  if (e instanceof RangeError && /allocat|memory|length/i.test(msg))
    return `not enough memory for this data in this tab (${msg})`;
  return msg;
}

type Ep = "wasm" | "webgpu";

/** What the panel reads of a WebGPU adapter (no WebGPU types in this build). */
interface GpuAdapter {
  readonly isFallbackAdapter?: boolean;
  readonly info?: { readonly isFallbackAdapter?: boolean };
}

/** The browser's WebGPU adapter, if it offers one. */
async function gpuAdapter(): Promise<GpuAdapter | null> {
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<GpuAdapter | null> } }).gpu;
  return gpu ? gpu.requestAdapter().catch(() => null) : null;
}

const repaint = () => new Promise((r) => requestAnimationFrame(() => r(undefined)));

export class OwnPanel implements OwnApi {
  private teacherNow?: Teacher;
  private set?: ImageSet;
  private pending: Promise<void>;
  private running = false;
  private stopAsked = false;
  private result?: OwnDistilled;
  private student?: Classifier;
  private bytes?: Uint8Array;
  private lastPaint = 0;

  private ortOptions?: WebBackendOptions;
  private wasm?: InferenceBackend;
  private webgpu?: InferenceBackend;
  private csvParse?: CsvParse;

  /** `backend` resolves once ONNX Runtime's wasm backend is set (with its options): the panel's work waits for it. */
  constructor(backend: Promise<WebBackendOptions>) {
    this.pending = backend.then(
      (o) => {
        this.ortOptions = o;
        this.wasm = getBackend();
        return this.offerWebGpu();
      },
      () => undefined,
    );
    // The browser's own memory, where it says (Chrome: GB of device memory, at most 8).
    const gb = (navigator as { deviceMemory?: number }).deviceMemory;
    if (gb) setTotalMemory(gb * 1e9);
  }

  wire(): void {
    const objective = $<HTMLSelectElement>("own-objective");
    for (const k of PAGE_OBJECTIVES) objective.append(new Option(k, k, k === "kd", k === "kd"));
    const onFile = (id: string, use: (files: File[]) => Promise<void>) =>
      $<HTMLInputElement>(id).addEventListener("change", (ev) => {
        const input = ev.target as HTMLInputElement;
        const files = input.files ? Array.from(input.files) : [];
        // Cleared, so that giving the same file again (after fixing it) is a change too.
        input.value = "";
        if (files.length) this.track(use(files));
      });
    onFile("own-teacher", (f) => this.takeTeacher(f[0]!));
    onFile("own-zip", (f) => this.takeData(f));
    onFile("own-folder", (f) =>
      this.takeFolder(pickedFiles(f), f[0]!.webkitRelativePath.split("/")[0] || "folder"),
    );
    const drop = $("own");
    drop.addEventListener("dragover", (ev) => ev.preventDefault());
    drop.addEventListener("drop", (ev) => {
      ev.preventDefault();
      const files = Array.from(ev.dataTransfer?.files ?? []);
      for (const f of files.filter((f) => /\.onnx$/i.test(f.name))) this.track(this.takeTeacher(f));
      const data = files.filter((f) => !/\.onnx$/i.test(f.name));
      if (data.length) this.track(this.takeData(data));
    });
    $("own-distil").addEventListener("click", () => void this.distil().catch(() => undefined));
    const ep = $<HTMLSelectElement>("own-ep");
    ep.addEventListener("change", () => this.track(this.useBackend(ep.value as Ep).then(() => undefined)));
    $("own-stop").addEventListener("click", () => this.stop());
    $("own-download").addEventListener("click", () => this.save());
  }

  status(): string {
    return $("own-status").textContent ?? "";
  }

  teacher() {
    const t = this.teacherNow;
    return t && { name: t.name, inputShape: t.signature.exampleShape, classes: t.signature.classes };
  }

  data(): OwnDataInfo | undefined {
    const s = this.set;
    return s && { name: s.name, n: s.n, shape: s.shape, classes: s.classes, counts: s.counts };
  }

  settled(): Promise<void> {
    return this.pending;
  }

  last(): OwnDistilled | undefined {
    return this.result;
  }

  downloadBase64(): string | undefined {
    if (!this.bytes) return undefined;
    let s = "";
    for (let i = 0; i < this.bytes.length; i += 0x8000)
      s += String.fromCharCode(...this.bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }

  async studentLogits(): Promise<number[]> {
    if (!this.student || !this.set) throw new Error("no student distilled yet");
    return Array.from(await this.student.logits(this.set.x, this.set.n, 256));
  }

  backend(): string {
    return getBackend().name;
  }

  /**
   * WebGPU is offered when `navigator.gpu` gives an adapter, and chosen at once when that adapter
   * is a real GPU (a fallback adapter such as SwiftShader is slower than wasm: offered, not chosen).
   */
  private async offerWebGpu(): Promise<void> {
    const adapter = await gpuAdapter();
    const option = $<HTMLSelectElement>("own-ep").options[1]!;
    option.disabled = !adapter;
    option.title = adapter ? "" : "this browser offers no WebGPU adapter (navigator.gpu)";
    const fallback =
      adapter &&
      ((adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter || adapter.info?.isFallbackAdapter);
    if (adapter && !fallback) await this.useBackend("webgpu");
    else this.showBackend();
  }

  private showBackend(): void {
    $("own-ep-info").textContent = getBackend().name;
    $<HTMLSelectElement>("own-ep").value = getBackend() === this.webgpu ? "webgpu" : "wasm";
  }

  async useBackend(ep: Ep): Promise<string> {
    if (!this.wasm || !this.ortOptions) throw new Error("ONNX Runtime is still loading");
    if (this.running) throw new Error("a distillation is running: stop it first");
    if (ep === "webgpu") {
      if (!(await gpuAdapter()))
        throw new Error("this browser offers no WebGPU adapter (navigator.gpu): staying on wasm");
      // The WebGPU build (its bundle and a 27 MB wasm) loads now, the first time it is chosen.
      const url = new URL("kd-webgpu.js", location.href).href;
      this.webgpu ??= ((await import(/* @vite-ignore */ url)) as typeof import("./webgpu.js")).webgpuBackend(
        this.ortOptions,
      );
      setBackend(this.webgpu);
    } else setBackend(this.wasm);
    // The teacher runs where the student trains.
    const t = this.teacherNow;
    if (t) {
      const classifier = await Classifier.load(
        t.onnx,
        t.signature.input,
        t.signature.output,
        t.signature.exampleShape,
        t.signature.classes,
      );
      await t.classifier.release();
      this.teacherNow = { ...t, classifier };
    }
    this.showBackend();
    return getBackend().name;
  }

  async teacherLogits(): Promise<number[]> {
    if (!this.teacherNow || !this.set) throw new Error("give a teacher and images first");
    return Array.from(await teacherLogits(this.teacherNow, this.set));
  }

  setMemoryLimit(bytes: number): void {
    setTotalMemory(bytes);
  }

  stop(): void {
    if (this.running) {
      this.stopAsked = true;
      this.say("stopping after this graph run…");
    }
  }

  private say(line: string, error = false): void {
    const el = $("own-status");
    el.textContent = line;
    el.classList.toggle("error", error);
  }

  private fail = (e: unknown) => this.say(oneLine(e), true);

  /** Queues a file's reading, so `settled` waits for it and an error is the status line. */
  private track(p: Promise<void>): void {
    this.pending = this.pending.then(() => p.catch(this.fail));
  }

  private async takeTeacher(file: File): Promise<void> {
    this.say(`reading ${file.name}…`);
    const t = await loadTeacher(new Uint8Array(await file.arrayBuffer()), file.name);
    await this.teacherNow?.classifier.release();
    this.teacherNow = t;
    const { exampleShape, classes } = t.signature;
    $("own-teacher-info").textContent =
      `${t.name}: input [${exampleShape.join(", ")}], ${classes} classes, ${t.params.toLocaleString("en")} parameters`;
    this.say(`teacher ${t.name} loaded`);
    this.checkPair();
  }

  /** The data input's files: an .npy pair, a CSV file, or a zip (an image folder or an .npz). */
  private async takeData(files: File[]): Promise<void> {
    this.say(`reading ${files.map((f) => f.name).join(", ")}…`);
    const given = async (f: File) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) });
    if (files.some((f) => /\.npy$/i.test(f.name)))
      return this.takeSet(Promise.all(files.map(given)).then((g) => loadNpyPair(g)));
    ensure(
      files.length === 1,
      () =>
        `${files.map((f) => f.name).join(", ")}: give one data file (or two .npy files: features and labels)`,
    );
    const file = files[0]!;
    if (/\.(csv|tsv)$/i.test(file.name)) {
      // csv-parse is a bundle of its own (kd-csv.js), loaded the first time a CSV file is given.
      const url = new URL("kd-csv.js", location.href).href;
      this.csvParse ??= ((await import(/* @vite-ignore */ url)) as typeof import("./csv-parse.js")).parse;
      const parse = this.csvParse;
      return this.takeSet(given(file).then((g) => loadCsvSet(parse, g)));
    }
    return this.takeZip(file);
  }

  private async takeZip(file: File): Promise<void> {
    this.say(`reading ${file.name}…`);
    const files = zipFiles(new Uint8Array(await file.arrayBuffer()), file.name);
    const name = file.name.replace(/\.(zip|npz)$/i, "");
    if (isNpz(files)) await this.takeSet(loadNpzSet(files, name));
    else await this.takeFolder(files, name);
  }

  private takeFolder(files: FolderFile[], name: string): Promise<void> {
    return this.takeSet(
      loadImageSet(files, name, async (done, total) => {
        this.say(`decoding ${name}: ${done}/${total} images`);
        await repaint();
      }),
    );
  }

  private async takeSet(loading: Promise<ImageSet>): Promise<void> {
    this.set = undefined;
    $("own-data-info").textContent = "";
    const set = await loading;
    this.set = set;
    // 8-bit data are images; floats (a CSV file's rows, a float .npy) are examples.
    const what = set.rawScale ? "images" : "examples";
    $("own-data-info").textContent =
      `${set.name}: ${set.n} ${what} of ${set.shape.join("×")}, ${set.classes.length} classes: ` +
      set.classes.map((c, k) => `${c} (${set.counts[k]})`).join(", ");
    this.say(`${set.n} ${what} in ${set.classes.length} classes`);
    this.checkPair();
  }

  /** With both a teacher and images, says at once when they do not fit. */
  private checkPair(): void {
    if (this.teacherNow && this.set) forTeacher(this.teacherNow, this.set);
  }

  private options(): OwnOptions {
    const v = (id: string) => Number($<HTMLInputElement>(id).value);
    return {
      arch: $<HTMLInputElement>("own-arch").value.trim(),
      objective: $<HTMLSelectElement>("own-objective").value as OwnOptions["objective"],
      temperature: v("own-T"),
      weight: v("own-weight"),
      epochs: v("own-epochs"),
      lr: v("own-lr"),
      valShare: v("own-val"),
    };
  }

  async distil(): Promise<OwnDistilled> {
    try {
      await this.pending;
      if (this.running) throw new Error("a distillation is already running");
      const teacher = this.teacherNow;
      const set = this.set;
      if (!teacher) throw new Error("give a teacher ONNX file first");
      if (!set) throw new Error("give an image folder (zip or folder) first");
      this.running = true;
      this.stopAsked = false;
      this.setButtons();
      return await this.run(teacher, set);
    } catch (e) {
      this.fail(e);
      throw e;
    } finally {
      this.running = false;
      this.setButtons();
    }
  }

  private setButtons(): void {
    $<HTMLButtonElement>("own-distil").disabled = this.running;
    $<HTMLButtonElement>("own-stop").disabled = !this.running;
  }

  private async run(teacher: Teacher, set: ImageSet): Promise<OwnDistilled> {
    const o = this.options();
    const r = await distilOwn(teacher, set, o, {
      teacher: async (done, total) => {
        if (this.stopAsked) throw new Error("stopped during the teacher's pass: nothing was distilled");
        this.say(`teacher: ${done}/${total} images`);
        await repaint();
      },
      progress: async ({ progress: p, epoch }) => {
        const now = performance.now();
        if (p && now - this.lastPaint < 100) return;
        this.lastPaint = now;
        if (p) this.say(`epoch ${p.epoch}/${p.epochs}, step ${p.step}, loss ${p.loss.toFixed(3)}`);
        if (epoch)
          this.say(
            `epoch ${epoch.epoch}/${o.epochs}: validation accuracy ${(100 * (epoch.evalAccuracy ?? 0)).toFixed(1)}%`,
          );
        await repaint();
      },
      stop: () => this.stopAsked,
    });
    const student = await Classifier.load(r.onnx, "input", "logits", r.inputShape, teacher.signature.classes);
    const x = set.x.subarray(
      0,
      set.shape.reduce((a, b) => a * b, 1),
    );
    await this.student?.release();
    this.student = student;
    this.bytes = r.onnx;
    const row = (m: Omit<OwnModelInfo, "latencyMs">, c: Classifier) =>
      c.latency(x).then((latencyMs) => ({ ...m, latencyMs }));
    const result: OwnDistilled = {
      arch: r.arch,
      teacher: await row(
        { name: teacher.name, bytes: teacher.bytes, params: teacher.params, valAccuracy: r.teacherAccuracy },
        teacher.classifier,
      ),
      student: await row(
        { name: `student ${r.arch}`, bytes: r.onnx.length, params: r.params, valAccuracy: r.studentAccuracy },
        student,
      ),
      valCount: r.valCount,
      trainCount: r.trainCount,
      epochs: r.epochs,
      stopped: r.stopped,
      stepsPerSecond: r.stepsPerSecond,
    };
    this.result = result;
    renderInfo($("own-result"), [
      { role: "teacher", ...result.teacher },
      { role: "student", ...result.student },
    ]);
    $("own-download").hidden = false;
    const pct = (a: number) => `${(100 * a).toFixed(1)}%`;
    this.say(
      `${r.stopped ? `stopped: the student of epoch ${r.epochs}` : "done"}: student ${pct(r.studentAccuracy)}, ` +
        `teacher ${pct(r.teacherAccuracy)} on ${r.valCount} validation images; ` +
        `${r.stepsPerSecond.toFixed(0)} steps/s`,
    );
    return result;
  }

  private save(): void {
    if (!this.bytes || !this.result) return;
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([this.bytes as BlobPart], { type: "application/octet-stream" }));
    a.download = `student-${this.result.arch.replace(/[^\w.-]+/g, "_")}.onnx`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }
}
