/** Median ONNX Runtime latency of a session at a batch size: what `kd summary` and the reports quote. */
import type { BackendSession } from "./backend.js";

/** Median milliseconds of runs of `session` on fixed pseudo-random inputs of `batch` examples (after a warm-up). */
export async function medianLatencyMs(
  session: BackendSession,
  input: string,
  shape: readonly number[],
  batch: number,
  budgetMs: number,
): Promise<number> {
  const x = new Float32Array(batch * shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < x.length; i++) x[i] = ((i * 2654435761) % 1000) / 1000;
  const feed = { [input]: { data: x, dims: [batch, ...shape], dtype: "float32" as const } };
  const outputs = session.outputNames;
  for (let i = 0; i < 3; i++) await session.run(feed, outputs);
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 5 || (performance.now() - start < budgetMs && times.length < 2000)) {
    const t = performance.now();
    await session.run(feed, outputs);
    times.push(performance.now() - t);
  }
  times.sort((p, q) => p - q);
  return times[Math.floor(times.length / 2)]!;
}
