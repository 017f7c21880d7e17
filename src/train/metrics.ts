/** Classification metrics from logits: errors, accuracy, per-class accuracy and the confusion matrix. */

export interface ClassMetrics {
  readonly n: number;
  readonly errors: number;
  readonly accuracy: number;
  /** Per true class: examples, correct ones, accuracy. */
  readonly perClass: readonly {
    readonly total: number;
    readonly correct: number;
    readonly accuracy: number;
  }[];
  /** confusion[true][predicted] counts (rows with a tied maximum predict nothing and are left out). */
  readonly confusion: readonly (readonly number[])[];
  /** Rows whose largest logit is shared by several classes: counted as errors. */
  readonly ties: number;
}

/**
 * Index of the largest of each row, or −1 when the largest value is shared: a tie predicts no
 * class and counts as wrong, the same rule as the training step's accuracy (losses.ts).
 */
export function argmaxRows(logits: Float32Array, n: number, c: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bv = logits[i * c]!;
    let tied = false;
    for (let j = 1; j < c; j++) {
      const v = logits[i * c + j]!;
      if (v > bv) {
        bv = v;
        best = j;
        tied = false;
      } else if (v === bv) tied = true;
    }
    out[i] = tied ? -1 : best;
  }
  return out;
}

export function classMetrics(logits: Float32Array, labels: Int32Array, c: number): ClassMetrics {
  const n = labels.length;
  const pred = argmaxRows(logits, n, c);
  const confusion = Array.from({ length: c }, () => new Array<number>(c).fill(0));
  const totals = new Array<number>(c).fill(0);
  let errors = 0;
  let ties = 0;
  for (let i = 0; i < n; i++) {
    totals[labels[i]!]!++;
    if (pred[i]! >= 0) confusion[labels[i]!]![pred[i]!]!++;
    else ties++;
    if (pred[i] !== labels[i]) errors++;
  }
  const perClass = confusion.map((row, k) => {
    const total = totals[k]!;
    const correct = row[k]!;
    return { total, correct, accuracy: total === 0 ? 0 : correct / total };
  });
  return { n, errors, accuracy: n === 0 ? 0 : 1 - errors / n, perClass, confusion, ties };
}

/** Mean cross-entropy of logits against labels (Keras' val_loss), in double precision with the row max subtracted. */
export function meanCrossEntropy(logits: Float32Array, labels: Int32Array, c: number): number {
  const n = labels.length;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let mx = -Infinity;
    for (let j = 0; j < c; j++) mx = Math.max(mx, logits[i * c + j]!);
    let s = 0;
    for (let j = 0; j < c; j++) s += Math.exp(logits[i * c + j]! - mx);
    sum += Math.log(s) + mx - logits[i * c + labels[i]!]!;
  }
  return n === 0 ? 0 : sum / n;
}
