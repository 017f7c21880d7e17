/**
 * A user's image folder in the page: a zip of it (fflate) or the files a folder picker gives, read
 * as `kd train --train DIR` reads DIR (one sub-folder per class, sorted names, numeric order when
 * every name is a number), decoded with kd's decoders (data/decode.ts) into [N, C, H, W] in [0, 1];
 * or an .npz archive of features and labels, read as `kd train --train FILE.npz` reads it.
 */
import { unzipSync } from "fflate";
import { decodeImage, isImageFile, toPlanar } from "../data/decode.js";
import { type NpyArray, parseNpy, X_KEYS, Y_KEYS } from "../data/npy-format.js";
import { ensure, KdError } from "../util/errors.js";
import { checkAllocation, formatBytes } from "../util/memory.js";
import { readPng } from "./png.js";

/** A labelled set as the page holds it (8-bit values scaled by 1/255 as kd's loaders do). */
export interface ImageSet {
  readonly name: string;
  /** What the stored values were multiplied by on loading: 1/255 for 8-bit data, undefined for floats (as Dataset.rawScale). */
  readonly rawScale?: number | undefined;
  readonly x: Float32Array;
  readonly y: Int32Array;
  readonly n: number;
  /** [C, H, W] for images; an .npz array's own example shape. */
  readonly shape: readonly number[];
  readonly classes: readonly string[];
  readonly counts: readonly number[];
}

/** One file of the folder: its path below the picked folder or zip root, and its bytes on demand. */
export interface FolderFile {
  readonly path: string;
  bytes(): Promise<Uint8Array>;
}

const UINT8_SCALE = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/** Whether a path segment is skipped as the Node loader skips hidden files (and macOS zips' resource forks). */
const hidden = (segment: string) => segment.startsWith(".") || segment === "__MACOSX";

/**
 * The class folders of a file tree: leading folders every image shares are the picked folder
 * itself and are dropped; then images must sit at <class>/<file>, as in `kd train --train DIR`.
 */
export function classFolders(
  files: readonly FolderFile[],
  name: string,
): { classes: string[]; files: FolderFile[]; labels: number[] } {
  let images = files
    .map((f) => ({ f, parts: f.path.split("/").filter((p) => p !== "") }))
    .filter(({ parts }) => parts.length > 0 && !parts.some(hidden) && isImageFile(parts.at(-1)!));
  while (
    images.length > 0 &&
    images.every(({ parts }) => parts.length >= 3 && parts[0] === images[0]!.parts[0])
  )
    images = images.map(({ f, parts }) => ({ f, parts: parts.slice(1) }));
  const inClass = images.filter(({ parts }) => parts.length === 2);
  const classes = [...new Set(inClass.map(({ parts }) => parts[0]!))].sort();
  if (classes.every((c) => /^\d+$/.test(c))) classes.sort((a, b) => Number(a) - Number(b));
  ensure(
    classes.length > 0,
    () =>
      `${name}: no class sub-folders with PNG or JPEG images (expected <class>/<image>.png, one folder per class)`,
  );
  const byName = (a: { parts: string[] }, b: { parts: string[] }) =>
    a.parts[1]! < b.parts[1]! ? -1 : a.parts[1]! > b.parts[1]! ? 1 : 0;
  const out: FolderFile[] = [];
  const labels: number[] = [];
  classes.forEach((cls, k) => {
    for (const { f } of inClass.filter(({ parts }) => parts[0] === cls).sort(byName)) {
      out.push(f);
      labels.push(k);
    }
  });
  return { classes, files: out, labels };
}

/** The files of a zip archive (checked against memory before anything is inflated). */
export function zipFiles(bytes: Uint8Array, name: string): FolderFile[] {
  let total = 0;
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes, {
      filter: (f) => {
        total += f.originalSize;
        checkAllocation(total, `${name}: unpacking ${formatBytes(total)}`);
        return !f.name.endsWith("/");
      },
    });
  } catch (e) {
    if (e instanceof KdError) throw e;
    throw new KdError(`${name}: not a readable zip file (${(e as Error).message})`);
  }
  return Object.entries(entries).map(([path, data]) => ({ path, bytes: async () => data }));
}

/** The files a folder picker (`<input webkitdirectory>`) gives, by their path below the picked folder's parent. */
export function pickedFiles(list: ArrayLike<File & { readonly webkitRelativePath?: string }>): FolderFile[] {
  return Array.from(list, (f) => ({
    path: f.webkitRelativePath || f.name,
    bytes: async () => new Uint8Array(await f.arrayBuffer()),
  }));
}

/**
 * Decodes a folder's images into one set; `progress(done, total)` is awaited every few images
 * so the page repaints. Images of different sizes, or that cannot be decoded, are one line each.
 */
export async function loadImageSet(
  files: readonly FolderFile[],
  name: string,
  progress?: (done: number, total: number) => void | Promise<void>,
): Promise<ImageSet> {
  const { classes, files: list, labels } = classFolders(files, name);
  const decoded = [];
  for (let i = 0; i < list.length; i++) {
    decoded.push(decodeImage(await list[i]!.bytes(), `${name}/${list[i]!.path}`, readPng));
    if (i % 64 === 63) await progress?.(i + 1, list.length);
  }
  const { bytes, channels, height, width } = toPlanar(
    decoded,
    list.map((f) => `${name}/${f.path}`),
    { name, hint: "resize them to one size first (the page does not resize)" },
  );
  checkAllocation(4 * bytes.length, `${name}: ${list.length} images as float32`);
  const x = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) x[i] = UINT8_SCALE[bytes[i]!]!;
  const counts = classes.map(() => 0);
  for (const k of labels) counts[k]!++;
  return {
    name,
    rawScale: 1 / 255,
    x,
    y: Int32Array.from(labels),
    n: list.length,
    shape: [channels, height, width],
    classes,
    counts,
  };
}

/** Whether a zip's files are an .npz archive (arrays at its top level) rather than an image folder. */
export function isNpz(files: readonly FolderFile[]): boolean {
  return files.some((f) => !f.path.includes("/") && f.path.endsWith(".npy"));
}

/**
 * An .npz archive's features and labels (named as kd's loader names them: x, X, images... and y,
 * labels...): 8-bit features scaled by 1/255, others taken as they are; labels whole and ≥ 0.
 */
export async function loadNpzSet(files: readonly FolderFile[], name: string): Promise<ImageSet> {
  const arrays = new Map(
    files
      .filter((f) => !f.path.includes("/") && f.path.endsWith(".npy"))
      .map((f) => [f.path.slice(0, -4), f]),
  );
  const pick = (keys: readonly string[]) => keys.find((k) => arrays.has(k));
  const xKey = pick(X_KEYS) ?? (arrays.size === 1 ? [...arrays.keys()][0] : undefined);
  const yKey = pick(Y_KEYS);
  const names = [...arrays.keys()].join(", ");
  ensure(
    xKey !== undefined,
    () => `${name}: no features array (x, X, images, data or features) among ${names}`,
  );
  ensure(yKey !== undefined, () => `${name}: no labels array (y, labels, targets or label) among ${names}`);
  const read = async (k: string): Promise<NpyArray> =>
    parseNpy(await arrays.get(k)!.bytes(), `${name}[${k}]`);
  const xa = await read(xKey);
  const ya = await read(yKey);
  const n = xa.dims[0] ?? 0;
  const shape = xa.dims.slice(1);
  ensure(
    n > 0 && shape.length > 0 && shape.every((d) => d > 0),
    () => `${name}[${xKey}]: shape [${xa.dims.join(", ")}] holds no examples`,
  );
  ensure(
    ya.dims[0] === n && (ya.dims.length === 1 || (ya.dims.length === 2 && ya.dims[1] === 1)),
    () => `${name}[${yKey}]: shape [${ya.dims.join(", ")}], expected [${n}] labels for ${n} examples`,
  );
  checkAllocation(4 * xa.data.length, `${name}: ${n} examples as float32`);
  const eight = xa.dtype === "uint8";
  const x = eight
    ? Float32Array.from(xa.data as Uint8Array, (v) => UINT8_SCALE[v]!)
    : Float32Array.from(xa.data as ArrayLike<number>, Number);
  const bad = x.findIndex((v) => !Number.isFinite(v));
  ensure(bad < 0, () => `${name}[${xKey}]: value ${bad} is not finite`);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = Number(ya.data[i]!);
    ensure(
      Number.isInteger(v) && v >= 0 && v < 100_000,
      () => `${name}[${yKey}]: label ${i} is ${v}, not a class number`,
    );
    y[i] = v;
  }
  const k = Math.max(...y) + 1;
  const counts = new Array<number>(k).fill(0);
  for (const v of y) counts[v]!++;
  return {
    name,
    ...(eight ? { rawScale: 1 / 255 } : {}),
    x,
    y,
    n,
    shape,
    classes: counts.map((_, c) => String(c)),
    counts,
  };
}
