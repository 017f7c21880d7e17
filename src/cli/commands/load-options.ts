/** Flags that steer the dataset loaders (CSV label column, NPZ array names, image size and channels). */
import { type Command, InvalidArgumentError } from "commander";

export interface LoadFlags {
  labelColumn?: string;
  xKey?: string;
  yKey?: string;
  resize?: [number, number];
  channels?: 1 | 3;
}

/** "28x28" or "28" (square) as [height, width]. */
export function parseSize(v: string): [number, number] {
  const m = /^(\d+)(?:[xX×](\d+))?$/.exec(v.trim());
  const h = Number(m?.[1]);
  const w = Number(m?.[2] ?? m?.[1]);
  if (!m || h < 1 || w < 1 || h > 65536 || w > 65536)
    throw new InvalidArgumentError("expected a size like 28x28 (height x width) or 28");
  return [h, w];
}

export function addLoadOptions(cmd: Command): Command {
  return cmd
    .option(
      "--label-column <name|index>",
      "CSV: the label column, by name or 0-based index (default: label, else the last)",
    )
    .option("--x-key <name>", "NPZ: the array holding the features (default: x)")
    .option("--y-key <name>", "NPZ: the array holding the labels (default: y)")
    .option("--resize <HxW>", "images: resize to this size (default: the model's input size)", parseSize)
    .option("--channels <n>", "images: 1 (grayscale) or 3 (RGB)", (v: string) => {
      if (v !== "1" && v !== "3") throw new InvalidArgumentError("expected 1 or 3");
      return Number(v) as 1 | 3;
    });
}

/** The loader options the flags ask for (also the options of a spec's `file` data source). */
export function loadFlags(f: LoadFlags): Omit<LoadFlags, "labelColumn"> & { labelColumn?: string | number } {
  const col = f.labelColumn;
  return {
    ...(col !== undefined ? { labelColumn: /^\d+$/.test(col) ? Number(col) : col } : {}),
    ...(f.xKey ? { xKey: f.xKey } : {}),
    ...(f.yKey ? { yKey: f.yKey } : {}),
    ...(f.resize ? { resize: f.resize } : {}),
    ...(f.channels ? { channels: f.channels } : {}),
  };
}
