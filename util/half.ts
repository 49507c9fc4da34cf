/** IEEE 754 binary16 decoding, shared by the file readers (safetensors, .npy). */

/** The value of an IEEE 754 binary16 bit pattern (for reading f16 data from files). */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}
