/**
 * The MedMNIST v2 / MedMNIST+ table (Yang et al., Scientific Data 10, 41, 2023): every
 * dataset's task, class names, channels, split sizes and file MD5s as in the official
 * `medmnist` package's INFO (v3 release), and the release's file names and download URLs.
 * @module
 */
import { basename } from "node:path";

/** A MedMNIST split. */
export type MedMnistSplit = "train" | "val" | "test";

/** A MedMNIST task as the official INFO names it (ChestMNIST's "multi-label, binary-class" is `multi-label`). */
export type MedMnistTask = "multi-class" | "binary-class" | "multi-label" | "ordinal-regression";

/** Facts about one MedMNIST dataset. */
export interface MedMnistInfo {
  /** The dataset flag, e.g. `"retinamnist"` (also the file-name stem). */
  name: string;
  /** The task. */
  task: MedMnistTask;
  /** Class names by index (label columns, for the multi-label ChestMNIST). */
  classes: readonly string[];
  /** Image channels (1 or 3; the 3D sets are 1). */
  channels: 1 | 3;
  /** Whether samples are 3D volumes. */
  is3d: boolean;
  /** Samples per split in the official release (v3). */
  samples: Readonly<Record<MedMnistSplit, number>>;
  /** MD5 of `<name>.npz` (size 28) and `<name>_<size>.npz`, by image size. */
  md5: Readonly<Record<number, string>>;
  /** Data licence. */
  license: string;
}

const ORGANS = [
  "bladder",
  "femur-left",
  "femur-right",
  "heart",
  "kidney-left",
  "kidney-right",
  "liver",
  "lung-left",
  "lung-right",
  "pancreas",
  "spleen",
];

function entry(
  name: string,
  task: MedMnistTask,
  channels: 1 | 3,
  classes: string[],
  samples: [number, number, number],
  md5: string[],
  license = "CC BY 4.0",
): MedMnistInfo {
  const is3d = name.endsWith("3d");
  const sizes = is3d ? [28, 64] : [28, 64, 128, 224];
  return Object.freeze({
    name,
    task,
    classes: Object.freeze(classes),
    channels,
    is3d,
    samples: Object.freeze({ train: samples[0], val: samples[1], test: samples[2] }),
    md5: Object.freeze(Object.fromEntries(md5.map((m, i) => [sizes[i], m]))),
    license,
  });
}

/**
 * The MedMNIST datasets (v2 names, v3/MedMNIST+ release on Zenodo record 10519652): task, class
 * names, channels, split sizes and the MD5 of every file size, as in the `medmnist` package's
 * INFO table.
 */
export const MEDMNIST_INFO: Readonly<Record<string, MedMnistInfo>> = Object.freeze(
  // No prototype: a file named constructor.npz must not find Object's members.
  Object.assign(
    Object.create(null) as Record<string, MedMnistInfo>,
    Object.fromEntries(
      [
        entry(
          "pathmnist",
          "multi-class",
          3,
          [
            "adipose",
            "background",
            "debris",
            "lymphocytes",
            "mucus",
            "smooth muscle",
            "normal colon mucosa",
            "cancer-associated stroma",
            "colorectal adenocarcinoma epithelium",
          ],
          [89996, 10004, 7180],
          [
            "a8b06965200029087d5bd730944a56c1",
            "55aa9c1e0525abe5a6b9d8343a507616",
            "ac42d08fb904d92c244187169d1fd1d9",
            "2c51a510bcdc9cf8ddb2af93af1eadec",
          ],
        ),
        entry(
          "chestmnist",
          "multi-label",
          1,
          [
            "atelectasis",
            "cardiomegaly",
            "effusion",
            "infiltration",
            "mass",
            "nodule",
            "pneumonia",
            "pneumothorax",
            "consolidation",
            "edema",
            "emphysema",
            "fibrosis",
            "pleural",
            "hernia",
          ],
          [78468, 11219, 22433],
          [
            "02c8a6516a18b556561a56cbdd36c4a8",
            "9de6cd0b934ebb5b7426cfba5efbae16",
            "db107e5590b27930b62dbaf558aebee3",
            "45bd33e6f06c3e8cdb481c74a89152aa",
          ],
        ),
        entry(
          "dermamnist",
          "multi-class",
          3,
          [
            "actinic keratoses and intraepithelial carcinoma",
            "basal cell carcinoma",
            "benign keratosis-like lesions",
            "dermatofibroma",
            "melanoma",
            "melanocytic nevi",
            "vascular lesions",
          ],
          [7007, 1003, 2005],
          [
            "0744692d530f8e62ec473284d019b0c7",
            "b70a2f5635c6199aeaa28c31d7202e1f",
            "2defd784463fa5243564e855ed717de1",
            "8974907d8e169bef5f5b96bc506ae45d",
          ],
          "CC BY-NC 4.0",
        ),
        entry(
          "octmnist",
          "multi-class",
          1,
          [
            "choroidal neovascularization",
            "diabetic macular edema",
            "drusen",
            "normal",
          ],
          [97477, 10832, 1000],
          [
            "c68d92d5b585d8d81f7112f81e2d0842",
            "e229e9440236b774d9f0dfef9d07bdaf",
            "0a97e76651ace45c5d943ee3f65b63ae",
            "abc493b6d529d5de7569faaef2773ba3",
          ],
        ),
        entry("pneumoniamnist", "binary-class", 1, ["normal", "pneumonia"], [4708, 524, 624], [
          "28209eda62fecd6e6a2d98b1501bb15f",
          "8f4eceb4ccffa70c672198ea285246c6",
          "05b46931834c231683c68f40c47b2971",
          "d6a3c71de1b945ea11211b03746c1fe1",
        ]),
        entry("retinamnist", "ordinal-regression", 3, ["0", "1", "2", "3", "4"], [1080, 120, 400], [
          "bd4c0672f1bba3e3a89f0e4e876791e4",
          "afda852cc34dcda56f86ad2b2457dbcc",
          "e48e916a24454daf90583d4e6efb1a18",
          "eae7e3b6f3fcbda4ae613ebdcbe35348",
        ]),
        entry("breastmnist", "binary-class", 1, ["malignant", "normal, benign"], [546, 78, 156], [
          "750601b1f35ba3300ea97c75c52ff8f6",
          "742edef2a1fd1524b2efff4bd7ba9364",
          "363e4b3f8d712e9b5de15470a2aaadf1",
          "b56378a6eefa9fed602bb16d192d4c8b",
        ]),
        entry(
          "bloodmnist",
          "multi-class",
          3,
          [
            "basophil",
            "eosinophil",
            "erythroblast",
            "immature granulocytes(myelocytes, metamyelocytes and promyelocytes)",
            "lymphocyte",
            "monocyte",
            "neutrophil",
            "platelet",
          ],
          [11959, 1712, 3421],
          [
            "7053d0359d879ad8a5505303e11de1dc",
            "2b94928a2ae4916078ca51e05b6b800b",
            "adace1e0ed228fccda1f39692059dd4c",
            "b718ff6835fcbdb22ba9eacccd7b2601",
          ],
        ),
        entry(
          "tissuemnist",
          "multi-class",
          1,
          [
            "Collecting Duct, Connecting Tubule",
            "Distal Convoluted Tubule",
            "Glomerular endothelial cells",
            "Interstitial endothelial cells",
            "Leukocytes",
            "Podocytes",
            "Proximal Tubule Segments",
            "Thick Ascending Limb",
          ],
          [165466, 23640, 47280],
          [
            "ebe78ee8b05294063de985d821c1c34b",
            "123ece2eba09d0aa5d698fda57103344",
            "61b955355d7425a89687b06cca3ce0c2",
            "b077128c4a949f0a4eb01517f9037b9c",
          ],
        ),
        entry("organamnist", "multi-class", 1, [...ORGANS], [34561, 6491, 17778], [
          "68e3f8846a6bd62f0c9bf841c0d9eacc",
          "2dcccc29b88e6da5a01161ef20cda288",
          "eeae80d0a227a8d099027e1b3cfd3b60",
          "50747347e05c87dd3aaf92c49f9f3170",
        ]),
        entry("organcmnist", "multi-class", 1, [...ORGANS], [12975, 2392, 8216], [
          "b9ceb9546e10131b32923c5bbeaea2b1",
          "3ce34a8724ea6f548e6db4744d03b6a9",
          "773c1f009daa3fe5d9a2a201b2a7ed94",
          "050f5e875dc056f6768abf94ec9995d1",
        ]),
        entry("organsmnist", "multi-class", 1, [...ORGANS], [13932, 2452, 8827], [
          "9ab87b696fb54e2a387ebe992d6ed5f1",
          "53a6d115339d874c25e309a994ff46d3",
          "ded0c5fa01a95dc4978b956f613e9b8e",
          "b354719e553fbbb2513d5533f52a4cb1",
        ]),
        // OrganMNIST3D orders its organs differently from Organ{A,C,S}MNIST.
        entry(
          "organmnist3d",
          "multi-class",
          1,
          [
            "liver",
            "kidney-right",
            "kidney-left",
            "femur-right",
            "femur-left",
            "bladder",
            "heart",
            "lung-right",
            "lung-left",
            "spleen",
            "pancreas",
          ],
          [971, 161, 610],
          ["a0c5a1ff56af4f155c46d46fbb45a2fe", "58a2205adf14a9d0a189cb06dc78bf10"],
        ),
        entry("nodulemnist3d", "binary-class", 1, ["benign", "malignant"], [1158, 165, 310], [
          "8755a7e9e05a4d9ce80a24c3e7a256f3",
          "c47c5b7d457bf6332200d2ea6d64ecd8",
        ]),
        entry("adrenalmnist3d", "binary-class", 1, ["normal", "hyperplasia"], [1188, 98, 298], [
          "bbd3c5a5576322bc4cdfea780653b1ce",
          "17721accfe9fb005146a47d33bc54b2f",
        ]),
        entry(
          "fracturemnist3d",
          "multi-class",
          1,
          [
            "buckle rib fracture",
            "nondisplaced rib fracture",
            "displaced rib fracture",
          ],
          [1027, 103, 240],
          ["6aa7b0143a6b42da40027a9dda61302f", "f01d7e6316aedf4210da0da5b7437b42"],
        ),
        entry("vesselmnist3d", "binary-class", 1, ["vessel", "aneurysm"], [1335, 191, 382], [
          "b41fd4f7e7e2feedddb201585ecafa1b",
          "6bb274a8846e1097066dcd64e2c4520f",
        ]),
        entry("synapsemnist3d", "binary-class", 1, ["inhibitory synapse", "excitatory synapse"], [1230, 177, 352], [
          "1235b78a3cd6280881dd7850a78eadb6",
          "43bd14ebf3af9d3dd072446fedc14d5e",
        ]),
      ].map((i) => [i.name, i]),
    ),
  ),
);

/** The Zenodo record of the MedMNIST v3 / MedMNIST+ release. */
export const MEDMNIST_RECORD_URL = "https://zenodo.org/records/10519652";

/** The INFO entry of `name`; a RangeError naming `op` and the known names otherwise. */
export function medmnistInfoFor(name: string, op: string): MedMnistInfo {
  const info = MEDMNIST_INFO[name];
  if (!info) {
    throw new RangeError(`${op}: unknown MedMNIST dataset "${name}" (known: ${Object.keys(MEDMNIST_INFO).join(", ")})`);
  }
  return info;
}

/** Throws a RangeError naming `op` unless `info`'s release has images of `size`. */
export function checkMedMnistSize(info: MedMnistInfo, size: number, op: string): void {
  if (!(size in info.md5)) {
    throw new RangeError(`${op}: ${info.name} comes in sizes ${Object.keys(info.md5).join(", ")}, not ${size}`);
  }
}

/** The release's file name: `<name>.npz` for size 28, `<name>_<size>.npz` otherwise. */
export function medmnistFileName(name: string, size = 28): string {
  checkMedMnistSize(medmnistInfoFor(name, "medmnistFileName"), size, "medmnistFileName");
  return size === 28 ? `${name}.npz` : `${name}_${size}.npz`;
}

/** The official download URL of a MedMNIST file (Zenodo record 10519652). */
export function medmnistUrl(name: string, size = 28): string {
  return `${MEDMNIST_RECORD_URL}/files/${medmnistFileName(name, size)}?download=1`;
}

/** Dataset name and image size from a file name such as `adrenalmnist3d_64.npz`, when it is a known MedMNIST file. */
export function parseMedMnistFileName(path: string): { name: string; size: number } | undefined {
  const m = /^([a-z0-9]+?)(?:_(\d+))?\.npz$/i.exec(basename(path));
  if (!m) return undefined;
  const name = m[1].toLowerCase();
  const size = m[2] ? Number(m[2]) : 28;
  const info = MEDMNIST_INFO[name];
  return info && size in info.md5 ? { name, size } : undefined;
}
