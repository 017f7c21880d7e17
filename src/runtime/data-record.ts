/**
 * What a kd model records of the data it was trained on: `kd.data` (the source's name, "mnist" for
 * the embedded MNIST, and the example shape) and `kd.classes` (class names, when the data had
 * them). Read back as untrusted input; they let kd refuse a default data set the model never saw.
 */
import { z } from "zod";
import type { ModelProto } from "../onnx/gen/onnx_pb.js";
import { KdError } from "../util/errors.js";

export const META_DATA = "kd.data";
export const META_CLASSES = "kd.classes";

/** The name `kd.data` gives the embedded MNIST (the `mnist` data source). */
export const MNIST_DATA = "mnist";

const DataRecordSchema = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().positive()),
});
export type DataRecord = z.infer<typeof DataRecordSchema>;

const ClassNamesSchema = z.array(z.string()).min(1);

/** The metadata entries recording a training set: its source name, example shape and class names. */
export function dataMetadata(
  name: string,
  shape: readonly number[],
  classNames?: readonly string[],
): Record<string, string> {
  return {
    [META_DATA]: JSON.stringify({ name, shape }),
    ...(classNames ? { [META_CLASSES]: JSON.stringify(classNames) } : {}),
  };
}

/** Parses metadata `key` of `model` with `schema`; absent: undefined; malformed: a KdError naming `what`. */
function readJson<T>(model: ModelProto, key: string, schema: z.ZodType<T>, what: string): T | undefined {
  const entry = model.metadataProps.find((e) => e.key === key);
  if (entry === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(entry.value);
  } catch {
    throw new KdError(`${what}: metadata ${key} is not JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    throw new KdError(`${what}: metadata ${key} is malformed (${parsed.error.issues[0]?.message})`);
  return parsed.data;
}

/** The data record of a model, if it has one. */
export function readDataRecord(model: ModelProto, what: string): DataRecord | undefined {
  return readJson(model, META_DATA, DataRecordSchema, what);
}

/** The class names a model records, checked against its class count. */
export function readClassNames(model: ModelProto, what: string, classes: number): string[] | undefined {
  const names = readJson(model, META_CLASSES, ClassNamesSchema, what);
  if (names !== undefined && names.length !== classes)
    throw new KdError(
      `${what}: metadata ${META_CLASSES} names ${names.length} classes; the model outputs ${classes}`,
    );
  return names;
}

/**
 * Refuses to stand in the embedded MNIST for a model whose record names other data (a Fashion
 * student scored on digits reads as a broken model), unless `allow` (the `--mnist` flag).
 */
export function checkMnistDefault(
  record: DataRecord | undefined,
  what: string,
  flag: string,
  allow: boolean,
): void {
  if (allow || record === undefined || record.name === MNIST_DATA) return;
  throw new KdError(
    `${what} was trained on ${record.name}, not MNIST: give its data with ${flag} (or --mnist to use the embedded MNIST anyway)`,
  );
}
