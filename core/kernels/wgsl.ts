/** Small WGSL helpers shared by kernel generators. */

/** Threads per workgroup for 1-D kernels. */
export const WG = 256;

/** Declares the uniform block `meta` of `n` u32 words at binding 0. */
export function metaDecl(words: number): string {
  const vecs = Math.max(1, Math.ceil(words / 4));
  return `struct Meta { v: array<vec4<u32>, ${vecs}> }\n@group(0) @binding(0) var<uniform> params_: Meta;\n`;
}

/** WGSL expression reading u32 word `i` of `meta` (i known when generating). */
export function metaAt(i: number): string {
  return `params_.v[${i >> 2}].${"xyzw"[i & 3]}`;
}

/** Entry-point header giving `gi`, the flat thread index over a 2-D grid of 1-D workgroups. */
export function flatMain(wg: number = WG): string {
  return `@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gi = gid.x + gid.y * nwg.x * ${wg}u;`;
}

/** Math helpers WGSL lacks (erf, a pow that handles negative bases like PyTorch). */
export const MATH_HELPERS = `
fn erf_(x: f32) -> f32 {
  // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)
  let s = sign(x);
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return s * y;
}
fn pow_(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (a == 0.0) { return select(0.0, bitcast<f32>(0x7f800000u), b < 0.0); }
  if (a < 0.0) {
    if (b != floor(b)) { return bitcast<f32>(0x7fc00000u); }
    let r = pow(-a, b);
    return select(r, -r, (i32(b) & 1) == 1);
  }
  return pow(a, b);
}
fn log1p_(x: f32) -> f32 {
  let u = 1.0 + x;
  if (u == 1.0) { return x; }
  return log(u) * x / (u - 1.0);
}
`;
