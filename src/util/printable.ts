/** Text from files made safe to print: control characters shown as \xNN. */

/** One line with control characters shown as \xNN, so text from a file cannot break it or drive the terminal. */
export function printable(s: string): string {
  let out = "";
  for (const c of s) {
    const code = c.charCodeAt(0);
    out += code < 0x20 || (code >= 0x7f && code < 0xa0) ? `\\x${code.toString(16).padStart(2, "0")}` : c;
  }
  return out;
}

/** Several lines of text from a file (a report table), each made printable; the line breaks stay. */
export function printableLines(s: string): string {
  return s.split("\n").map(printable).join("\n");
}
