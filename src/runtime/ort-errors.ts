/**
 * ONNX Runtime's error messages, cleaned for users: its status prefix, source-file locations and
 * C++ signatures go; the sentence that says what is wrong stays.
 */

/**
 * The meaningful part of an ONNX Runtime message, on one line. For example
 * "[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Got invalid dimensions for input: x ..." becomes
 * "invalid argument: Got invalid dimensions for input: x ...", and
 * "/onnxruntime_src/.../gemm_helper.h:14 onnxruntime::GemmHelper::GemmHelper(const ...&, bool) left.NumDimensions() == 2 was false."
 * becomes "left.NumDimensions() == 2 was false.".
 */
export function cleanOrtMessage(message: string): string {
  let m = message.replace(/\s+/g, " ").trim();
  // A model stamped with an opset newer than this ONNX Runtime's: a paragraph on guarantees and
  // compatibility, of which the two numbers matter.
  const opset = /\bOpset (\d+) is under development\b.*\bsupport for domain (\S+) is till opset (\d+)/.exec(
    m,
  );
  if (opset)
    return `the model uses opset ${opset[1]} of ${opset[2]}; this ONNX Runtime supports up to opset ${opset[3]}`;
  let kind = "";
  const status = /^\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*([A-Z_]+)\s*:\s*/.exec(m);
  if (status) {
    kind = status[1]!.toLowerCase().replace(/_/g, " ");
    m = m.slice(status[0].length);
  }
  m = m
    // "Load model from <bytes or path> failed:" says nothing the caller does not know.
    .replace(/^Load model (from .*? )?failed:\s*/i, "")
    // Source locations: /path/to/file.cc:123 (also Windows paths and bare file.h:12).
    .replace(/(?:[A-Za-z]:)?(?:[\\/][\w.+-]+)+\.(?:cpp|cxx|cc|c|hpp|hh|h|inl)\b(?::\d+)?\s*/g, "")
    .replace(/\b[\w.+-]+\.(?:cc|cpp|cxx|h|hpp)(?::\d+)\s*/g, "")
    // C++ signatures: ns::Class::method(const Type&, bool) [const]
    .replace(/(?:\b[\w~<>]+::)+[\w~<>]+\s*\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)(?:\s*const)?\s*/g, "")
    // Remaining qualified names (onnxruntime::common::Status) carry no meaning for a user.
    .replace(/\bonnxruntime::(?:[\w<>]+::)*/g, "")
    .replace(/\s+/g, " ")
    .trim();
  if (m === "") m = kind || "failed";
  else if (kind && kind !== "fail" && kind !== "runtime exception") m = `${kind}: ${m}`;
  return m.length > 400 ? `${m.slice(0, 397)}...` : m;
}
