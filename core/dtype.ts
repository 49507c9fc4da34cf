/** Element types a tensor can hold. `bool` is stored as one u32 per element. */
export type DType = "float32" | "int32" | "bool";

/** Any of the typed arrays `data()` can return. */
export type TensorData = Float32Array | Int32Array | Uint8Array;

/** WGSL scalar type used to store each dtype in a storage buffer. */
export const storageType: Record<DType, "f32" | "i32" | "u32"> = {
  float32: "f32",
  int32: "i32",
  bool: "u32",
};

const rank: Record<DType, number> = { bool: 0, int32: 1, float32: 2 };

/** PyTorch-style type promotion for binary ops: bool < int32 < float32. */
export function promoteTypes(a: DType, b: DType): DType {
  return rank[a] >= rank[b] ? a : b;
}

/** Checks a user-supplied dtype name, naming the argument on failure. */
export function checkDType(d: unknown, where: string): DType {
  if (d === "float32" || d === "int32" || d === "bool") return d;
  throw new TypeError(
    `${where}: unsupported dtype ${JSON.stringify(d)}; expected "float32", "int32" or "bool"`,
  );
}
