/** The in-memory dataset type, apart from its loaders (dataset.ts), so browser code can name it. */

/**
 * A dataset held in memory. Arrays may be shared between datasets derived from one another
 * (and with the in-process MNIST cache), so treat them as read-only.
 */
export interface Dataset {
  /** n × features, row-major, scaled to [0, 1] for uint8 images. */
  readonly x: Float32Array;
  /** Class labels, undefined for unlabeled data. */
  readonly y: Int32Array | undefined;
  readonly n: number;
  /** Shape of one example, e.g. [28, 28]. */
  readonly exampleShape: readonly number[];
  /** Product of exampleShape. */
  readonly features: number;
  /** Max label + 1 (at least as given); kept by subsets so class indices stay meaningful. */
  readonly numClasses: number;
  readonly name: string;
  /** Names of classes 0, 1, ... when the source has them (an image folder's subfolders). */
  readonly classNames?: readonly string[];
  /** Classes a class filter removed on purpose: empty, but not worth a warning (data/classes.ts). */
  readonly filteredOut?: readonly number[];
  /**
   * What the stored values were multiplied by on loading: 1/255 for 8-bit data, so `x / rawScale`
   * gives the bytes back. Undefined for data loaded as it was (floats). Models record it.
   */
  readonly rawScale?: number;
}
