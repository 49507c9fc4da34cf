/**
 * Texture extents that keep llvmpipe from recompiling a kernel: its compiled-shader key holds,
 * per bound texture, whether each side is a power of two, so one kernel met with textures of
 * both kinds compiles up to 2⁴ variants (25 s each for `texdot32` on a 2-core machine). Every
 * scratch texture is allocated with sides that are not powers of two, so each kernel compiles
 * once. The extra texel column or row is never read.
 */

/** The least m ≥ n that is not a power of two (n itself when that would exceed `max`). */
export function nonPowerOfTwo(n: number, max: number): number {
  let m = n;
  while ((m & (m - 1)) === 0) m++;
  return m <= max ? m : n;
}
