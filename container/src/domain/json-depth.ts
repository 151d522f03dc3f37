/** Deepest nesting of arrays and objects accepted in a JSON body, by the Worker and the control server alike. */
export const MAX_JSON_DEPTH = 32;

/**
 * The deepest nesting of `[` and `{` outside strings: a scan, no recursion, so a body can be
 * refused for its depth before a parser recurses into it.
 */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92 /* \ */) i++;
      else if (ch === 34 /* " */) inString = false;
    } else if (ch === 34) inString = true;
    else if (ch === 91 /* [ */ || ch === 123 /* { */) max = Math.max(max, ++depth);
    else if (ch === 93 /* ] */ || ch === 125 /* } */) depth--;
  }
  return max;
}
