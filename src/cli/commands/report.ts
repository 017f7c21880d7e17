/** `kd report DIR`: render report.md and report.html of a finished (or partly finished) run folder. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { readResults } from "../../analyses/results.js";
import { validateSpec } from "../../experiment/load.js";
import { writeReports } from "../../report/index.js";
import { ensure, KdError } from "../../util/errors.js";
import { readInputFile } from "../../util/files.js";
import { printableLines } from "../../util/printable.js";

const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);

export function registerReport(program: Command): void {
  program
    .command("report")
    .description("render the reports of a run folder from its results.json and spec.json")
    .argument("<dir>", "a folder written by kd run")
    .action((dir: string) => {
      const specPath = join(dir, "spec.json");
      ensure(existsSync(specPath), `${dir} has no spec.json: not a folder written by kd run`);
      let saved: unknown;
      try {
        saved = JSON.parse(readInputFile(specPath, "spec file").toString("utf8"));
      } catch (e) {
        if (e instanceof KdError) throw e;
        // Not JSON.parse's message: on Node 20 it quotes the start of the file.
        throw new KdError(`${specPath} is not valid JSON`);
      }
      // A spec.json of null, a number or a string would otherwise fail as an internal error.
      ensure(
        isRecord(saved) && (saved.paper === undefined || isRecord(saved.paper)),
        `${specPath} is not a saved spec (an object with a spec and its paper numbers)`,
      );
      const results = readResults(join(dir, "results.json"));
      ensure(results, `${dir} has no results.json yet`);
      const { spec } = validateSpec(saved.spec, specPath, { saved: true });
      const paper = (saved.paper ?? {}) as Parameters<typeof writeReports>[3];
      console.log(printableLines(writeReports(dir, spec, results, paper)));
      console.log(`\nwrote ${join(dir, "report.md")} and ${join(dir, "report.html")}`);
    });
}
