/**
 * Eigen-decomposition of a real symmetric matrix in float64: Householder reduction to
 * tridiagonal form, then the implicit QL iteration (the EISPACK `tred2`/`tql2` pair, as JAMA and
 * LAPACK's older drivers use). O(n³) with a small constant, so the 512×512 covariances of the
 * generation metrics decompose in well under a second. Internal to `metrics/`.
 * @module
 */

/** Eigenvalues (ascending) and, column `j` of the row-major `vectors`, the eigenvector of value `j`. */
export interface SymmetricEigen {
  /** Eigenvalues in ascending order. */
  values: Float64Array;
  /** Row-major n×n matrix whose columns are the unit eigenvectors. */
  vectors: Float64Array;
}

/**
 * Decomposes the symmetric row-major n×n matrix `a` (only read; symmetry is assumed, not
 * checked: the lower triangle is what is used).
 */
export function symmetricEigen(a: ArrayLike<number>, n: number): SymmetricEigen {
  if (!Number.isInteger(n) || n < 1 || a.length !== n * n) {
    throw new RangeError(`symmetricEigen: expected an n×n matrix (n ≥ 1), got ${a.length} values for n = ${n}`);
  }
  const v = Float64Array.from(a);
  const d = new Float64Array(n), e = new Float64Array(n);
  tridiagonalize(v, d, e, n);
  diagonalize(v, d, e, n);
  // Ascending order, vectors moved with their values.
  const order = Array.from(d.keys()).sort((i, j) => d[i] - d[j]);
  const values = Float64Array.from(order, (i) => d[i]);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    for (let r = 0; r < n; r++) vectors[r * n + dst] = v[r * n + src];
  });
  return { values, vectors };
}

/** Householder reduction: `v` becomes the orthogonal transform, `d`/`e` the diagonal and sub-diagonal. */
function tridiagonalize(v: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  const V = (r: number, c: number) => r * n + c;
  for (let j = 0; j < n; j++) d[j] = v[V(n - 1, j)];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0, h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = v[V(i - 1, j)];
        v[V(i, j)] = 0;
        v[V(j, i)] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        v[V(j, i)] = f;
        g = e[j] + v[V(j, j)] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += v[V(k, j)] * d[k];
          e[k] += v[V(k, j)] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) v[V(k, j)] -= f * e[k] + g * d[k];
        d[j] = v[V(i - 1, j)];
        v[V(i, j)] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate the transformations.
  for (let i = 0; i < n - 1; i++) {
    v[V(n - 1, i)] = v[V(i, i)];
    v[V(i, i)] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = v[V(k, i + 1)] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += v[V(k, i + 1)] * v[V(k, j)];
        for (let k = 0; k <= i; k++) v[V(k, j)] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) v[V(k, i + 1)] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = v[V(n - 1, j)];
    v[V(n - 1, j)] = 0;
  }
  v[V(n - 1, n - 1)] = 1;
  e[0] = 0;
}

/** Implicit QL on the tridiagonal (d, e), rotating `v` along: `d` ends as the eigenvalues. */
function diagonalize(v: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0, tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]) > eps * tst1) m++;
    if (m > l) {
      let iterations = 0;
      do {
        if (++iterations > 60) throw new Error("symmetricEigen: the QL iteration did not converge (NaN or Inf input?)");
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1, c2 = c, c3 = c, s = 0, s2 = 0;
        const el1 = e[l + 1];
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          for (let k = 0; k < n; k++) {
            const vk = k * n;
            h = v[vk + i + 1];
            v[vk + i + 1] = s * v[vk + i] + c * h;
            v[vk + i] = c * v[vk + i] - s * h;
          }
        }
        p = -s * s2 * c3 * el1 * e[l] / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
}
