/** Durations in words for reports and progress lines: "12.3 s", "9 min 05 s", "2 h 14 min". */

/**
 * `sec` seconds to a tenth of a second under a minute, to the second under an hour, else to the
 * minute; `compact` drops the spaces and shortens the units ("9m05s", "2h14m"). Rounding happens
 * before the split, so 599.6 s reads "10 min 00 s", never "9 min 60 s".
 */
export function formatSeconds(sec: number, compact = false): string {
  const [s, min, h, gap] = compact ? ["s", "m", "h", ""] : [" s", " min", " h", " "];
  const pad = (n: number) => String(n).padStart(2, "0");
  const tenths = Math.round(sec * 10);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)}${s}`;
  const seconds = Math.round(sec);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}${min}${gap}${pad(seconds % 60)}${s}`;
  const minutes = Math.round(sec / 60);
  return `${Math.floor(minutes / 60)}${h}${gap}${pad(minutes % 60)}${min}`;
}
