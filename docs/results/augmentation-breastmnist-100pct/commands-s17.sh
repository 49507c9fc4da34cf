#!/bin/bash
# #17 study, BreastMNIST at 100 %, re-run as one set on the current code (session 17, 2026-12-08; in progress — the
# figures in this folder and in the README are still session 15's). Session 16 changed one-input-channel convolutions
# (grayscale stems now take Winograd), so the BreastMNIST networks' arithmetic differs from session 15's.
# Same protocol as commands.sh; samples at batch 64 (the sampler's noise does not depend on the batch). Arms whose
# test metrics exist are skipped, so the queue can be started again after an interruption.
cd /work/main && export XDG_RUNTIME_DIR=/tmp
R=/tmp/study6/runs; L=/tmp/study6/logs; mkdir -p $R $L
if ! ls -d $R/gen100-breast-* > /dev/null 2>&1; then
  echo "$(date +%T) generator"
  deno task train --config configs/ddpm-breastmnist.yaml --seed 0 --train.epochs 12 --train.batchSize 16 --train.lr 0.001 --train.emaDecay 0.995 --train.validateEvery 2 --train.checkpointEvery 2 --name gen100-breast --output.root $R > $L/gen.log 2>&1; echo "rc $?"
fi
GEN=$(ls -d $R/gen100-breast-* | tail -1)
if [ "$(find /tmp/study6/synthetic -name '*.png' 2>/dev/null | wc -l)" -lt 560 ]; then
  echo "$(date +%T) sample $GEN"
  deno task sample --run $GEN --per-class 280 --steps 25 --batch-size 64 --out /tmp/study6/samples --images /tmp/study6/synthetic > $L/sample.log 2>&1; echo "rc $?"
fi
COMMON="--config configs/classifier-breastmnist.yaml --train.batchSize 16 --train.validateEvery 1 --train.logEvery 10 --output.root $R"
S="--data.syntheticPath /tmp/study6/synthetic"
source scripts/study_arm.sh # arm <name> <seed> [options]: train-classifier with $COMMON, then evaluate
done_arm() { ls $R/study-$1-s$2-*/eval-test/metrics.json > /dev/null 2>&1; }
for seed in 0 1 2; do
  done_arm real $seed || arm real $seed --train.epochs 8
  done_arm syn1 $seed || arm syn1 $seed $S --data.syntheticRatio 1 --train.epochs 4
  done_arm syn05 $seed || arm syn05 $seed $S --data.syntheticRatio 0.5 --train.epochs 5
done
generation_metrics cls-breast-resnet18 /tmp/study6/synthetic --config configs/classifier-breastmnist.yaml --seed 0
echo "$(date +%T) done"
