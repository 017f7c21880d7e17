/** Public API of the data layer: IDX files, datasets, augmentation and batching. */

export { jitter } from "./augment.js";
export { epochOrder, gatherBatch } from "./batches.js";
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
export { type IdxArray, type IdxDtype, parseIdx, readIdxFile } from "./idx.js";
