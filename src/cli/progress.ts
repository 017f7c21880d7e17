/** Terminal progress for long work: a cli-progress bar with loss, accuracy, throughput and time left. */
import cliProgress from "cli-progress";
import type { Progress } from "../train/trainer.js";

export interface ProgressSink {
  update(p: Progress): void;
  stop(): void;
}

/** A bar on stderr when it is a terminal (and wanted); otherwise nothing. */
export function progressBar(enabled: boolean, label = "train"): ProgressSink {
  if (!enabled || !process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} epoch {ep} |{bar}| {percentage}% | loss {loss} | acc {acc} | {rate} ex/s | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      const total = p.total * p.epochs;
      const value = (p.epoch - 1) * p.total + p.seen;
      const payload = {
        ep: `${p.epoch}/${p.epochs}`,
        loss: p.loss.toFixed(4),
        acc: p.accuracy === undefined ? "-" : `${(100 * p.accuracy).toFixed(2)}%`,
        rate: Math.round(p.examplesPerSec).toLocaleString("en-US"),
      };
      if (!started) {
        bar.start(total, value, payload);
        started = true;
      } else bar.update(value, payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
