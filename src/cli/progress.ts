/** Terminal progress of a spec: a bar within the epoch, then a Keras-style line per epoch that stays on screen. */
import cliProgress from "cli-progress";
import type { RunEvent } from "../runner/execute.js";
import { pointText } from "../runner/plan.js";
import type { EpochLog } from "../train/trainer.js";
import { formatSeconds } from "../util/duration.js";
import { printable } from "../util/printable.js";

/** A learning rate as people write it: 0.05, 0.0125, 1e-5. */
const rate = (lr: number) => String(Number(lr.toPrecision(3)));

/**
 * "epoch 3/20 - loss 0.1234 (soft 0.1, hard 0.2) - acc 97.10% - val errors 123 - val loss 0.0456 -
 * lr 0.05 - 1.2s", and "- diverged (accuracy at chance)" when train/divergence.ts flags the epoch.
 */
export function epochLine(e: EpochLog, epochs: number, evalName: string): string {
  const parts = Object.entries(e.parts);
  const partText = parts.length > 1 ? ` (${parts.map(([k, v]) => `${k} ${v.toFixed(4)}`).join(", ")})` : "";
  return [
    `epoch ${e.epoch}/${epochs}`,
    `loss ${e.loss.toFixed(4)}${partText}`,
    ...(e.trainAccuracy !== null ? [`acc ${(100 * e.trainAccuracy).toFixed(2)}%`] : []),
    ...(e.evalErrors !== null ? [`${evalName} errors ${e.evalErrors}`] : []),
    ...(typeof e.evalLoss === "number" ? [`${evalName} loss ${e.evalLoss.toFixed(4)}`] : []),
    ...(Number.isFinite(e.lr) ? [`lr ${rate(e.lr)}`] : []),
    formatSeconds(e.seconds, true),
    ...(e.diverged ? ["diverged (accuracy at chance)"] : []),
  ].join(" - ");
}

/**
 * Prints a spec's events to stderr: "[3/12] run …" headers, an epoch bar on a terminal (its
 * percentage is the epoch's, as its label says), a line per epoch, and the whole spec's ETA from
 * the epochs left at the average epoch time so far.
 */
export function progressPrinter(opts: { bar: boolean; quiet?: boolean }) {
  const out = (s: string) => process.stderr.write(`${s}\n`);
  const tty = opts.bar && process.stderr.isTTY;
  let bar: cliProgress.SingleBar | undefined;
  let epochsLeft = 0;
  let epochsDone = 0;
  let epochTime = 0;
  const stopBar = () => {
    bar?.stop();
    bar = undefined;
  };
  const inFlight = new Set<string>();
  const eta = () =>
    epochsDone > 0 ? ` - spec ETA ${formatSeconds((epochTime / epochsDone) * epochsLeft, true)}` : "";
  return {
    stop: stopBar,
    event(e: RunEvent): void {
      if (opts.quiet) return;
      switch (e.kind) {
        case "plan":
          epochsLeft = e.runs.filter((r) => !e.reused.includes(r.id)).reduce((a, r) => a + r.spec.epochs, 0);
          if (e.runs.length > 1)
            out(`${e.runs.length} runs${e.reused.length ? `, ${e.reused.length} already finished` : ""}`);
          return;
        case "reuse":
          out(`[${e.index}/${e.total}] ${e.run.id}: reusing the finished result`);
          return;
        case "start": {
          inFlight.add(e.run.id);
          if (e.total === 1) return;
          const p = pointText(e.run.point);
          out(`[${e.index}/${e.total}] ${e.run.id}${p ? ` (${p})` : ""}: ${e.run.spec.epochs} epochs`);
          return;
        }
        case "progress": {
          if (!tty) return;
          const p = e.progress;
          if (!bar) {
            bar = new cliProgress.SingleBar(
              {
                format: `[${e.index}/${e.total}] epoch ${p.epoch}/${p.epochs} |{bar}| {percentage}% of the epoch | loss {loss} | ETA {eta_formatted}`,
                stream: process.stderr,
                hideCursor: true,
                clearOnComplete: true,
              },
              cliProgress.Presets.shades_classic,
            );
            bar.start(p.total, p.seen, { loss: p.loss.toFixed(4) });
          } else bar.update(p.seen, { loss: p.loss.toFixed(4) });
          return;
        }
        case "epoch": {
          stopBar();
          epochsDone++;
          epochsLeft = Math.max(0, epochsLeft - 1);
          epochTime += e.epoch.seconds;
          const evalName = e.run.spec.evalEach ?? (e.run.spec.val ? "val" : "test");
          // With several runs in flight (a queue's workers), each line names its run.
          const who = inFlight.size > 1 ? `[${e.index}/${e.total}] ${e.run.id} ` : "";
          out(`  ${who}${epochLine(e.epoch, e.run.spec.epochs, evalName)}${e.total > 1 ? eta() : ""}`);
          return;
        }
        case "done":
          inFlight.delete(e.run.id);
          stopBar();
          return;
        case "failed":
          inFlight.delete(e.run.id);
          stopBar();
          // A one-run command reports its failure itself, as its one error line.
          // Messages may quote a user's file (a class name): control characters are shown, not obeyed.
          if (e.total > 1) out(printable(`[${e.index}/${e.total}] ${e.run.id} failed: ${e.message}`));
          return;
        case "note":
          stopBar();
          out(printable(`kd: ${e.message}`));
          return;
      }
    },
  };
}
