/**
 * A number written in decimal (`12`, `-0.5`, `1e3`), else NaN. Command-line values and spacing strings go
 * through this rather than Number(), which also takes `0x10`, `0b1`, `Infinity` and an empty string (as 0).
 */
export function decimal(text: string): number {
  return /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text.trim()) ? Number(text) : NaN;
}
