/**
 * Types shared by the demo page, the site writer (src/demo/site.ts) and the browser tests: the
 * site's manifest and the `window.kdDemo` object the page exposes, so tests assert numbers.
 */

/** A model shipped with the site. */
export interface ManifestModel {
  readonly file: string;
  /** Name shown on the page (the file name given to `kd demo`). */
  readonly name: string;
  readonly bytes: number;
  /** Float parameters (initializer elements). */
  readonly params: number;
  readonly input: string;
  /** Shape of one example as the model takes it: [784] or [1, 28, 28]. */
  readonly inputShape: readonly number[];
  readonly output: string;
}

/** A slice of MNIST: `n` images as raw uint8 rows of 784 pixels and their uint8 labels. */
export interface ManifestImages {
  readonly images: string;
  readonly labels: string;
  readonly n: number;
}

/** site/manifest.json, written by `kd demo`. */
export interface SiteManifest {
  readonly version: 1;
  readonly teacher: ManifestModel;
  readonly student: ManifestModel;
  /** The transfer set distillation in the page trains on. */
  readonly train: ManifestImages;
  readonly test: ManifestImages;
  /** Folder (relative to the page) holding onnxruntime-web's wasm files. */
  readonly ort: string;
}

/** One model's answer for one image: logits and softmax(logits / T) at the page's temperature. */
export interface ModelOutput {
  readonly logits: number[];
  readonly probs: number[];
}

export interface Prediction {
  readonly temperature: number;
  /** "test:<index>", "canvas" or "pixels". */
  readonly source: string;
  readonly teacher: ModelOutput;
  readonly student: ModelOutput;
  /** The student distilled in the page, once there is one. */
  readonly distilled?: ModelOutput;
}

export interface ModelInfo {
  readonly name: string;
  readonly bytes: number;
  readonly params: number;
  /** Median milliseconds of one single-image run in this page. */
  readonly latencyMs: number;
}

export interface DistilOptions {
  /** Hidden units of the 784-h-10 student (default 100). */
  readonly hidden?: number;
  readonly epochs?: number;
  readonly temperature?: number;
  /** Weight of the T²-scaled soft term; the rest goes to the labels' cross-entropy. */
  readonly softWeight?: number;
  readonly lr?: number;
  readonly momentum?: number;
  readonly batchSize?: number;
  /** Training steps traced into one graph run (TrainStep's stepsPerRun). */
  readonly stepsPerRun?: number;
  /** Use only the first n shipped training images (default all). */
  readonly trainImages?: number;
  readonly seed?: number;
}

export interface EpochMetrics {
  readonly epoch: number;
  /** Mean total loss over the epoch's steps. */
  readonly loss: number;
  readonly soft: number;
  readonly hard: number;
  /** Accuracy on the shipped test images after the epoch. */
  readonly testAccuracy: number;
  readonly steps: number;
  /** Seconds of training steps (teacher logits and evaluation excluded). */
  readonly stepSeconds: number;
}

export interface DistilResult {
  readonly arch: string;
  readonly params: number;
  readonly history: EpochMetrics[];
  readonly testAccuracy: number;
  readonly steps: number;
  readonly stepsPerSecond: number;
  /** Size of the exported student (what the download link holds). */
  readonly onnxBytes: number;
}

/** What the page shows of a user's image folder. */
export interface OwnDataInfo {
  readonly name: string;
  readonly n: number;
  /** [C, H, W]. */
  readonly shape: readonly number[];
  readonly classes: readonly string[];
  readonly counts: readonly number[];
}

/** One row of the own-distillation result table (teacher or student). */
export interface OwnModelInfo extends ModelInfo {
  /** Accuracy on the held-out validation images. */
  readonly valAccuracy: number;
}

export interface OwnDistilled {
  readonly arch: string;
  readonly teacher: OwnModelInfo;
  readonly student: OwnModelInfo;
  readonly valCount: number;
  readonly trainCount: number;
  readonly epochs: number;
  /** The run was stopped: the student is the last finished epoch's. */
  readonly stopped: boolean;
  readonly stepsPerSecond: number;
}

/** The own-teacher, own-images panel, as tests see it. */
export interface OwnApi {
  /** The panel's one status line (progress, the result, or what was wrong). */
  status(): string;
  teacher(): { name: string; inputShape: readonly number[]; classes: number } | undefined;
  data(): OwnDataInfo | undefined;
  /** Resolves when the last file given to an input has been read (or refused). */
  settled(): Promise<void>;
  /** Clicks "distil" and resolves with the result (rejects with the status line's error). */
  distil(): Promise<OwnDistilled>;
  /** Clicks "stop". */
  stop(): void;
  last(): OwnDistilled | undefined;
  /** The download's bytes, base64. */
  downloadBase64(): string | undefined;
  /** The distilled student's logits on every image of the loaded set, in folder order. */
  studentLogits(): Promise<number[]>;
  /** The backend the panel's teacher and training run on, in words. */
  backend(): string;
  /** Chooses ONNX Runtime's wasm or WebGPU execution provider (rejects when there is no adapter). */
  useBackend(ep: "wasm" | "webgpu"): Promise<string>;
  /** The teacher's logits on every image of the loaded set, on the chosen backend. */
  teacherLogits(): Promise<number[]>;
  /** Caps the memory the panel lets one request use (bytes; Infinity: none), to test refusals. */
  setMemoryLimit(bytes: number): void;
}

/** What the page puts on `window.kdDemo`. */
export interface KdDemoApi {
  /** Resolves once the models are loaded and the first prediction is shown. */
  readonly ready: Promise<void>;
  /** The backend in words, e.g. "onnxruntime-web 1.30.0 (wasm, 2 threads)". */
  backend(): string;
  info(): { teacher: ModelInfo; student: ModelInfo; crossOriginIsolated: boolean };
  /** Shipped test image i: 784 pixels in [0, 1] and its label. */
  testImage(i: number): { pixels: number[]; label: number };
  /** Shows shipped test image i and returns what the page shows. */
  show(i: number): Promise<Prediction>;
  /** Runs both models on 784 pixels in [0, 1], shows and returns the result. */
  predict(pixels: ArrayLike<number>): Promise<Prediction>;
  /** What the page shows now (after drawing, picking an image or moving the slider). */
  current(): Prediction | undefined;
  /** Moves the temperature slider to T and returns the distributions the page then shows. */
  distributions(T: number): Prediction;
  /** Distils a student in the page; resolves with its learning curve. */
  distil(opts?: DistilOptions): Promise<DistilResult>;
  /** The own-teacher, own-images panel (usable before `ready`). */
  readonly own: OwnApi;
}
