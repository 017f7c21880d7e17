/** kd predict's text output names classes by the model's recorded names, made safe to print. */
import { describe, expect, it } from "vitest";
import { formatPredictions } from "../../src/deploy/predict.js";

describe("formatPredictions with class names", () => {
  it("prints names for the class, the true label and the top-k, control characters escaped", () => {
    const text = formatPredictions({
      model: "m.onnx",
      temperature: 1,
      numClasses: 2,
      classNames: ["cat", "dog\t\u001b[2J"],
      predictions: [
        {
          source: "x.csv[0]",
          class: 1,
          label: 0,
          top: [
            { class: 1, prob: 0.75 },
            { class: 0, prob: 0.25 },
          ],
        },
      ],
      accuracy: { right: 0, total: 1 },
    });
    expect(text.split("\n")[0]).toBe(
      "x.csv[0]\tdog\\x09\\x1b[2J (label cat)\tdog\\x09\\x1b[2J: 0.7500  cat: 0.2500",
    );
  });
});
