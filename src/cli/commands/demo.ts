/** `kd demo`: write (and optionally serve) the offline demo site where a student runs and is distilled in the tab. */
import type { Command } from "commander";
import { serveSite } from "../../demo/serve.js";
import { writeSite } from "../../demo/site.js";
import { num } from "../options.js";

interface DemoFlags {
  teacher: string;
  student: string;
  out: string;
  trainImages: number;
  testImages: number;
  serve?: boolean;
  port: number;
}

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("write a static demo site: teacher and student in the browser, distillation in the tab")
    .requiredOption("--teacher <model.onnx>", "the teacher (an MNIST classifier: 784 inputs, 10 logits)")
    .requiredOption("--student <model.onnx>", "a student to show beside it")
    .option("--out <dir>", "folder to write the site into", "site")
    .option(
      "--train-images <n>",
      "MNIST training images shipped for distillation in the page",
      num({ int: true, min: 100, max: 60000 }),
      5000,
    )
    .option("--test-images <n>", "MNIST test images shipped", num({ int: true, min: 1, max: 10000 }), 1000)
    .option("--serve", "serve the site on 127.0.0.1 (with the COOP/COEP headers wasm threads need)")
    .option("--port <n>", "port for --serve (0: any free port)", num({ int: true, min: 0, max: 65535 }), 8080)
    .action(async (f: DemoFlags) => {
      // The port first: a busy one fails in a second, not after the whole site is written.
      const server = f.serve ? await serveSite(f.out, f.port) : undefined;
      const site = await writeSite({
        teacher: f.teacher,
        student: f.student,
        out: f.out,
        trainImages: f.trainImages,
        testImages: f.testImages,
      }).catch(async (e: unknown) => {
        await server?.close();
        throw e;
      });
      console.log(
        `wrote ${site.out} (${(site.bytes / (1 << 20)).toFixed(1)} MiB); serve it over HTTP: kd demo --serve, ` +
          "or any static server (with COOP/COEP headers onnxruntime-web uses wasm threads)",
      );
      if (!server) return;
      console.log(`serving ${site.out} at ${server.url} (Ctrl-C stops)`);
      await new Promise<void>((done) => {
        for (const sig of ["SIGINT", "SIGTERM"] as const)
          process.once(sig, () => void server.close().then(done));
      });
    });
}
