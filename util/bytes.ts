/**
 * Byte-buffer helpers every layer may use.
 * @module
 */

/** The bytes of `parts` (typed arrays of any element type, views respected) end to end, in one new array. */
export function concatBytes(...parts: ArrayBufferView[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
    at += p.byteLength;
  }
  return out;
}
