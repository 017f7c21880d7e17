import { describe, expect, it } from "vitest";
import { DataCatalog } from "../../src/data/sources.js";
import { validateSpec } from "../../src/experiment/load.js";
import { type PlannedRun, planSpec } from "../../src/runner/plan.js";
import { type SpecDoc, tinySpec } from "../helpers/specs.js";

function plan(spec: Record<string, unknown>, set: string[] = []): PlannedRun[] {
  const { spec: s } = validateSpec(spec, "spec", { set });
  return planSpec(s, new DataCatalog(s.data, process.cwd()), process.cwd());
}
const prints = (p: PlannedRun[]) => Object.fromEntries(p.map((r) => [r.id, r.fingerprint]));

describe("the planner", () => {
  const base = prints(plan(tinySpec()));

  it("orders teachers before their students, otherwise as declared", () => {
    const p = plan(tinySpec());
    expect(p.map((r) => r.id)).toEqual(["teacher", "distilled", "student"]);
    expect(p[1]!.deps).toEqual(["teacher"]);
  });

  it("changes a fingerprint exactly when a result-affecting field changes", () => {
    // The student's epochs: only the student.
    const a = prints(plan(tinySpec(), ["runs.student.epochs=4"]));
    expect(Object.keys(a).filter((k) => a[k] !== base[k])).toEqual(["student"]);
    // The teacher's learning rate: the teacher and the student distilled from it.
    const b = prints(plan(tinySpec(), ["runs.teacher.lr=0.01"]));
    expect(
      Object.keys(b)
        .filter((k) => b[k] !== base[k])
        .sort(),
    ).toEqual(["distilled", "teacher"]);
    // The data every run trains on: all of them.
    const c = prints(plan(tinySpec(), ["data.train.take.seed=2"]));
    expect(
      Object.keys(c)
        .filter((k) => c[k] !== base[k])
        .sort(),
    ).toEqual(["distilled", "student", "teacher"]);
    // Where files go, caching, metadata: none.
    const d = prints(
      plan(tinySpec(), ["runs.student.out=x.onnx", "runs.distilled.cache=false", "runs.student.log=l.jsonl"]),
    );
    expect(d).toEqual(base);
    // The same settings written differently (a default made explicit): none.
    const e = prints(plan(tinySpec(), ["runs.student.batchSize=50", "runs.student.momentum=0.9"]));
    expect(e).toEqual(base);
  });

  it("expands grids (any field × any field) and seeds into named runs", () => {
    const s = tinySpec() as SpecDoc;
    s.runs.distilled.grid = { "objective.temperature": [1, 4], "objective.softWeight": [0.5, 0.9] };
    s.runs.distilled.seeds = [1, 2];
    const p = plan(s).filter((r) => r.run === "distilled");
    expect(p).toHaveLength(8);
    expect(p[0]!.id).toBe("distilled[temperature=1,softWeight=0.5]@s1");
    expect(p[0]!.spec.objective).toEqual({ kind: "kd", temperature: 1, softWeight: 0.5 });
    expect(new Set(p.map((r) => r.fingerprint)).size).toBe(8);
  });

  it("enters a list by index (a plus term's weight) and names points holding objects apart", () => {
    const s = tinySpec() as SpecDoc;
    const term = { kind: "hints", weight: 1, studentLayer: "fc1", teacherTensor: "t1" };
    s.runs.distilled.objective.plus = [term];
    s.runs.distilled.grid = { "objective.plus.0.weight": [1, 10] };
    const p = plan(s).filter((r) => r.run === "distilled");
    expect(p.map((r) => r.id)).toEqual(["distilled[weight=1]", "distilled[weight=10]"]);
    expect(p[1]!.spec.objective).toMatchObject({ plus: [{ ...term, weight: 10 }] });
    expect(s.runs.distilled.objective.plus[0].weight).toBe(1);
    // A whole term per point: each named by its JSON, never "[object Object]" twice.
    const w = tinySpec() as SpecDoc;
    w.runs.distilled.grid = { "objective.plus": [[term], [{ ...term, weight: 3 }]] };
    const q = plan(w).filter((r) => r.run === "distilled");
    expect(q.map((r) => r.id)).toEqual([
      `distilled[plus=${JSON.stringify([term])}]`,
      `distilled[plus=${JSON.stringify([{ ...term, weight: 3 }])}]`,
    ]);
  });

  it("refuses two grid points with one name, and an index past a list's end", () => {
    const s = tinySpec() as SpecDoc;
    s.runs.distilled.grid = { "objective.temperature": [4, 4] };
    expect(() => plan(s)).toThrow("runs.distilled: two grid points are both named distilled[temperature=4]");
    const l = tinySpec() as SpecDoc;
    l.runs.distilled.objective.plus = [
      { kind: "hints", weight: 1, studentLayer: "fc1", teacherTensor: "t1" },
    ];
    expect(() => plan(l, ["runs.distilled.objective.plus.1.weight=2"])).toThrow(
      'field path "runs.distilled.objective.plus.1.weight": runs.distilled.objective.plus is a list of 1 item; "1" is not one of its indices (0 to 0)',
    );
    l.runs.distilled.objective.plus = [];
    expect(() => plan(l, ["runs.distilled.objective.plus.0.weight=2"])).toThrow(
      'field path "runs.distilled.objective.plus.0.weight": runs.distilled.objective.plus is an empty list; it has no item "0"',
    );
  });

  it("a teacher with several seeds is an ensemble of all of them", () => {
    const s = tinySpec() as SpecDoc;
    s.runs.teacher.seeds = [1, 2];
    expect(plan(s).find((r) => r.run === "distilled")!.deps).toEqual(["teacher@s1", "teacher@s2"]);
  });

  it("refuses a grid over an unknown field, a cycle of teachers or of datasets", () => {
    const g = tinySpec() as SpecDoc;
    g.runs.student.grid = { "objective.temprature": [1] };
    expect(() => plan(g)).toThrow(/runs\.student at .*objective: unknown field "temprature"/);
    const c = tinySpec() as SpecDoc;
    c.runs.teacher.teachers = ["distilled"];
    c.runs.teacher.objective = { kind: "kd" };
    expect(() => plan(c)).toThrow(/runs teach each other in a cycle: distilled → teacher → distilled/);
    const d = tinySpec() as SpecDoc;
    d.data.all = { from: "train" };
    expect(() => plan(d)).toThrow(/datasets derive from each other in a cycle/);
  });
});
