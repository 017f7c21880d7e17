/** Constructors for editing loaded models (quantisation, probing): raw tensors of any ONNX type, untyped outputs, copies with extra outputs. */
import { create } from "@bufbuild/protobuf";
import {
  type ModelProto,
  StringStringEntryProtoSchema,
  type TensorProto,
  TensorProto_DataType,
  TensorProtoSchema,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from "./gen/onnx_pb.js";
import { decodeModel, encodeModel } from "./proto.js";

/** A tensor whose bytes are already little-endian values of `dataType`. */
export function rawTensor(
  name: string,
  dataType: TensorProto_DataType,
  dims: readonly number[],
  data: Int8Array | Uint8Array | Float32Array | Int32Array,
): TensorProto {
  return create(TensorProtoSchema, {
    name,
    dataType,
    dims: dims.map((d) => BigInt(d)),
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice(),
  });
}

/** A graph output with a name only: ONNX Runtime infers its type (used for probing copies). */
export function untypedOutput(name: string): ValueInfoProto {
  return create(ValueInfoProtoSchema, { name });
}

/** Sets metadata `key` to `value`, replacing an earlier entry of that key. */
export function setMetadata(model: ModelProto, key: string, value: string): void {
  model.metadataProps = [
    ...model.metadataProps.filter((e) => e.key !== key),
    create(StringStringEntryProtoSchema, { key, value }),
  ];
}

export { TensorProto_DataType as DataType };

/** A copy of `model` that also outputs the tensors `names` (their types are left to ONNX Runtime). */
export function withExtraOutputs(model: ModelProto, names: readonly string[]): ModelProto {
  const copy = decodeModel(encodeModel(model));
  const g = copy.graph!;
  const have = new Set(g.output.map((o) => o.name));
  for (const name of names) if (!have.has(name)) g.output.push(untypedOutput(name));
  return copy;
}
