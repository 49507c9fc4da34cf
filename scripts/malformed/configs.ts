/**
 * YAML and training-config cases: syntax errors, an alias bomb, numbers without bounds, wrong
 * types, and configs whose data is bad. `config` cases are loaded with the DDPM task's schema;
 * `train` cases run `deno task train --config <file>` in a child process, which must exit with
 * one clear line (2 for a bad config, 1 for bad data) and no stack trace.
 * @module
 */
import type { CorpusWriter } from "./case.ts";

/** Writes the config cases under `configs/`. */
export async function configCases(w: CorpusWriter): Promise<void> {
  const c = (name: string, text: string, defect: string, expect: "ok" | "ConfigError") =>
    w.file(`configs/${name}`, text, { reader: "config", defect, expect });
  const base = "data:\n  dataset: procedural\n  length: 64\n  imageSize: 16\ntrain:\n  epochs: 1\n  batchSize: 8\n";
  await c("valid.yaml", base, "valid", "ok");
  const lol = ["a: &a [x, x, x, x, x, x, x, x, x]"];
  for (let i = 1; i < 10; i++) {
    const p = String.fromCharCode(97 + i - 1);
    const q = String.fromCharCode(97 + i);
    lol.push(`${q}: &${q} [*${p}, *${p}, *${p}, *${p}, *${p}, *${p}, *${p}, *${p}, *${p}]`);
  }
  await c("alias_bomb.yaml", lol.join("\n") + "\n", "billion laughs (9 levels of 9 aliases)", "ConfigError");
  await c("syntax_error.yaml", "train:\n  epochs: [1, 2\n  lr: 0.1\n", "unclosed flow sequence", "ConfigError");
  await c("tabs.yaml", "train:\n\tepochs: 2\n", "tab indentation", "ConfigError");
  await c("duplicate_key.yaml", "train:\n  epochs: 2\n  epochs: 3\n", "key given twice", "ConfigError");
  await c("top_level_list.yaml", "- train\n- epochs\n", "top level is a list", "ConfigError");
  await c("lr_inf.yaml", "train:\n  lr: .inf\n", "train.lr = .inf", "ConfigError");
  await c("lr_nan.yaml", "train:\n  lr: .nan\n", "train.lr = .nan", "ConfigError");
  await c("lr_negative.yaml", "train:\n  lr: -0.1\n", "negative learning rate", "ConfigError");
  await c("batch_1e20.yaml", "train:\n  batchSize: 1e20\n", "train.batchSize = 1e20", "ConfigError");
  await c("batch_fraction.yaml", "train:\n  batchSize: 2.5\n", "train.batchSize = 2.5", "ConfigError");
  await c("epochs_1e300.yaml", "train:\n  epochs: 1e300\n", "train.epochs = 1e300", "ConfigError");
  await c("epochs_string.yaml", "train:\n  epochs: ten\n", "train.epochs = 'ten'", "ConfigError");
  await c("unknown_key.yaml", "train:\n  epoch: 3\n", "misspelt key", "ConfigError");
  await c("unknown_section.yaml", "trian:\n  epochs: 3\n", "misspelt section", "ConfigError");
  await c("seed_huge.yaml", "seed: 1e300\n", "seed = 1e300", "ConfigError");
  await c("ema_above_one.yaml", "train:\n  emaDecay: 1.5\n", "EMA decay 1.5", "ConfigError");
  await c("empty.yaml", "", "empty file (all defaults)", "ok");

  // Whole runs: each must stop with one line, before a run folder holds anything.
  const t = (name: string, text: string, defect: string, exitCode: number, names = `configs/${name}`) =>
    w.file(`configs/${name}`, text, {
      reader: "train",
      defect,
      expect: exitCode === 2 ? "ConfigError" : "DatasetError",
      exitCode,
      names,
    });
  await t("run_alias_bomb.yaml", lol.join("\n") + "\n", "train task given the alias bomb", 2);
  await t("run_batch_over_data.yaml", base.replace("batchSize: 8", "batchSize: 1000"), "batch 1000 from 64 images", 2);
  await t("run_lr_inf.yaml", base + "  lr: .inf\n", "train task given lr .inf", 2);
  await t(
    "run_stray_label.yaml",
    `data:\n  dataset: medmnist\n  path: ${w.dir}/npz/stray_label_200.npz\ntrain:\n  epochs: 1\n  batchSize: 4\n`,
    "train task on an .npz with a stray label",
    1,
    "npz/stray_label_200.npz",
  );
  await t(
    "run_missing_data.yaml",
    `data:\n  dataset: medmnist\n  path: ${w.dir}/npz/does_not_exist.npz\n`,
    "train task on a missing file (a config error: data.path names no file)",
    2,
    "npz/does_not_exist.npz",
  );
}
