/** Scalar helpers with NumPy's semantics, for host-side index arithmetic. */

/** NumPy's `round` (and PyTorch's): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x), d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}
