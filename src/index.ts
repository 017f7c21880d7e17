/** The public API of kd-toolkit: the same powers as the `kd` command line. */

// The Node entry point: sessions run on onnxruntime-node (the page bundle registers onnxruntime-web).
import "./runtime/node.js";

// Experiments as data: registries, specs, the planner and runner, results and reports.
export { ANALYSES, type AnalysisKind } from "./analyses/index.js";
export { type Results, type RunRecord, readResults, resultsSchema } from "./analyses/results.js";
// Graphs, autodiff, lowering and the runtime.
export { grad, unbroadcast } from "./autodiff/grad.js";
// Data.
export * from "./data/index.js";
export { DataCatalog, type DatasetSpec, SOURCES, type SourceKind, type SourceSpec } from "./data/sources.js";
// Deployment: predictions, summaries, int8 quantisation, baked preprocessing.
export {
  type ClassProb,
  formatPredictions,
  type Prediction,
  type PredictOptions,
  type PredictResult,
  predict,
  softmaxRows,
} from "./deploy/predict.js";
export {
  bakePreprocessing,
  META_PREPROCESSING,
  type Preprocessing,
  readPreprocessing,
  recordPreprocessing,
} from "./deploy/preprocess.js";
export { calibrate, type QuantizeOptions, type QuantizeResult, quantizeModel } from "./deploy/quantize.js";
export {
  compare as compareSummaries,
  formatSummary,
  type ModelSummary,
  type SummaryOptions,
  summarize,
} from "./deploy/summary.js";
// Distillation.
export { searchShift, shiftModelBytes, shiftVector } from "./distill/bias.js";
export { cachedLogits } from "./distill/cache.js";
export { type DistillOptions, distill } from "./distill/distill.js";
export { type EnsembleMode, Teachers } from "./distill/teacher.js";
export { holdOut, type TransferOptions, transferSet } from "./distill/transfer.js";
export { type LoadedSpec, loadSpec, validateSpec } from "./experiment/load.js";
export { type RunSpec, type Spec, specSchema } from "./experiment/schema.js";
export * as ops from "./ir/ops.js";
export type { Prim, PrimParams } from "./ir/primitives.js";
export { printGraph } from "./ir/print.js";
export { type Dim, type DType, Graph, type Shape, Tensor } from "./ir/tensor.js";
export { crossEntropy, logitMatchingLoss, softTargetLoss } from "./losses/losses.js";
// Models, optimizers, losses.
export { initParam, type ParamSpec } from "./nn/layers.js";
export { cnn, type Model, mlp, NO_REG, parseArch, type Regularisation } from "./nn/model.js";
export {
  buildModel as buildModelFromSpec,
  MODELS,
  type ModelKind,
  type ModelSpec as ModelKindSpec,
} from "./nn/registry.js";
export { OBJECTIVES, type ObjectiveKind, type ObjectiveSpec } from "./objectives/index.js";
export { checkModel } from "./onnx/check.js";
export { buildModel, buildModelBytes, type ModelSpec } from "./onnx/model.js";
export { DEFAULT_OPTIMIZER, type OptimizerConfig, type OptimizerName } from "./optim/optimizers.js";
export { OPTIMIZERS, type OptimizerSpec } from "./optim/registry.js";
export { buildReport, renderHtml, renderMarkdown, writeReports } from "./report/index.js";
export { type ExecuteOptions, executeSpec, type RunEvent } from "./runner/execute.js";
export { LocalRunner, type Runner, type RunTask } from "./runner/local.js";
export { type PlannedRun, planSpec } from "./runner/plan.js";
export { type BackendSession, getBackend, type InferenceBackend, setBackend } from "./runtime/backend.js";
export { type ClassifierOptions, OnnxClassifier } from "./runtime/classifier.js";
export { nodeBackend } from "./runtime/node.js";
export { Compiled, type HostTensor, type SessionOptions } from "./runtime/session.js";
// Training.
export { benchStep } from "./train/bench.js";
export { readCheckpoint } from "./train/checkpoint.js";
export { exportModel, Forward, saveModel } from "./train/forward.js";
export { type ClassMetrics, classMetrics } from "./train/metrics.js";
export { type JobOptions, type JobResult, runJob } from "./train/run.js";
export { LR_SCHEDULES, type LrScheduleSpec, type MomentumSpec } from "./train/schedule.js";
export { TrainStep } from "./train/step.js";
export { type EpochLog, type TeacherProvider, type TrainConfig, train } from "./train/trainer.js";
export { KdError } from "./util/errors.js";
export { Rng } from "./util/rng.js";
