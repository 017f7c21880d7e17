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

export function registerReport(program: Command): void {
  program
    .command("report")
    .description("render the reports of a run folder from its results.json and spec.json")
    .argument("<dir>", "a folder written by kd run")
    .action((dir: string) => {
      const specPath = join(dir, "spec.json");
      ensure(existsSync(specPath), `${dir} has no spec.json: not a folder written by kd run`);
      let saved: { spec: unknown; paper?: Record<string, unknown> };
      try {
        saved = JSON.parse(readInputFile(specPath, "spec file").toString("utf8"));
      } catch (e) {
        if (e instanceof KdError) throw e;
        throw new KdError(`${specPath} is not valid JSON (${(e as Error).message.split("\n")[0]})`);
      }
      const results = readResults(join(dir, "results.json"));
      ensure(results, `${dir} has no results.json yet`);
      const { spec } = validateSpec(saved.spec, specPath, { saved: true });
      console.log(printableLines(writeReports(dir, spec, results, saved.paper ?? {})));
      console.log(`\nwrote ${join(dir, "report.md")} and ${join(dir, "report.html")}`);
    });
}
