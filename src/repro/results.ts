/** The shape of a reproduction's results.json: every experiment's numbers beside the paper's. */
import type { EpochLog } from "../train/trainer.js";

/** One trained network's outcome on the 10,000-image MNIST test set. */
export interface RunSummary {
  readonly name: string;
  readonly arch: string;
  /** What it learned from, e.g. "labels", "soft targets T=20 (w=0.9)". */
  readonly objective: string;
  readonly trainExamples: number;
  readonly epochs: number;
  readonly testErrors: number;
  readonly testAccuracy: number;
  /** Test examples of each class and how many were right. */
  readonly perClass: readonly { readonly total: number; readonly correct: number }[];
  /** confusion[true][predicted]. */
  readonly confusion: readonly (readonly number[])[];
  readonly history: readonly EpochLog[];
  readonly seconds: number;
}

/** The outcome of shifting some classes' output biases. */
export interface ShiftOutcome {
  readonly shift: number;
  readonly testErrors: number;
  /** Errors on the test examples of the shifted classes (exp. 4: the 1,010 test 3s). */
  readonly classErrors: number;
  readonly classTotal: number;
  /** Test error rate in % (exp. 5 reports rates). */
  readonly errorRate: number;
}

export interface BiasExperiment {
  readonly run: RunSummary;
  /** The classes left out of (exp. 4) or the only ones in (exp. 5) the transfer set. */
  readonly classes: readonly number[];
  readonly shiftedClasses: readonly number[];
  readonly unshifted: ShiftOutcome;
  /** The paper's shift (3.5 for exp. 4, −7.6 for exp. 5). */
  readonly given: ShiftOutcome;
  /** The shift found on the validation split (never the test set), and the validation errors. */
  readonly found: ShiftOutcome & { readonly valErrors: number; readonly valBaselineErrors: number };
}

export interface SweepPoint {
  readonly temperature: number;
  readonly testErrors: number;
}

export interface SweepSeries {
  /** Hidden layer sizes, e.g. [30, 30] or [300, 300]. */
  readonly hidden: readonly number[];
  readonly points: readonly SweepPoint[];
  /** The same student on labels alone, for reference. */
  readonly labelsOnlyErrors: number;
  readonly bestTemperature: number;
}

export interface Results {
  readonly profile: string;
  readonly startedAt: string;
  readonly finishedAt?: string;
  /** Time to produce the results present: the sum of `timings`. */
  readonly totalSeconds?: number;
  /** Seconds each experiment took when it last ran (a reused result keeps its time). */
  readonly timings?: Readonly<Record<string, number>>;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly node: string;
    readonly onnxruntime: string;
    readonly threads: number;
  };
  /** Per experiment, a hash of its settings: a rerun reuses only results whose settings match. */
  readonly fingerprints?: Readonly<Record<string, string>>;
  /** Choices made where the paper is silent (optimizer, epochs, weights...), in words. */
  readonly choices: Readonly<Record<string, string>>;
  readonly experiments: {
    /** 1. The regularised 1200-1200 teacher (paper: 67 errors). */
    teacher?: RunSummary;
    /** 2. The 800-800 student on labels alone (paper: 146). */
    student?: RunSummary;
    /** 3. The same student distilled at T = 20 (paper: 74). */
    distilled?: RunSummary & { readonly temperature: number; readonly gapClosed: number };
    /** 4. Transfer set without 3s (paper: 206 errors, 133 on 3s; shift 3.5: 109 and 14). */
    omit3?: BiasExperiment;
    /** 5. Transfer set of only 7s and 8s (paper: 47.3% error; shift −7.6: 13.2%). */
    only78?: BiasExperiment;
    /** 6. Test errors against T for a wide and a narrow student. */
    temperatureSweep?: {
      readonly series: readonly SweepSeries[];
      readonly trainExamples: number;
      readonly epochs: number;
    };
    /** 7. 3% of the training set: labels alone vs soft targets, beside the full-data student. */
    softRegularizer?: {
      readonly fraction: number;
      readonly labelsOnly: RunSummary;
      readonly softTargets: RunSummary;
      readonly fullDataErrors: number;
    };
  };
}

/** The paper's numbers (../shared/PAPER.md §2), for the report's side-by-side columns. */
export const PAPER = {
  teacherErrors: 67,
  studentErrors: 146,
  distilledErrors: 74,
  omit3: { errors: 206, errors3: 133, shift: 3.5, shiftedErrors: 109, shiftedErrors3: 14, test3s: 1010 },
  only78: { errorRate: 47.3, shift: -7.6, shiftedErrorRate: 13.2 },
  sweep: { wideNote: "all T above 8 gave similar results (≥ 300 units)", narrowBest: [2.5, 4] as const },
  speech3pct: { fullTest: 58.9, hardTest: 44.5, softTest: 57.0 },
} as const;
