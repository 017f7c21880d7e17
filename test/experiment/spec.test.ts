import { cpSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DataCatalog } from "../../src/data/sources.js";
import { loadSpec, overlay, validateSpec } from "../../src/experiment/load.js";
import { planSpec } from "../../src/runner/plan.js";
import { kd } from "../helpers/cli.js";
import { type SpecDoc, tinySpec, writeSpec } from "../helpers/specs.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-spec-"));
const bad = (change: (s: SpecDoc) => void) => {
  const s = structuredClone(tinySpec()) as SpecDoc;
  change(s);
  return () => validateSpec(s, "spec.yaml");
};

describe("spec validation: one line naming the field, before any training", () => {
  it("an unknown objective kind names the field and the known kinds", () => {
    expect(bad((s) => (s.runs.distilled.objective.kind = "kdd"))).toThrow(
      "spec.yaml: runs.distilled.objective.kind: unknown kind (known: ce, kd, match, dkd, lskd, dist, hints, attention)",
    );
  });
  it("an unknown model kind, data source kind, optimizer, schedule and analysis", () => {
    expect(bad((s) => (s.runs.student.model.kind = "vit"))).toThrow(
      /runs\.student\.model\.kind: unknown kind \(known: mlp, cnn, resnet, mobilenet, layers\)/,
    );
    expect(bad((s) => (s.data.all.source.kind = "cifar"))).toThrow(
      /data\.all\.source\.kind: unknown kind \(known: mnist, idx, file\)/,
    );
    expect(bad((s) => (s.runs.student.optimizer = { kind: "lion" }))).toThrow(
      /optimizer\.kind: unknown kind \(known: sgd, nesterov, adam, adamw\)/,
    );
    expect(bad((s) => (s.runs.student.lrSchedule = { kind: "warmup" }))).toThrow(
      /lrSchedule\.kind: unknown kind \(known: constant, exp, step, cosine, linear\)/,
    );
    expect(bad((s) => (s.analyses = { x: { kind: "shap" } }))).toThrow(
      /analyses\.x\.kind: unknown kind \(known: biasShift, gapClosed, best, tradeoff\)/,
    );
  });
  it("a misspelt field, a wrong type, a bad value", () => {
    expect(bad((s) => (s.runs.student.epoch = 3))).toThrow('spec.yaml: runs.student: unknown field "epoch"');
    expect(bad((s) => (s.runs.distilled.objective.temprature = 3))).toThrow(
      /runs\.distilled\.objective: unknown field "temprature"/,
    );
    expect(bad((s) => (s.runs.student.lr = "fast"))).toThrow(
      /runs\.student\.lr: Invalid input: expected number/,
    );
    expect(bad((s) => (s.runs.distilled.objective.softWeight = 1.5))).toThrow(
      /runs\.distilled\.objective\.softWeight: Too big/,
    );
  });
  it("a misspelt default names the unknown key; a missing field is named as required", () => {
    expect(
      bad((s) => {
        s.defaults.epoch = s.defaults.epochs;
        delete s.defaults.epochs;
      }),
    ).toThrow(/^spec\.yaml: defaults: unknown field "epoch"$/);
    expect(
      bad((s) => {
        s.runs.student.epoch = 4;
        delete s.defaults.epochs;
      }),
    ).toThrow(/^spec\.yaml: runs\.student: unknown field "epoch"$/);
    expect(bad((s) => delete s.defaults.lr)).toThrow(
      /^spec\.yaml: runs\.\w+\.lr: required field missing \(expected number\)$/,
    );
  });
  it("names that do not exist, and cycles", () => {
    expect(bad((s) => (s.runs.student.train = "trian"))).toThrow(
      /runs\.student\.train: no dataset named "trian" \(known: all, train, test\)/,
    );
    expect(bad((s) => (s.runs.distilled.teachers = ["teachr"]))).toThrow(
      /runs\.distilled\.teachers\.0: no run named "teachr"/,
    );
    expect(bad((s) => (s.data.all = { from: "train" }))).not.toThrow(); // caught when planned (below)
    expect(bad((s) => (s.runs.student.earlyStop = 2))).toThrow(/earlyStop needs a val dataset/);
  });
  it("a report row that would resolve to nothing fails at load, naming the row and why", () => {
    const rows = (...value: string[]) =>
      bad((s) => {
        s.runs.distilled.grid = { "objective.temperature": [2, 4.5] };
        s.analyses = {
          "gap-T4.5": { kind: "gapClosed", baseline: "student", target: "teacher", candidate: "student" },
        };
        s.report = { rows: value.map((v) => ({ label: "x", value: v })) };
      });
    expect(
      rows(
        "analyses.gap-T4.5.value",
        "runs.teacher.test.errors",
        "runs.distilled[temperature=4.5].test.n",
        "totalSeconds",
      ),
    ).not.toThrow();
    expect(rows("analyses.gap-T4.5.vlaue")).toThrow(
      'spec.yaml: report.rows.0.value: analyses.gap-T4.5.vlaue resolves to nothing: analysis gap-T4.5 gives no "vlaue" (it gives: value, baseline, target, candidate)',
    );
    expect(rows("analyses.gap.value")).toThrow(/it names no analysis \(known: gap-T4\.5\)$/);
    expect(rows("runs.teachr.test.errors")).toThrow(
      /it names no run \(known: distilled, teacher, student\)$/,
    );
    expect(rows("runs.distilled.test.errors")).toThrow(
      /run distilled has a grid: name one point, as in runs\.distilled\[temperature=2\]\.…$/,
    );
    expect(rows("runs.distilled[temperature=3].test.errors")).toThrow(
      /run distilled has no grid point \[temperature=3\] \(one is \[temperature=2\]\)$/,
    );
    expect(rows("runs.teacher[temperature=2].test.n")).toThrow(
      /run teacher has no grid point \[temperature=2\]$/,
    );
    expect(rows("runs.teacher.val.errors")).toThrow(/run teacher has no val dataset$/);
    expect(rows("runs.teacher.test.erors")).toThrow(/a run's results have no field "erors"$/);
  });
  it("a profile that removes an analysis removes the report rows naming it", () => {
    const s = tinySpec({
      analyses: {
        gap: { kind: "gapClosed", baseline: "student", target: "teacher", candidate: "distilled" },
      },
      report: {
        rows: [
          { label: "g", value: "analyses.gap.value" },
          { label: "t", value: "runs.teacher.test.n" },
        ],
      },
      profiles: { small: { analyses: { gap: null } } },
    });
    expect(validateSpec(s, "x").spec.report.rows).toHaveLength(2);
    expect(validateSpec(s, "x", { profile: "small" }).spec.report.rows.map((r) => r.label)).toEqual(["t"]);
  });
  it("a run whose val or test data shares rows with its training data fails, naming the run and both datasets", () => {
    const split = (val: object, test = "test") =>
      bad((s) => {
        s.data.fit = { from: "train", holdout: { count: 200, seed: 1, part: "train" } };
        s.data.val = { from: "train", ...val };
        s.defaults = { ...s.defaults, train: "fit", val: "val", test };
      });
    // The two sides of one split, class filters that keep nothing in common, another source: apart.
    expect(split({ holdout: { count: 200, seed: 1, part: "val" } })).not.toThrow();
    expect(split({ holdout: { count: 200, seed: 1, part: "val" }, take: { count: 50 } })).not.toThrow();
    expect(
      bad((s) => {
        s.data.no3 = { from: "train", omitClasses: [3] };
        s.data.only3 = { from: "all", onlyClasses: [3] };
        s.defaults = { ...s.defaults, train: "no3", val: "only3" };
      }),
    ).not.toThrow();
    expect(split({ holdout: { count: 200, seed: 2, part: "val" } })).toThrow(
      'spec.yaml: runs.distilled: its val dataset "val" shares rows with its train dataset "fit" (split one source with a holdout\'s train and val parts)',
    );
    expect(split({ holdout: { count: 300, seed: 1, part: "val" } })).toThrow(
      /its val dataset "val" shares rows/,
    );
    expect(split({ take: { count: 100 } })).toThrow(/its val dataset "val" shares rows/);
    expect(split({ holdout: { count: 200, seed: 1, part: "val" } }, "fit")).toThrow(
      /runs\.distilled: its test dataset "fit" shares rows with its train dataset "fit"/,
    );
    // One file spelled two ways (a ./ prefix, its options written out, or as idx beside file) is one source.
    const spelled = (a: object, b: object) =>
      bad((s) => {
        s.data.a = { source: a };
        s.data.b = { source: b };
        s.defaults = { ...s.defaults, train: "a", val: undefined, test: "b" };
      });
    expect(
      spelled({ kind: "file", path: "d.csv" }, { kind: "file", path: "./d.csv", format: "csv" }),
    ).toThrow(/its test dataset "b" shares rows with its train dataset "a"/);
    expect(spelled({ kind: "idx", images: "x.idx" }, { kind: "file", path: "sub/../x.idx" })).toThrow(
      /its test dataset "b" shares rows/,
    );
    expect(spelled({ kind: "file", path: "d.csv" }, { kind: "file", path: "e.csv" })).not.toThrow();
    // A bias shift searched on rows its run trained on.
    expect(
      bad((s) => {
        s.analyses = {
          shift: { kind: "biasShift", run: "student", classes: [3], val: "train", test: "test" },
        };
      }),
    ).toThrow(
      'spec.yaml: analyses.shift: its val dataset "train" shares rows with run student\'s train dataset "train" (split one source with a holdout\'s train and val parts)',
    );
    // The README's first short spec: a holdout taken from the training set it trains on.
    expect(
      bad((s) => {
        s.data.val = { from: "train", holdout: { count: 100, seed: 1, part: "val" } };
        s.defaults.val = "val";
      }),
    ).toThrow(/its val dataset "val" shares rows with its train dataset "train"/);
  });
  it("profiles overlay the spec; --set overrides any field; null deletes", () => {
    const s = {
      ...tinySpec(),
      profiles: { fast: { runs: { teacher: { epochs: 1 } }, defaults: { epochs: 2 } } },
    };
    const { spec } = validateSpec(s, "x", {
      profile: "fast",
      set: ["runs.student.model.hidden=[7, 7]", "runs.student.seed=9"],
    });
    expect(spec.runs.teacher!.epochs).toBe(1);
    expect(spec.runs.student!.epochs).toBe(2);
    expect(spec.runs.student!.model).toEqual({ kind: "mlp", hidden: [7, 7] });
    expect(spec.runs.student!.seed).toBe(9);
    expect(() => validateSpec(s, "x", { profile: "slow" })).toThrow('x: no profile "slow" (known: fast)');
    expect(overlay({ a: 1, b: { c: 2, d: 3 } }, { b: { c: null, e: 4 } })).toEqual({
      a: 1,
      b: { d: 3, e: 4 },
    });
  });
  it("kd run: a typo fails before any training, with one line and exit 1", () => {
    const s = tinySpec() as SpecDoc;
    s.runs.teacher.model.kind = "mpl";
    const r = kd(["run", writeSpec(tmp, s, "typo.yaml"), "--out", join(tmp, "out")]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual([
      `kd: ${join(tmp, "typo.yaml")}: runs.teacher.model.kind: unknown kind (known: mlp, cnn, resnet, mobilenet, layers)`,
    ]);
    const y = kd(["run", writeSpec(tmp, { name: "x", data: {}, runs: {}, extra: 1 }, "extra.yaml")]);
    expect(y.stderr.trim()).toMatch(/extra\.yaml: unknown field "extra"$/);
    const n = kd(["run", join(tmp, "missing.yaml")]);
    expect(n.stderr.trim()).toBe(`kd: spec ${join(tmp, "missing.yaml")} does not exist`);
  });
  it("kd run refuses a run measured on its training rows; kd report still renders results saved before", () => {
    const s = tinySpec() as SpecDoc;
    s.data.val = { from: "train", holdout: { count: 100, seed: 1, part: "val" } };
    s.defaults.val = "val";
    const r = kd(["run", writeSpec(tmp, s, "overlap.yaml"), "--out", join(tmp, "overlap")]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual([
      `kd: ${join(tmp, "overlap.yaml")}: runs.distilled: its val dataset "val" shares rows with its train dataset "train" (split one source with a holdout's train and val parts)`,
    ]);
    // Its teacher validated on training images (the spec is fixed since): the report is re-rendered all the same.
    const done = join(tmp, "objectives-quick");
    cpSync("docs/results/objectives-quick", done, { recursive: true });
    const rep = kd(["report", done]);
    expect(rep.stderr).toBe("");
    expect(rep.code).toBe(0);
    expect(rep.stdout).toContain("30-30, dist: share of the gap closed");
  });
  it("the shipped specs are valid in every profile", () => {
    for (const profile of ["smoke", "quick", "full"])
      expect(() => loadSpec("experiments/hinton2015-mnist.yaml", { profile })).not.toThrow();
    // Every spec in experiments/, in each of its profiles (the checks at load: rows, overlaps).
    // The MNIST spec's `consistent` profile plans the full profile's teacher and consistent runs
    // alone, fingerprints included, so each profile reuses the other's finished runs.
    const planned = (profile: string) => {
      const { spec } = loadSpec("experiments/hinton2015-mnist.yaml", { profile });
      return planSpec(spec, new DataCatalog(spec.data, process.cwd()), process.cwd());
    };
    const full = new Map(planned("full").map((p) => [p.id, p.fingerprint]));
    const alone = planned("consistent");
    expect(alone.map((p) => p.id)).toEqual(["teacher", "consistent@s1", "consistent@s2", "consistent@s3"]);
    for (const p of alone) expect(p.fingerprint, p.id).toBe(full.get(p.id));
    const specs = readdirSync("experiments").filter((f) => f.endsWith(".yaml") && !f.endsWith(".paper.yaml"));
    expect(specs.length).toBeGreaterThanOrEqual(4);
    for (const f of specs) {
      const path = join("experiments", f);
      const profiles = Object.keys((parse(readFileSync(path, "utf8")) as SpecDoc).profiles ?? {});
      for (const profile of [undefined, ...profiles])
        expect(() => loadSpec(path, { profile }), `${f} ${profile}`).not.toThrow();
    }
  });
});
