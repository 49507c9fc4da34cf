/**
 * One level of the orthonormal 2D Haar wavelet transform and its inverse, composed of view ops
 * and one 4×4 matmul (so autograd comes for free). (B, C, H, W) with even H and W becomes
 * (B, 4C, H/2, W/2), bands first: channels [0, C) are the low-pass LL image, then the detail
 * bands LH, HL and HH, C channels each. Per 2×2 block with pixels a b / c d:
 * LL = (a + b + c + d)/2, LH = (a − b + c − d)/2, HL = (a + b − c − d)/2, HH = (a − b − c + d)/2.
 * The mixing matrix is symmetric and orthogonal, so the inverse applies it again.
 */
import { scope } from "../scope.ts";
import { fmtShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { tensor } from "./creation.ts";
import { matmul } from "./matmul.ts";
import { permute, reshape } from "./view.ts";

/** Rows: LL, LH, HL, HH; columns: the block's pixels a (0,0), b (0,1), c (1,0), d (1,1). */
const HAAR = [
  [0.5, 0.5, 0.5, 0.5],
  [0.5, -0.5, 0.5, -0.5],
  [0.5, 0.5, -0.5, -0.5],
  [0.5, -0.5, -0.5, 0.5],
];

function check(x: Tensor, op: string, what: string): void {
  x.assertLive(op);
  if (x.ndim !== 4) throw new RangeError(`${op}: expected (B, C, H, W), got ${fmtShape(x.shape)}`);
  if (what === "even" && (x.shape[2] % 2 !== 0 || x.shape[3] % 2 !== 0)) {
    throw new RangeError(`${op}: height and width must be even, got ${fmtShape(x.shape)}`);
  }
  if (what === "bands" && x.shape[1] % 4 !== 0) {
    throw new RangeError(`${op}: channels must be a multiple of 4 (four bands), got ${fmtShape(x.shape)}`);
  }
}

/** The one-level Haar transform: (B, C, H, W) → (B, 4C, H/2, W/2), bands LL, LH, HL, HH. */
export function haarDwt2d(x: Tensor): Tensor {
  check(x, "haarDwt2d", "even");
  const [B, C, H, W] = x.shape, h = H / 2, w = W / 2;
  return scope(() => {
    const blocks = permute(reshape(x, [B, C, h, 2, w, 2]), [0, 3, 5, 1, 2, 4]); // (B, dy, dx, C, h, w)
    const bands = matmul(tensor(HAAR), reshape(blocks, [B, 4, C * h * w]));
    return reshape(bands, [B, 4 * C, h, w]);
  });
}

/** The inverse of {@linkcode haarDwt2d}: (B, 4C, h, w) → (B, C, 2h, 2w). */
export function haarIdwt2d(y: Tensor): Tensor {
  check(y, "haarIdwt2d", "bands");
  const [B, C4, h, w] = y.shape, C = C4 / 4;
  return scope(() => {
    const pixels = matmul(tensor(HAAR), reshape(y, [B, 4, C * h * w])); // (B, a|b|c|d, C·h·w)
    const blocks = permute(reshape(pixels, [B, 2, 2, C, h, w]), [0, 3, 4, 1, 5, 2]); // (B, C, h, dy, w, dx)
    return reshape(blocks, [B, C, 2 * h, 2 * w]);
  });
}
