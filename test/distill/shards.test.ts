import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { cachedLogits, cacheKey } from "../../src/distill/cache.js";
import { cacheSettings } from "../../src/distill/distill.js";
import { assembleShards, computeShard, shardPath, shardRanges } from "../../src/distill/shards.js";
import { type TeacherSpec, Teachers } from "../../src/distill/teacher.js";
import { KdError } from "../../src/util/errors.js";
import { mnistTrain } from "../helpers/mnist.js";
import { randomLinearClassifier } from "../helpers/onnx-files.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-shards-"));
const data = mnistTrain(2500);

const teacherFile = (name: string, seed: number) => randomLinearClassifier(join(tmp, name), seed);

describe("sharded teacher logits", () => {
  it("splits rows into ranges aligned to the scoring batch that cover every row once", () => {
    expect(shardRanges(2500, 3)).toEqual([
      { start: 0, end: 1000 },
      { start: 1000, end: 2000 },
      { start: 2000, end: 2500 },
    ]);
    expect(shardRanges(2500, 2)).toEqual([
      { start: 0, end: 2000 },
      { start: 2000, end: 2500 },
    ]);
    expect(shardRanges(10, 4, 3)).toEqual([
      { start: 0, end: 3 },
      { start: 3, end: 6 },
      { start: 6, end: 9 },
      { start: 9, end: 10 },
    ]);
    expect(() => shardRanges(10, 0)).toThrow(KdError);
  });

  it("keys the cache on the data's raw scale: the same values read at another scale are other inputs", async () => {
    const spec: TeacherSpec = { paths: [teacherFile("scale.onnx", 3)], output: "scores", threads: 1 };
    const teachers = await Teachers.load(spec);
    try {
      const settings = cacheSettings(teachers, spec, 1);
      const { rawScale: _, ...bare } = data;
      const key = (rawScale: number | undefined) =>
        cacheKey({ teachers, data: rawScale === undefined ? bare : { ...bare, rawScale }, settings });
      expect(key(1)).toBe(key(undefined));
      expect(key(1 / 255)).not.toBe(key(1));
    } finally {
      await teachers.release();
    }
  });

  for (const [label, files, ensemble] of [
    ["one teacher", ["a"], "prob"],
    ["a prob ensemble at T = 4", ["a", "b"], "prob"],
    ["a logit ensemble", ["a", "b"], "logit"],
  ] as const) {
    it(`${label}: shards + assemble == cachedLogits, byte for byte`, async () => {
      const spec: TeacherSpec = {
        paths: files.map((f, i) => teacherFile(`${f}.onnx`, 7 + i)),
        output: "scores",
        ensemble,
        threads: 1,
      };
      const teachers = await Teachers.load(spec);
      try {
        const T = 4;
        const parts = { teachers, data, settings: cacheSettings(teachers, spec, T) };
        const whole = join(tmp, `${label}-whole`);
        const one = await cachedLogits(whole, parts, () => teachers.logits(data.x, data.n, T));
        expect(one.status).toBe("built");

        const shardDir = join(tmp, `${label}-shards`);
        const ranges = shardRanges(data.n, 3);
        for (const r of [...ranges].reverse()) await computeShard(shardDir, parts, T, r);
        const assembled = assembleShards(join(tmp, `${label}-assembled`), shardDir, parts, ranges);
        expect(assembled.split("/").at(-1)).toBe(one.path.split("/").at(-1));
        expect(readFileSync(assembled).equals(readFileSync(one.path))).toBe(true);
        // And cachedLogits takes the assembled entry as a hit.
        const hit = await cachedLogits(join(tmp, `${label}-assembled`), parts, () => {
          throw new Error("recomputed");
        });
        expect(hit.status).toBe("hit");

        // A missing shard is one line naming it.
        rmSync(shardPath(shardDir, cacheKey(parts), ranges[1]!), { force: true });
        expect(() => assembleShards(join(tmp, `${label}-x`), shardDir, parts, ranges)).toThrow(
          /1000-2000\.bin/,
        );
      } finally {
        await teachers.release();
      }
    });
  }

  it("a huge stray file in a shard's place is never read whole: recomputed by its job, one line when assembled", async () => {
    const spec: TeacherSpec = { paths: [teacherFile("stray.onnx", 11)], output: "scores", threads: 1 };
    const teachers = await Teachers.load(spec);
    try {
      const parts = { teachers, data, settings: cacheSettings(teachers, spec, 1) };
      const shardDir = join(tmp, "stray-shards");
      const ranges = shardRanges(data.n, 3);
      const stray = shardPath(shardDir, cacheKey(parts), ranges[0]!);
      const plant = () => {
        mkdirSync(dirname(stray), { recursive: true });
        writeFileSync(stray, "");
        truncateSync(stray, 3 * 2 ** 30); // sparse: 3 GiB that take no disk
      };
      plant();
      for (const r of ranges)
        expect(await computeShard(shardDir, parts, 1, r)).toBe(shardPath(shardDir, cacheKey(parts), r));
      expect(readFileSync(stray).length).toBeLessThan(2 ** 20);
      plant();
      expect(() => assembleShards(join(tmp, "stray-assembled"), shardDir, parts, ranges)).toThrow(
        /teacher shard .*0-1000\.bin has the wrong size \(3221225472 bytes/,
      );
    } finally {
      await teachers.release();
    }
  });
});
