/** Teacher features: names on either side and shapes refused before training, the memory cap, live and cached rows alike. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DataCatalog } from "../../src/data/sources.js";
import {
  cachedFeatureTeacher,
  checkFeatureCap,
  FeatureTeacher,
  liveFeatureTeacher,
} from "../../src/distill/features.js";
import { cachedTeacher, Teachers } from "../../src/distill/teacher.js";
import { loadSpec } from "../../src/experiment/load.js";
import type { RunSpec } from "../../src/experiment/schema.js";
import { initParam } from "../../src/nn/layers.js";
import { cnn } from "../../src/nn/model.js";
import { buildModel } from "../../src/nn/registry.js";
import type { ObjectiveSpec } from "../../src/objectives/index.js";
import { executeSpec } from "../../src/runner/execute.js";
import { checkpointIdentity, fingerprintOf, runIdentity } from "../../src/runner/identity.js";
import { listTensors } from "../../src/runtime/tensors.js";
import { saveModel } from "../../src/train/forward.js";
import { KdError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";
import { mnistTrain } from "../helpers/mnist.js";
import { tinySpec, writeSpec } from "../helpers/specs.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-features-"));
const path = join(tmp, "teacher.onnx");
const student = buildModel({ kind: "resnet", depth: 8, width: 16 }, [1, 28, 28], 10);
const kd = { kind: "kd" as const, temperature: 4, softWeight: 0.5 };
const withTerm = (
  kind: "hints" | "attention",
  teacherTensor: string,
  studentLayer: string,
): ObjectiveSpec => ({
  ...kd,
  plus: [
    kind === "hints"
      ? { kind, teacherTensor, studentLayer, weight: 1 }
      : { kind, teacherTensor, studentLayer, beta: 1000, weight: 1 },
  ],
});
let teachers: Teachers;

beforeAll(async () => {
  // An untrained cnn:8,16 (its tensors t9 [8, 28, 28] after the first ReLU, t14 [16, 14, 14] after the second).
  const m = cnn([1, 28, 28], [8, 16], 10);
  saveModel(path, m, new Map(m.params.map((p) => [p.name, initParam(p, new Rng(1))])));
  teachers = await Teachers.load({ paths: [path] });
});
afterAll(async () => {
  await teachers.release();
});

describe("feature objectives' names and shapes", () => {
  it("a teacher tensor that is not there is one line with the closest names", async () => {
    await expect(
      FeatureTeacher.load(teachers, student, withTerm("hints", "t99", "stage2.block1")),
    ).rejects.toThrow(
      new RegExp(`^no tensor "t99" in ${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(closest: t9, `),
    );
  });

  it("... and the closest of the tensors whose shape the student layer can match", async () => {
    // The student's stage2 is [32, 14, 14]; the teacher's 14×14 tensors are its first pooling's
    // output and the second convolution's (t12 its product, t13 with the bias, t14 after the ReLU).
    const err = await FeatureTeacher.load(teachers, student, withTerm("hints", "t99", "stage2.block1")).catch(
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(KdError);
    expect((err as KdError).message).toBe(
      `no tensor "t99" in ${path} (closest: t9, t7, t8); of the 4 tensors matching student layer "stage2.block1" [32, 14, 14]: t12, t13, t14, … (kd summary --tensors lists them)`,
    );
    const fits = (await listTensors(path)).tensors.filter((t) => t.shape?.slice(2).join() === "14,14");
    expect(fits).toHaveLength(4);
  });

  it("a student layer that is not there is one line with the closest names", async () => {
    await expect(
      FeatureTeacher.load(teachers, student, withTerm("hints", "t14", "stage2.blok1")),
    ).rejects.toThrow(
      /^no layer "stage2\.blok1" in the student resnet:8 \(closest: stage2\.block1, stage1\.block1, stage3\.block1\)$/,
    );
  });

  it("a tensor without a batch dim, or not float32, is one line", async () => {
    // A resnet teacher: its global pooling computes H·W from the tensor's shape (int64, then float32 [2]).
    const r8 = join(tmp, "resnet.onnx");
    const w = [...student.params, ...(student.buffers ?? [])].map((p) =>
      "fan" in p ? [p.name, initParam(p, new Rng(2))] : [p.name, new Float32Array(p.shape[0]!).fill(p.init)],
    );
    saveModel(r8, student, new Map(w as [string, Float32Array][]));
    const list = (await listTensors(r8)).tensors;
    const notFloat = list.find((t) => t.type !== "float32")!.name;
    const noBatch = list.find((t) => t.type === "float32" && t.shape?.[0] !== "N")!.name;
    const resnet = await Teachers.load({ paths: [r8] });
    try {
      await expect(FeatureTeacher.load(resnet, student, withTerm("hints", notFloat, "pool"))).rejects.toThrow(
        /is not float32; feature objectives read float32 tensors$/,
      );
      await expect(FeatureTeacher.load(resnet, student, withTerm("hints", noBatch, "pool"))).rejects.toThrow(
        /for a batch of 2; kd reads tensors \[N, \.\.\.\] whose first dim is the batch$/,
      );
    } finally {
      await resnet.release();
    }
  });

  it("spatial sizes that differ are one line with both shapes (hints and attention)", async () => {
    await expect(
      FeatureTeacher.load(teachers, student, withTerm("hints", "t14", "stage3.block1")),
    ).rejects.toThrow(
      /^hints: student layer "stage3\.block1" is \[64, 7, 7\] and teacher tensor "t14" is \[16, 14, 14\]/,
    );
    await expect(
      FeatureTeacher.load(teachers, student, withTerm("attention", "t9", "stage2.block1")),
    ).rejects.toThrow(
      /^attention: student layer "stage2\.block1" is \[32, 14, 14\] and teacher tensor "t9" is \[8, 28, 28\]/,
    );
  });

  it("reads one teacher's tensors: an ensemble is refused in one line", async () => {
    const two = await Teachers.load({ paths: [path, path] });
    try {
      await expect(
        FeatureTeacher.load(two, student, withTerm("hints", "t14", "stage2.block1")),
      ).rejects.toThrow(/^hints reads one teacher's tensors; this run has 2 teachers$/);
    } finally {
      await two.release();
    }
  });

  it("gives the same rows live (per batch) and cached (once), within a cap refused in one line beyond", async () => {
    const ft = await FeatureTeacher.load(teachers, student, withTerm("hints", "t14", "stage2.block1"));
    try {
      expect([...ft.shapes]).toEqual([["t14", [16, 14, 14]]]);
      const data = mnistTrain(20);
      const per = 16 * 14 * 14;
      expect(ft.bytesFor(20)).toBe(20 * per * 4);
      expect(() => checkFeatureCap(ft, 20, 20 * per * 4 - 1)).toThrow(
        /^the teacher's features for 20 examples would take 251 kB of memory, more than the feature cache's cap of 251 kB: raise the cap \(--feature-cap <GiB>, featureCap in a spec\) or run the teacher on every batch instead \(--no-cache, cache: false\)$/,
      );
      const logits = await teachers.logits(data.x, data.n, 1, data.rawScale);
      const base = cachedTeacher(teachers.id, logits, 10);
      await expect(cachedFeatureTeacher(base, ft, data, 1000)).rejects.toThrow(
        /more than the feature cache's cap/,
      );
      const cached = await cachedFeatureTeacher(base, ft, data, 2 ** 30);
      const live = liveFeatureTeacher(ft, teachers.id, data.rawScale);
      expect(cached.id).toBe(live.id);
      // Rows 5, 2, 17 as a shuffled batch would ask for them.
      const idx = Int32Array.of(5, 2, 17);
      const x = new Float32Array(3 * data.features);
      idx.forEach((r, i) =>
        x.set(data.x.subarray(r * data.features, (r + 1) * data.features), i * data.features),
      );
      const rows = async (p: typeof live) => {
        const out = new Float32Array(30);
        const f = new Map([["t14", new Float32Array(3 * per)]]);
        await p.logits(idx, x, 3, out, f);
        return { out, f: f.get("t14")! };
      };
      const [a, b] = [await rows(cached), await rows(live)];
      expect(Array.from(a.out)).toEqual(Array.from(b.out));
      expect(a.f.some((v) => v !== 0)).toBe(true);
      for (let i = 0; i < a.f.length; i++) expect(a.f[i]).toBeCloseTo(b.f[i]!, 5);
    } finally {
      await ft.release();
    }
  });
});

describe("a feature term in a run's identity", () => {
  it("changes its fingerprint and checkpoint key with the teacher tensor's name, so nothing stale is reused", () => {
    const catalog = { fingerprint: (n: string) => `data:${n}` } as unknown as DataCatalog;
    const run = (teacherTensor: string) =>
      ({
        train: "train",
        lrSchedule: { kind: "constant" },
        objective: withTerm("hints", teacherTensor, "stage2.block1"),
      }) as unknown as RunSpec;
    const [a, b] = [runIdentity(run("t14"), catalog, []), runIdentity(run("t13"), catalog, [])];
    expect(fingerprintOf(a)).not.toBe(fingerprintOf(b));
    expect(checkpointIdentity(a).key).not.toBe(checkpointIdentity(b).key);
    // The cap changes where features are kept, never the numbers: not part of the identity.
    const capped = { ...run("t14"), featureCap: 4 } as RunSpec;
    expect(fingerprintOf(runIdentity(capped, catalog, []))).toBe(fingerprintOf(a));
  });
});

describe("a spec run with a feature term", () => {
  it("distils from the spec's own teacher run with a hint, through the runner the queue's workers use", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kd-feature-spec-"));
    const spec = tinySpec({
      data: {
        all: { source: { kind: "mnist", split: "train" } },
        train: { from: "all", take: { count: 300, seed: 1 } },
        test: { source: { kind: "mnist", split: "test" }, first: 200 },
      },
      defaults: { train: "train", test: "test", lr: 0.05, epochs: 1, batchSize: 50 },
      runs: {
        teacher: { model: { kind: "cnn", channels: [8] }, seed: 1 },
        hinted: {
          model: { kind: "cnn", channels: [4] },
          teachers: ["teacher"],
          // The teacher's first block, [8, 14, 14] (its ONNX tensor goes by the layer's name), and the student's, [4, 14, 14].
          objective: {
            kind: "kd",
            temperature: 4,
            plus: [{ kind: "hints", teacherTensor: "conv1", studentLayer: "conv1" }],
          },
          featureCap: 0.5,
          seed: 2,
        },
      },
    });
    const results = await executeSpec(loadSpec(writeSpec(dir, spec)), { outDir: dir, threads: 1 });
    const run = results.runs.hinted!;
    expect(results.failed).toEqual({});
    expect(run.objective).toBe("soft targets T=4 (w=0.5) + 1·(hints conv1 → conv1)");
    expect(Object.keys(run.history[0]!.parts)).toEqual(["kd.soft", "kd.hard", "hints.hint"]);
    expect(run.history[0]!.parts["hints.hint"]).toBeGreaterThan(0);
  });
});
