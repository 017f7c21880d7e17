/** What a model kind declares (its file in this folder), and the parameter pieces kinds share. */
// zod/mini, not zod: the browser page builds models, and zod's classic API stays out of it.
import * as z from "zod/mini";
import { ensure, KdError } from "../../util/errors.js";
import type { Model } from "../model.js";

/** A model kind: parameters, `--arch` short form and builder. The size check runs on every kind's model (buildModel). */
export interface ModelKindDef<P> {
  /** The spec's parameters beside `kind`. */
  readonly params: z.ZodMiniType<P> & z.ZodMiniObject;
  /** The short form's pattern for `--arch` help ("mlp:H1,H2,..."). */
  readonly usage: string;
  /** A short form for "unknown architecture" messages ("mlp:1200,1200"); absent for a spec-only kind. */
  readonly example?: string;
  /**
   * The parameters of a short form's part after "kind:" (dropout comes from its own flags);
   * undefined when it is not this kind's form. `arch` (the whole form) names it in errors.
   */
  parse(body: string, arch: string): P | undefined;
  /** The short form ("mlp:1200,1200"), also the model's `arch`. */
  arch(p: P): string;
  /** The model for data of this example shape; refuses, in one line, data the kind cannot take. */
  build(p: P, exampleShape: readonly number[], numClasses: number): Model;
}

const MAX_WIDTH = 100_000;
const rate = z.number().check(z.minimum(0), z.maximum(0.95));

/** Layer widths or channel counts. */
export const sizes = z.array(z.int().check(z.minimum(1), z.maximum(MAX_WIDTH)));
/** Dropout rates on the inputs and on hidden units. */
export const dropoutParams = z.strictObject({ input: z._default(rate, 0), hidden: z._default(rate, 0) });

/** A short form's "800,800" part as sizes; undefined when it is not a comma list of digits. */
export function sizeList(body: string, arch: string): number[] | undefined {
  if (!/^[0-9,]*$/.test(body)) return undefined;
  const n = body === "" ? [] : body.split(",").map(Number);
  ensure(
    n.every((x) => Number.isInteger(x) && x >= 1 && x <= MAX_WIDTH),
    `architecture "${arch}": layer sizes must be whole numbers from 1 to ${MAX_WIDTH}`,
  );
  return n;
}

/** A convnet's example shape as [C, H, W] ([H, W] is one channel); anything else refused in one line. */
export function imageInput(arch: string, shape: readonly number[]): [number, number, number] {
  if (shape.length === 2) return [1, shape[0]!, shape[1]!];
  if (shape.length === 3) return [shape[0]!, shape[1]!, shape[2]!];
  throw new KdError(
    `architecture "${arch}" needs image-shaped examples [C, H, W] or [H, W]; the data's are [${shape.join(", ")}]`,
  );
}
