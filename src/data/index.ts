/** Public API of the data layer: loaders (IDX, NPY/NPZ, CSV, image folders), datasets, augmentation and batching. */

export { type ArrayDatasetOptions, datasetFromArrays, toLabels } from "./arrays.js";
export { jitter, jitterImages } from "./augment.js";
export { epochOrder, gatherBatch } from "./batches.js";
export { checkClasses, checkCompatible, checkDataset, MAX_CLASSES } from "./checks.js";
export { type CsvOptions, loadCsvDataset, parseCsvDataset } from "./csv.js";
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
export {
  type DecodedImage,
  decodeImage,
  type ImageOptions,
  imageFilesIn,
  isImageFile,
  listImageFolder,
  loadImageFiles,
  loadImageFolder,
  resizeBilinear,
} from "./images.js";
export { type DataFormat, detectFormat, type LoadOptions, loadDataset } from "./load.js";
export {
  loadNpyDataset,
  loadNpzDataset,
  type NpyArray,
  type NpyDtype,
  type NpzArchive,
  type NpzOptions,
  openNpz,
  parseNpy,
  parseNpz,
  readNpyArray,
} from "./npy.js";
