/**
 * The planner: expands a spec's runs over their grids and seeds, orders them so teachers come
 * before their students, and fingerprints each by its identity (identity.ts: its resolved settings,
 * its data's content and its teachers) — so a change that can change a result reruns that run and nothing else.
 */
import { resolve } from "node:path";
import { fmt, groupKey } from "../analyses/results.js";
import type { DataCatalog } from "../data/sources.js";
import { describeIssue, setPath } from "../experiment/load.js";
import { type RunSpec, runSchema, type Spec } from "../experiment/schema.js";
import { checkKey } from "../experiment/untrusted.js";
import { MAX_MODEL_BYTES } from "../runtime/model-file.js";
import { ensure, KdError } from "../util/errors.js";
import { readInputFile } from "../util/files.js";
import { sha256Hex as sha } from "../util/hash.js";
import { fingerprintOf, type RunIdentity, runIdentity } from "./identity.js";

export type TeacherRef =
  | { readonly kind: "run"; readonly ids: readonly string[] }
  | {
      readonly kind: "file";
      readonly path: string;
      readonly input?: string;
      readonly output?: string;
      readonly probs?: boolean;
    };

export interface PlannedRun {
  /** Unique in the spec: the run name, its grid point and seed. */
  readonly id: string;
  readonly run: string;
  readonly point: Readonly<Record<string, unknown>>;
  readonly seed: number;
  /** The run's settings with the grid point and seed applied. */
  readonly spec: RunSpec;
  readonly teachers: readonly TeacherRef[];
  /** Ids of planned runs that must finish first. */
  readonly deps: readonly string[];
  /** Everything that shapes the result (see identity.ts); `fingerprint` is its hash. */
  readonly identity: RunIdentity;
  readonly fingerprint: string;
}

/** Every combination of the grid's values, in the order the fields are given. */
function combinations(grid: Readonly<Record<string, readonly unknown[]>>): Record<string, unknown>[] {
  let out: Record<string, unknown>[] = [{}];
  for (const [path, values] of Object.entries(grid))
    out = out.flatMap((p) => values.map((v) => ({ ...p, [path]: v })));
  return out;
}

/**
 * The most runs one spec may plan (grid points × seeds, over all runs): far more than anyone
 * trains, and small enough that planning them takes seconds, not the machine's memory.
 */
export const MAX_PLANNED_RUNS = 10_000;

/** Refuses a spec whose grids and seeds expand past MAX_PLANNED_RUNS, before expanding any. */
function checkPlanSize(spec: Spec): void {
  const n = (x: number, unit: string) => `${x.toLocaleString("en-US")} ${unit}${x === 1 ? "" : "s"}`;
  let total = 0;
  for (const [name, r] of Object.entries(spec.runs)) {
    const points = Object.values(r.grid ?? {}).reduce((a, v) => a * v.length, 1);
    const seeds = r.seeds?.length ?? 1;
    total += points * seeds;
    ensure(
      total <= MAX_PLANNED_RUNS,
      () =>
        `runs.${name}: ${n(points, "grid point")} × ${n(seeds, "seed")} bring the plan to ${n(total, "run")}, more than the ${MAX_PLANNED_RUNS.toLocaleString("en-US")} a spec may plan`,
    );
  }
}

/**
 * Run names in dependency order (teachers first), otherwise as declared; a cycle is an error.
 * Iterative, so a long chain of teachers cannot overflow the stack.
 */
function order(spec: Spec): string[] {
  const done = new Set<string>();
  const teachersOf = (n: string) =>
    (spec.runs[n]!.teachers ?? []).filter((t): t is string => typeof t === "string");
  for (const root of Object.keys(spec.runs)) {
    if (done.has(root)) continue;
    // The path from root to the run being visited, each with the teachers still to visit.
    const path: { name: string; next: string[] }[] = [{ name: root, next: teachersOf(root) }];
    const onPath = new Set([root]);
    while (path.length > 0) {
      const top = path.at(-1)!;
      const t = top.next.shift();
      if (t === undefined) {
        path.pop();
        onPath.delete(top.name);
        done.add(top.name);
      } else if (!done.has(t)) {
        ensure(
          !onPath.has(t),
          () => `runs teach each other in a cycle: ${[...path.map((p) => p.name), t].join(" → ")}`,
        );
        path.push({ name: t, next: teachersOf(t) });
        onPath.add(t);
      }
    }
  }
  return [...done];
}

/** A teacher file's hash: a regular file only (not /dev/zero or a FIFO), no larger than a model can be. */
function fileHash(path: string): string {
  return sha(readInputFile(path, "teacher model", MAX_MODEL_BYTES));
}

export function planSpec(spec: Spec, catalog: DataCatalog, baseDir: string): PlannedRun[] {
  checkPlanSize(spec);
  const byRun = new Map<string, PlannedRun[]>();
  const byId = new Map<string, PlannedRun>();
  const all: PlannedRun[] = [];
  for (const name of order(spec)) {
    const raw = spec.runs[name]!;
    // Grid fields are paths set on a copy of the run: `__proto__.x` would reach every object.
    for (const path of Object.keys(raw.grid ?? {}))
      for (const k of path.split(".")) checkKey(k, `runs.${name}.grid: ${path}`);
    const points = combinations(raw.grid ?? {});
    const seeds = raw.seeds ?? [raw.seed];
    const mine: PlannedRun[] = [];
    for (const point of points) {
      const base: Record<string, unknown> = structuredClone(raw);
      delete base.grid;
      delete base.seeds;
      for (const [path, v] of Object.entries(point)) setPath(base, path, v);
      for (const seed of seeds) {
        base.seed = seed;
        const where = `runs.${name}${Object.keys(point).length ? ` at ${groupKey({ run: "", point })}` : ""}`;
        const parsed = runSchema.safeParse(base);
        if (!parsed.success) throw new KdError(describeIssue(parsed.error.issues, where));
        const rs = parsed.data;
        for (const path of Object.keys(point))
          ensure(
            path.split(".")[0]! in runSchema.shape,
            `${where}: grid field ${path} is not a run field (known: ${Object.keys(runSchema.shape).join(", ")})`,
          );
        const group = groupKey({ run: name, point });
        const id = raw.seeds ? `${group}@s${seed}` : group;
        // Results, reports and analyses find a run by this name: two points must never share one.
        ensure(!byId.has(id), `runs.${name}: two grid points are both named ${group}`);
        const teachers: TeacherRef[] = (rs.teachers ?? []).map((t) =>
          typeof t === "string"
            ? { kind: "run", ids: byRun.get(t)!.map((r) => r.id) }
            : { kind: "file", ...t, path: resolve(baseDir, t.path) },
        );
        const deps = teachers.flatMap((t) => (t.kind === "run" ? t.ids : []));
        const identity = runIdentity(
          rs,
          catalog,
          teachers.map((t) =>
            t.kind === "run"
              ? t.ids.map((i) => byId.get(i)!.fingerprint)
              : {
                  file: fileHash(t.path),
                  input: t.input ?? null,
                  output: t.output ?? null,
                  probs: t.probs ?? false,
                },
          ),
        );
        const planned: PlannedRun = {
          id,
          run: name,
          point,
          seed,
          spec: rs,
          teachers,
          deps,
          identity,
          fingerprint: fingerprintOf(identity),
        };
        mine.push(planned);
        all.push(planned);
        byId.set(id, planned);
      }
    }
    byRun.set(name, mine);
  }
  return all;
}

/** A file name for a run id: letters, digits and a few separators only. */
export function fileName(id: string): string {
  return id.replace(/\[|\]/g, "_").replace(/[^A-Za-z0-9._=,@-]/g, "_");
}

/** Short text of a grid point, e.g. "T=4, hidden=30x30". */
export function pointText(point: Readonly<Record<string, unknown>>): string {
  return Object.entries(point)
    .map(([k, v]) => `${k.split(".").pop()}=${fmt(v)}`)
    .join(", ");
}
