/** How large a model is, and the refusal of one too large to export or to train on this machine. */
import { KdError } from "../util/errors.js";
import { checkAllocation, formatBytes } from "../util/memory.js";
import type { Model } from "./model.js";

/** How many numbers a model's parameters hold. */
export function paramCount(model: Pick<Model, "params">): number {
  return model.params.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
}

/** An exported model is one protobuf message, which holds at most 2 GiB: 536,870,911 float32s. */
export const MAX_PARAMS = Math.floor((2 ** 31 - 1) / 4);

/**
 * Copies of the parameters training holds at once: the weights, their gradients, up to two optimizer
 * moments (Adam) and the session's own copy of the weights it updates.
 */
const TRAINING_COPIES = 5;

/**
 * Refuses an architecture too large to export (ONNX's 2 GiB) or to train in this machine's memory,
 * saying how large it is, before anything is allocated.
 */
export function checkModelSize(arch: string, params: number): void {
  const count = params.toLocaleString("en-US");
  if (params > MAX_PARAMS)
    throw new KdError(
      `architecture "${arch}" has ${count} parameters (${formatBytes(params * 4)} as float32); an ONNX model holds at most ${MAX_PARAMS.toLocaleString("en-US")}`,
    );
  checkAllocation(params * 4 * TRAINING_COPIES, `training architecture "${arch}" (${count} parameters)`);
}
