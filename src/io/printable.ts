/**
 * Text that quotes files (names, header values, messages naming them) made safe for a terminal: control
 * characters are shown as \xNN or \uNNNN, so a crafted file name or SeriesDescription cannot send escape
 * sequences (recolour the terminal, set its title) or, in `oneLineSafe`, fake a line of output.
 */
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;
const escape = (c: string): string => {
  const n = c.charCodeAt(0);
  return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
};

/** Line breaks and tabs kept, every other control character escaped. */
export function printable(text: string): string {
  return text.replace(CONTROLS, escape);
}

/** One line: line breaks escaped as well. */
export function oneLineSafe(text: string): string {
  return printable(text).replace(/[\n]/g, escape);
}
