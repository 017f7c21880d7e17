/**
 * A user's image folder in the page: a zip of it (fflate) or the files a folder picker gives, read
 * as `kd train --train DIR` reads DIR (one sub-folder per class, sorted names, numeric order when
 * every name is a number), decoded with kd's decoders (data/decode.ts) into [N, C, H, W] in [0, 1];
 * or an .npz archive of features and labels, read as `kd train --train FILE.npz` reads it.
 */
import { unzipSync } from "fflate";
import { datasetFromArrays } from "../data/arrays.js";
import { decodeImage, isImageFile, toPlanar } from "../data/decode.js";
import { type NpyArray, npyFeatures, npyLabels, parseNpy, X_KEYS, Y_KEYS } from "../data/npy-format.js";
import type { Dataset } from "../data/types.js";
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
  // kd's loaders' own checks and 1/255 scaling (data/arrays.ts), as data/images.ts does.
  const ds = datasetFromArrays(
    { dtype: "uint8", dims: [list.length, channels, height, width], data: bytes },
    labels,
    name,
    { numClasses: classes.length },
  );
  return setFromDataset({ ...ds, classNames: classes });
}

/** Whether a zip's files are an .npz archive (arrays at its top level) rather than an image folder. */
export function isNpz(files: readonly FolderFile[]): boolean {
  return files.some((f) => !f.path.includes("/") && f.path.endsWith(".npy"));
}

/**
 * An .npz archive's features and labels (named as kd's loader names them: x, X, images... and y,
 * labels...), checked and scaled by kd's loaders' own datasetFromArrays.
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
  const [xa, ya] = [await read(xKey), await read(yKey)];
  return setFromDataset(datasetFromArrays(npyFeatures(xa), npyLabels(ya, `${name}[${yKey}]`), name));
}

/** A labelled dataset as the page holds it: class names (the source's, else the class numbers) and counts. */
export function setFromDataset(ds: Dataset): ImageSet {
  const y = ds.y;
  ensure(y !== undefined, () => `${ds.name}: no labels, so no validation accuracy (the page needs labels)`);
  const classes = ds.classNames ?? Array.from({ length: ds.numClasses }, (_, c) => String(c));
  const counts = classes.map(() => 0);
  for (const k of y) counts[k]!++;
  return {
    name: ds.name,
    ...(ds.rawScale !== undefined ? { rawScale: ds.rawScale } : {}),
    x: ds.x,
    y,
    n: ds.n,
    shape: ds.exampleShape,
    classes,
    counts,
  };
}
