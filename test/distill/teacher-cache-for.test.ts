/** The queue computes a run's teacher-cache entry where distill reads it: teacherCacheFor and teacherSource agree. */
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { teacherCacheFor, teacherSource } from "../../src/distill/distill.js";
import { type TeacherSpec, Teachers } from "../../src/distill/teacher.js";
import { mnistTrain } from "../helpers/mnist.js";
import { randomLinearClassifier } from "../helpers/onnx-files.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-teacher-cache-for-"));
const data = mnistTrain(300);

const teacherFile = (name: string, seed: number) => randomLinearClassifier(join(tmp, name), seed);

describe("teacherCacheFor", () => {
  it("names the entry distill writes, for a prob ensemble at T = 4 (its key depends on T)", async () => {
    const spec: TeacherSpec = {
      paths: [teacherFile("a.onnx", 7), teacherFile("b.onnx", 8)],
      output: "scores",
      ensemble: "prob",
      threads: 1,
    };
    const objective = { kind: "kd", temperature: 4, softWeight: 0.5 } as const;
    const dir = join(tmp, "cache");
    const cache = await teacherCacheFor(spec, data, objective);
    try {
      expect(cache.temperature).toBe(4);
      expect(cache.path(dir)).toContain(cache.key().slice(0, 24));
      const other = await teacherCacheFor(spec, data, { ...objective, temperature: 2 });
      expect(other.key()).not.toBe(cache.key());
      await other.release();
      expect(existsSync(cache.path(dir))).toBe(false);
      const teachers = await Teachers.load(spec);
      try {
        const src = await teacherSource(teachers, data, {
          objective,
          jitter: 0,
          cacheDir: dir,
          teachers: spec,
        });
        expect(src.mode).toEqual({ kind: "cached", status: "built", path: cache.path(dir) });
      } finally {
        await teachers.release();
      }
    } finally {
      await cache.release();
    }
  });
});
