#!/bin/bash
# #17 study, BreastMNIST at 100 % of the real training split (546 images), session 15 (2026-12-07), GL llvmpipe.
# The same protocol as the 10 % study (../augmentation-breastmnist-10pct): the generator trained on the classifiers'
# real images (here all of them), classifiers at batch 16 with the optimizer steps matched across arms (≈ 280: 8 epochs
# of 546 real, 5 of 819, 4 of 1,092 images), best checkpoint by validation macro F1, seeds 0, 1, 2.
cd /work/main && export XDG_RUNTIME_DIR=/tmp
R=/tmp/study4/runs; L=/tmp/study4/logs
echo "$(date +%T) generator"
deno task train --config configs/ddpm-breastmnist.yaml --seed 0 --train.epochs 12 --train.batchSize 16 --train.lr 0.001 --train.emaDecay 0.995 --train.validateEvery 2 --train.checkpointEvery 2 --name gen100-breast --output.root $R > $L/gen.log 2>&1; echo "rc $?"
GEN=$(ls -d $R/gen100-breast-* | tail -1)
echo "$(date +%T) sample $GEN"
deno task sample --run $GEN --per-class 280 --steps 25 --out /tmp/study4/samples --images /tmp/study4/synthetic > $L/sample.log 2>&1; echo "rc $?"
COMMON="--config configs/classifier-breastmnist.yaml --train.batchSize 16 --train.validateEvery 1 --train.logEvery 10 --output.root $R"
S="--data.syntheticPath /tmp/study4/synthetic"
source scripts/study_arm.sh # arm <name> <seed> [options]: train-classifier with $COMMON, then evaluate
# The queue that ran (session 15): the pairs that answer the question first, seed by seed, then the
# ratio-0.5 arms and the generation metrics (the first queue, in this order per seed with the features after
# seed 0, was stopped while sampling and replaced by this one; the generator and samples are the same).
while pgrep -f "meddiff.ts sample" > /dev/null; do sleep 15; done
for seed in 0 1 2; do
  arm real $seed --train.epochs 8
  arm syn1 $seed $S --data.syntheticRatio 1 --train.epochs 4
done
for seed in 0 1 2; do arm syn05 $seed $S --data.syntheticRatio 0.5 --train.epochs 5; done
generation_metrics cls-breast-resnet18 /tmp/study4/synthetic --config configs/classifier-breastmnist.yaml --seed 0
echo "$(date +%T) done"
