/** Ctrl-C during `kd train`/`kd distill`: one line saying where the run stopped and how to go on, then exit 130. */
import { existsSync } from "node:fs";
import type { RunEvent } from "../runner/execute.js";

/**
 * Handles SIGINT until `dispose()`. `track` sees the run's events to know the last finished epoch
 * (what the checkpoint holds: it is written, synchronously, at the end of every epoch, so the
 * handler never runs in the middle of writing it).
 */
export function interruptHandler(o: { checkpoint: string | undefined; epochs: number; before(): void }) {
  let finished = 0;
  const track = (e: RunEvent) => {
    if (e.kind === "epoch") finished = e.epoch.epoch;
    else if (e.kind === "progress") finished = Math.max(finished, e.progress.epoch - 1);
  };
  const handler = () => {
    o.before();
    const kept = o.checkpoint !== undefined && existsSync(o.checkpoint);
    const where =
      finished > 0 ? `stopped at epoch ${finished} of ${o.epochs}` : "stopped before an epoch finished";
    const next = kept
      ? "`--resume` continues (the same command with --resume)"
      : o.checkpoint === undefined
        ? "no checkpoint is kept (--no-checkpoint), so a rerun starts afresh"
        : "a rerun starts afresh";
    process.stderr.write(`kd: ${where}; ${next}\n`);
    process.exit(130);
  };
  process.once("SIGINT", handler);
  return { track, dispose: () => process.off("SIGINT", handler) };
}
