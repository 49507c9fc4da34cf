#!/bin/bash
# #18 demonstration on AdrenalMNIST3D 64³ (1,188 train / 98 val / 298 test volumes; normal vs mass), sized for the
# 2-core CPU machine: prepared in session 17 (2026-12-08) from step times measured there, NOT YET RUN. On a quiet
# machine it should take about 3 h (estimates beside each step, from steps timed beside other jobs; measured ones
# replace them when it has run): start it first thing in a session, with nothing else running.
#   bash docs/results/adrenalmnist3d-demo/commands.sh /tmp/adrenal   # runs and logs under the given folder
set -u
cd "$(dirname "$0")/../../.." && export XDG_RUNTIME_DIR=/tmp
W=${1:-/tmp/adrenal}; R=$W/runs; L=$W/logs; mkdir -p "$R" "$L"
DATA=../shared/data/medmnist/adrenalmnist3d_64.npz
step() { echo "$(date +%T) $1"; }
newest() { ls -d "$R/$1"-* | tail -1; }

# 1. The VAE (configs/vae3d-adrenalmnist3d.yaml: widths 16/32/64, 4×16³ latents) on random 32³ crops, as MAISI trains
#    on patches; validation, test and encoding on whole 64³ volumes. 3.2 s a step beside three other jobs on the 2
#    cores (alone perhaps 1.2 s), 1,188 steps an epoch: ~50 min for 2 epochs alone.
step "train-vae"
deno task train-vae --config configs/vae3d-adrenalmnist3d.yaml --train.patchSize=[32,32,32] --train.epochs 2 \
  --name vae-adrenal --output.root "$R" > "$L/vae.log" 2>&1; echo "rc $?"
VAE=$(newest vae-adrenal)
deno task evaluate --run "$VAE" > "$L/vae_eval.log" 2>&1; echo "rc $?" # test L1 / PSNR / SSIM, bootstrap CIs
# 2. Latents of every split (~1 s a volume: ~25 min).
step "encode-latents"
deno task encode-latents --vae "$VAE" > "$L/encode.log" 2>&1; echo "rc $?"
# 3. DiT3D, CPU-sized: 6 blocks 192 wide, 6 heads, 4×4×4 patches (a 4³ token grid), blocks 0, 2, 4 attending in 2×2×2
#    windows, the others globally; batch 8 (149 steps an epoch, ~1.2 s a step): 12 epochs ~40 min.
step "train-dit3d"
deno task train-dit3d --config configs/dit3d-adrenalmnist3d.yaml --latents "$VAE/latents" --model.depth 6 \
  --model.hiddenSize 192 --model.numHeads 6 --model.patchSize=[4,4,4] --model.windowSize=[2,2,2] \
  --model.windowBlocks=[0,2,4] --train.epochs 12 --train.validateEvery 3 --train.checkpointEvery 3 \
  --name dit-adrenal --output.root "$R" > "$L/dit.log" 2>&1; echo "rc $?"
DIT=$(newest dit-adrenal)
# 4. 128 volumes per label, 50 DDIM steps, guidance 3 (the config's): NIfTI + mid-slice PNGs (~15 min).
step "sample-3d"
deno task sample-3d --run "$DIT" --count 128 --batch-size 16 > "$L/sample.log" 2>&1; echo "rc $?"
# 5. Per-slice Fréchet distances: a 2-D ResNet-18 on the middle eighth of the axial slices of the real training volumes
#    (8 a volume, 9,504 in all; the ImageNet stem, as 64² slices are too large for the small-input stem on a CPU), then
#    evaluate-3d (generated vs real test volumes per axis, real training volumes as the floor).
step "slice feature network"
deno task train-classifier --config configs/classifier-breastmnist.yaml --data.path $DATA --data.sliceAxis 0 \
  --data.sliceFraction 0.125 --model.smallInput false --train.epochs 3 --name slices-adrenal --output.root "$R" \
  > "$L/slices.log" 2>&1; echo "rc $?"
step "evaluate-3d"
deno task evaluate-3d --volumes "$DIT/samples-3d" --features "$(newest slices-adrenal)" > "$L/eval3d.log" 2>&1
echo "rc $?"
# 6. The downstream test: a 3-D ResNet-18 (base width 16) on real volumes, real + synthetic (0.2 synthetic per real
#    image: 238 of the 256 generated an epoch), synthetic only; tested on the real test split (accuracy, AUROC with
#    bootstrap CIs). The ImageNet stem (stride 2 and max-pooling: 16³ after it) keeps a 64³ step affordable here: 9.7 s
#    a batch of 8 beside three other jobs (perhaps 3–4 s alone), 149 steps an epoch; 2 epochs an arm, ~1 h for three.
COMMON="--config configs/classifier-breastmnist.yaml --data.path $DATA --model.baseWidth 16 --model.smallInput false \
  --train.batchSize 8 --train.epochs 2 --output.root $R"
for arm in real syn02 synonly; do
  case $arm in
    real) extra=() ;;
    syn02) extra=(--data.syntheticPath "$DIT/samples-3d" --data.syntheticRatio 0.2) ;;
    synonly) extra=(--data.syntheticPath "$DIT/samples-3d" --data.syntheticOnly true) ;;
  esac
  step "classifier $arm"
  # shellcheck disable=SC2086
  deno task train-classifier $COMMON --name cls3d-$arm "${extra[@]}" > "$L/cls_$arm.log" 2>&1; echo "rc $?"
  deno task evaluate --run "$(newest cls3d-$arm)" > "$L/cls_eval_$arm.log" 2>&1; echo "rc $?"
done
step "done"
