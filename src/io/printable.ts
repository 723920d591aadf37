/**
 * Text that quotes files (names, header values, messages naming them) made safe for a terminal: control
 * characters are shown as \uNNNN, so a crafted file name or SeriesDescription cannot send escape sequences
 * (recolour the terminal, set its title) or, in `oneLineSafe`, fake a line of output. The escape is JSON's own,
 * so `--json` output stays valid JSON with the same values.
 *
 * Escaped: C0 controls and DEL, and the C1 controls terminals act on (IND, NEL and RI move the cursor; DCS, SOS,
 * CSI, OSC, PM and APC start sequences). The other C1 code points are what UTF-8 text read as Latin-1 turns into,
 * and escaping them would only mangle it more. Also the Unicode bidirectional overrides and isolates (U+202A-202E,
 * U+2066-2069), which reorder what a terminal shows within a line (a file name that reads backwards).
 */
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f\u0084\u0085\u008d\u0090\u0098\u009b\u009d-\u009f\u202a-\u202e\u2066-\u2069]/g;
const escape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** Line breaks and tabs kept, every other control character escaped. */
export function printable(text: string): string {
  return text.replace(CONTROLS, escape);
}

/** One line or one field of it (a path, a name): line breaks and tabs escaped as well. */
export function oneLineSafe(text: string): string {
  return printable(text).replace(/[\n\t]/g, escape);
}
