/** The training core's Node-side hooks: the checkpoint written after every epoch (and resumed), the JSON-lines log. */
import { createHash } from "node:crypto";
import { appendFileSync, existsSync } from "node:fs";
import { ensureWritableDir, writeFileAtomic } from "../util/atomic.js";
import { KdError } from "../util/errors.js";
import { Rng } from "../util/rng.js";
import { checkCheckpointTensors, checkResumable, readCheckpoint, writeCheckpoint } from "./checkpoint.js";
import type { EpochLog, Hook, Loop } from "./core.js";
import { lrScheduleUsesLength } from "./schedule.js";
import type { TrainState } from "./step.js";
import type { TrainConfig } from "./trainer.js";

/** Checkpoint tensors holding the best epoch's weights under early stopping. */
const BEST = "best/";

/** Checkpoint tensors holding the model's buffers (see TrainState). */
const BUFFER = "buffer/";

function buffersByKey(state: Pick<TrainState, "buffers">): [string, Float32Array][] {
  return [...(state.buffers ?? [])].map(([k, v]) => [`${BUFFER}${k}`, v]);
}

/** What must match for a checkpoint to be resumed (the epoch count may grow). */
function fingerprint(cfg: TrainConfig): string {
  const { model, train, optimizer, objective } = cfg;
  const data = createHash("sha256").update(
    new Uint8Array(train.x.buffer, train.x.byteOffset, train.x.byteLength),
  );
  if (train.y) data.update(new Uint8Array(train.y.buffer, train.y.byteOffset, train.y.byteLength));
  const key = {
    arch: model.arch,
    reg: model.reg,
    classes: model.numClasses,
    data: [train.n, train.features, data.digest("hex")],
    teacher: cfg.teacher?.id ?? null,
    // These schedules stretch over the run, so its length is part of what it is.
    epochs: lrScheduleUsesLength(cfg.lrSchedule) ? cfg.epochs : null,
    optimizer,
    objective,
    lr: [cfg.lr, cfg.lrSchedule, cfg.momentum],
    earlyStop: cfg.earlyStop ?? null,
    batch: cfg.batchSize,
    jitter: cfg.jitter,
    // Absent when off, so the keys of checkpoints from before it stay the same.
    ...(cfg.augment ? { augment: cfg.augment } : {}),
    seed: cfg.seed,
  };
  return createHash("sha256").update(JSON.stringify(key)).digest("hex").slice(0, 16);
}

/**
 * Writes the loop to `cfg.checkpoint` atomically after every epoch; with `cfg.resume`, starts from
 * it when it exists (refused when it belongs to other settings or has more epochs than asked for).
 */
export function checkpointHook(cfg: TrainConfig & { readonly checkpoint: string }): Hook {
  const path = cfg.checkpoint;
  ensureWritableDir(path, "checkpoint");
  // Hashing the data costs a pass over it: only runs that checkpoint need the key.
  const key = cfg.identity?.key ?? fingerprint(cfg);
  return {
    onStart: (fresh) => (cfg.resume && existsSync(path) ? resume(cfg, path, key, fresh) : undefined),
    onEpochEnd(_log, loop) {
      const tensors = new Map([...loop.state.params, ...loop.state.opt, ...buffersByKey(loop.state)]);
      const { best } = loop;
      if (best) for (const [k, v] of [...best.params, ...buffersByKey(best)]) tensors.set(`${BEST}${k}`, v);
      writeCheckpoint(
        path,
        {
          fingerprint: key,
          ...(cfg.identity ? { identity: cfg.identity.fields } : {}),
          epoch: loop.epoch,
          step: loop.step,
          rng: loop.rng.state(),
          history: loop.history as unknown as Record<string, unknown>[],
          ...(best ? { best: { epoch: best.epoch, errors: best.errors } } : {}),
        },
        tensors,
      );
    },
    explain: (epoch) => (epoch > 0 ? `; the last good checkpoint (epoch ${epoch}) is kept at ${path}` : ""),
  };
}

function resume(cfg: TrainConfig, path: string, key: string, fresh: Loop): Loop {
  const ck = readCheckpoint(path);
  checkResumable(path, ck.header, key, cfg.identity?.fields);
  const { state } = fresh;
  const expected = new Map(
    [...state.params, ...state.opt, ...buffersByKey(state)].map(([k, v]) => [k, v.length]),
  );
  if (ck.header.best)
    for (const [k, v] of [...state.params, ...buffersByKey(state)]) expected.set(`${BEST}${k}`, v.length);
  checkCheckpointTensors(path, ck, expected);
  if (ck.header.epoch > cfg.epochs)
    throw new KdError(`${path} has ${ck.header.epoch} epochs already, more than the ${cfg.epochs} asked for`);
  const params = new Map<string, Float32Array>();
  const opt = new Map<string, Float32Array>();
  const buffers = new Map<string, Float32Array>();
  const best = { params: new Map<string, Float32Array>(), buffers: new Map<string, Float32Array>() };
  for (const [key, v] of ck.tensors) {
    const isBest = key.startsWith(BEST);
    const k = isBest ? key.slice(BEST.length) : key;
    if (k.startsWith(BUFFER)) (isBest ? best.buffers : buffers).set(k.slice(BUFFER.length), v);
    else if (isBest) best.params.set(k, v);
    else (k.startsWith("state/") ? opt : params).set(k, v);
  }
  cfg.onNote?.(`resumed from epoch ${ck.header.epoch} of ${cfg.epochs} (checkpoint ${path})`);
  return {
    state: { params, opt, ...(state.buffers ? { buffers } : {}) },
    epoch: ck.header.epoch,
    step: ck.header.step,
    rng: new Rng(ck.header.rng),
    history: ck.header.history as unknown as EpochLog[],
    ...(ck.header.best
      ? {
          best: {
            ...ck.header.best,
            params: best.params,
            ...(state.buffers ? { buffers: best.buffers } : {}),
          },
        }
      : {}),
  };
}

/** Appends a JSON line per epoch to `path`, which first holds exactly the epochs behind the loop we start from. */
export function logHook(path: string): Hook {
  ensureWritableDir(path, "log file");
  return {
    onStart(loop) {
      // A kill between a log line and its checkpoint must not leave a duplicate line.
      // Atomically: a kill during the rewrite must not leave a truncated log beside a good checkpoint.
      writeFileAtomic(path, loop.history.map((h) => `${JSON.stringify(h)}\n`).join(""), "log file");
      return undefined;
    },
    onEpochEnd(log) {
      appendFileSync(path, `${JSON.stringify(log)}\n`);
    },
  };
}
