/** Public API of the data layer: IDX files, datasets, augmentation and batching. */

export { jitter } from "./augment.js";
export { epochOrder, gatherBatch } from "./batches.js";
export { checkClasses, checkCompatible, checkDataset, MAX_CLASSES } from "./checks.js";
export {
  classCounts,
  type Dataset,
  filterClasses,
  fromIdx,
  loadIdxDataset,
  loadMnist,
  mnistDataDir,
  splitValidation,
  subset,
  takeCount,
  takeFraction,
  withoutLabels,
} from "./dataset.js";
export { type IdxArray, type IdxDtype, MAX_IDX_BYTES, parseIdx, readIdxFile } from "./idx.js";
