#!/bin/bash
# #17 study, RetinaMNIST at 10 % of the real training split (108 images, data.fractionSeed 0 in every run).
# The same protocol as ../augmentation-breastmnist-10pct (generator trained on the same share only; ≈ 70 optimizer
# steps per classifier arm; 3 seeds; validation and test real only).
cd /work/main && export XDG_RUNTIME_DIR=/tmp
R=/tmp/study3/runs; L=/tmp/demo3
# 1. The generator: configs/ddpm-retinamnist.yaml's conditional U-Net on the 108 images only.
echo "$(date +%T) generator"
deno task train --config configs/ddpm-retinamnist.yaml --seed 0 --data.fraction 0.1 --data.fractionSeed 0 --train.epochs 60 --train.batchSize 16 --train.lr 0.001 --train.emaDecay 0.995 --train.validateEvery 10 --train.checkpointEvery 10 --sample.perClass 4 --sample.steps 25 --name gen10-retina --output.root $R > $L/gen10.log 2>&1; echo "rc $?"
GEN=$(ls -d $R/gen10-retina-* | tail -1)
# 2. 44 samples per grade (220; ratio 2 draws 216 of them), 25 DDIM steps, guidance 3.
echo "$(date +%T) sample $GEN"
deno task sample --run $GEN --per-class 44 --steps 25 --out /tmp/study3/samples --images /tmp/study3/synthetic > $L/sample.log 2>&1; echo "rc $?"
# 3. Classifier arms, interleaved by seed so paired results arrive early.
COMMON="--config configs/resnet18-retinamnist.yaml --data.fraction 0.1 --data.fractionSeed 0 --train.batchSize 16 --train.lrSchedule warmup-cosine --train.warmupFraction 0.1 --train.validateEvery 1 --train.logEvery 5 --output.root $R"
S="--data.syntheticPath /tmp/study3/synthetic"
source scripts/study_arm.sh # arm <name> <seed> [options]: train-classifier with $COMMON, then evaluate
for seed in 0 1 2; do
  arm real $seed --train.epochs 10
  arm syn1 $seed $S --data.syntheticRatio 1 --train.epochs 5
  arm syn2 $seed $S --data.syntheticRatio 2 --train.epochs 3
  arm cas $seed $S --data.syntheticOnly true --train.epochs 5
done
# 4. The feature network for FD (ResNet-18 on the full training split, shortened), then the generation metrics.
generation_metrics feat-retina /tmp/study3/synthetic --config configs/resnet18-retinamnist.yaml --train.epochs 5
echo "$(date +%T) done"
