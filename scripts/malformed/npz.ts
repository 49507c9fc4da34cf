/**
 * `.npz` cases: MedMNIST-shaped archives (train/val/test images and labels), then truncations,
 * bit flips, directories that lie about sizes, a DEFLATE bomb, malformed `.npy` members and
 * label sets that are not 0..K−1.
 * @module
 */
import { encodeNpy } from "../../util/formats/npy.ts";
import { concat, type CorpusWriter, flip } from "./case.ts";
import { deflateBombRaw, deflateBombSize } from "./compress.ts";
import { zip, type ZipMember } from "./zip.ts";

/** MedMNIST-like members: `n` 8×8 grey images per split, labels cycling through `classes`. */
function medmnistMembers(labels: (split: string) => number[], deflate = true): ZipMember[] {
  const members: ZipMember[] = [];
  for (const split of ["train", "val", "test"]) {
    const ys = labels(split);
    const images = new Uint8Array(ys.length * 64).map((_, i) => (i * 37) % 256);
    members.push({
      name: `${split}_images.npy`,
      data: encodeNpy({ dtype: "uint8", shape: [ys.length, 8, 8], data: images }),
      deflate,
    });
    members.push({
      name: `${split}_labels.npy`,
      data: encodeNpy({ dtype: "uint8", shape: [ys.length, 1], data: ys }),
      deflate,
    });
  }
  return members;
}

const cycle = (n: number, k: number): number[] => Array.from({ length: n }, (_, i) => i % k);

/** Writes the `.npz` cases under `npz/`. */
export async function npzCases(w: CorpusWriter, bombBytes: number): Promise<void> {
  const valid = zip(medmnistMembers(() => cycle(12, 4)));
  const stored = zip(medmnistMembers(() => cycle(12, 4), false));
  await w.file("npz/valid.npz", valid, { reader: "npz", defect: "valid (deflated)", expect: "ok" });
  await w.file("npz/valid_stored.npz", stored, { reader: "npz", defect: "valid (stored)", expect: "ok" });
  await w.file("npz/valid_medmnist_like.npz", valid, {
    reader: "medmnist",
    defect: "valid, unknown name, labels 0..3",
    expect: "ok",
  });
  await w.file("npz/empty.npz", new Uint8Array(0), { reader: "npz", defect: "zero bytes", expect: "DatasetError" });
  await w.file("npz/text.npz", "train_images,train_labels\n1,2\n", {
    reader: "npz",
    defect: "a CSV named .npz",
    expect: "DatasetError",
  });
  await w.file("npz/truncated_half.npz", valid.subarray(0, valid.length >> 1), {
    reader: "npz",
    defect: "cut in half",
    expect: "DatasetError",
  });
  await w.file("npz/truncated_eocd.npz", valid.subarray(0, valid.length - 10), {
    reader: "npz",
    defect: "end-of-directory record cut",
    expect: "DatasetError",
  });
  await w.file("npz/bitflip_deflated.npz", flip(valid, 60, 0x10), {
    reader: "npz",
    defect: "bit flipped in DEFLATE data",
    expect: "DatasetError",
  });
  await w.file("npz/bitflip_stored.npz", flip(stored, 200), {
    reader: "npz",
    defect: "bit flipped in a stored member (CRC-32)",
    expect: "DatasetError",
  });
  const onlyImages = medmnistMembers(() => cycle(12, 4)).filter((m) => !m.name.endsWith("labels.npy"));
  await w.file("npz/missing_labels.npz", zip(onlyImages), {
    reader: "medmnist",
    defect: "no *_labels arrays",
    expect: "DatasetError",
  });
  const short = medmnistMembers(() => cycle(12, 4));
  short[1] = {
    name: "train_labels.npy",
    data: encodeNpy({ dtype: "uint8", shape: [11, 1], data: cycle(11, 4) }),
    deflate: true,
  };
  await w.file("npz/label_count_mismatch.npz", zip(short), {
    reader: "medmnist",
    defect: "12 images, 11 labels",
    expect: "DatasetError",
  });

  // Directories and headers that lie about sizes.
  const tiny = encodeNpy({ dtype: "uint8", shape: [4], data: [1, 2, 3, 4] });
  await w.file(
    "npz/zip64_member_1tb.npz",
    zip([{ name: "x.npy", data: tiny, deflate: true, declaredSize: 2 ** 40, zip64: true }]),
    {
      reader: "npz",
      defect: "ZIP64 directory declares a 1 TB member",
      expect: "SizeLimitError",
    },
  );
  await w.file(
    "npz/member_declares_5gb.npz",
    zip([{ name: "x.npy", data: tiny, deflate: true, declaredSize: 5 * 2 ** 30, zip64: true }]),
    {
      reader: "npz",
      defect: "directory declares 5 GiB (over the default limit)",
      expect: "SizeLimitError",
    },
  );
  const bombHeader = encodeNpy({ dtype: "uint8", shape: [64], data: new Uint8Array(64) });
  await w.file(
    "npz/deflate_bomb.npz",
    zip([{ name: "x.npy", data: bombHeader, raw: concat(deflateBombRaw(bombBytes)), declaredSize: bombHeader.length }]),
    {
      reader: "npz",
      defect: `member declares ${bombHeader.length} bytes, inflates to ${deflateBombSize(bombBytes)}`,
      expect: "DatasetError",
    },
  );
  await w.file(
    "npz/deflate_bomb_honest.npz",
    zip([{
      name: "x.npy",
      data: new Uint8Array(0),
      raw: deflateBombRaw(bombBytes),
      declaredSize: deflateBombSize(bombBytes),
      declaredCrc: 0,
    }]),
    {
      reader: "npz",
      defect: `member honestly declares ${deflateBombSize(bombBytes)} bytes (over the test's limit)`,
      expect: "SizeLimitError",
    },
  );
  await w.file(
    "npz/wrong_declared_size.npz",
    zip([{ name: "x.npy", data: tiny, deflate: true, declaredSize: tiny.length + 7 }]),
    {
      reader: "npz",
      defect: "directory size 7 bytes larger than the member",
      expect: "DatasetError",
    },
  );

  // Malformed .npy members.
  const npyWith = (header: string, data = new Uint8Array(16)): Uint8Array => {
    const h = new TextEncoder().encode(header.padEnd(118) + "\n");
    const pre = new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 0xff, h.length >> 8]);
    return concat(pre, h, data);
  };
  const one = (
    name: string,
    npy: Uint8Array,
    defect: string,
    expect: "DatasetError" | "SizeLimitError" = "DatasetError",
  ) => w.file(`npz/${name}.npz`, zip([{ name: "x.npy", data: npy, deflate: true }]), { reader: "npz", defect, expect });
  await one("npy_bad_magic", concat(new TextEncoder().encode("NOTNUMPY"), new Uint8Array(64)), "member is not .npy");
  await one(
    "npy_header_garbage",
    npyWith("{'descr': '<f4', 'fortran_order': False, 'shape': (4,"),
    ".npy header dict unterminated",
  );
  await one(
    "npy_object_dtype",
    npyWith("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"),
    "object dtype (pickles)",
  );
  await one(
    "npy_complex_dtype",
    npyWith("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }"),
    "complex128 dtype",
  );
  await one(
    "npy_shape_past_data",
    npyWith("{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 1000), }"),
    "shape needs 4 MB, 16 bytes present",
  );
  await one(
    "npy_shape_huge",
    npyWith("{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000, 100), }"),
    "shape declares 8 TB",
    "SizeLimitError",
  );
  await one(
    "npy_negative_shape",
    npyWith("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }"),
    "negative dimension",
  );

  // Labels that are not 0..K-1.
  const stray = (split: string) => split === "train" ? [...cycle(11, 5), 200] : cycle(6, 5);
  await w.file("npz/stray_label_200.npz", zip(medmnistMembers(stray)), {
    reader: "medmnist",
    defect: "unknown name; one label 200 among 0..4",
    expect: "DatasetError",
  });
  const singleton = (split: string) => split === "train" ? [...cycle(10, 3), 3] : cycle(6, 3);
  await w.file("npz/singleton_class.npz", zip(medmnistMembers(singleton)), {
    reader: "medmnist",
    defect: "unknown name; class 3 has one example",
    expect: "DatasetError",
  });
  const gap = (split: string) => cycle(12, 3).map((y) => (y === 1 ? 5 : y)).concat(split === "test" ? [] : []);
  await w.file("npz/label_gap.npz", zip(medmnistMembers(gap)), {
    reader: "medmnist",
    defect: "labels 0, 2, 5 (gaps)",
    expect: "DatasetError",
  });
  await w.file("npz/retinamnist.npz", zip(medmnistMembers((s) => s === "val" ? [...cycle(5, 5), 7] : cycle(10, 5))), {
    reader: "medmnist",
    defect: "known set (RetinaMNIST, 5 classes) holding label 7",
    expect: "DatasetError",
  });
}
