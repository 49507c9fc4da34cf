#!/bin/bash
# #17 study, RetinaMNIST at 100 % of the real training split (1,080 images), session 16 (2026-12-07), GL llvmpipe.
# The protocol of the 10 % study (../augmentation-retinamnist-10pct) and of BreastMNIST at 100 %
# (../augmentation-breastmnist-100pct): the generator trained on all the classifiers' real images, 216 samples per
# grade (1,080: ratio 1), classifiers at batch 16 with the optimizer steps matched across arms (268: 4 epochs of
# 1,080 real; 270: 2 of 2,160 images), best checkpoint by validation macro F1, seeds 0, 1, 2.
cd /work/main && export XDG_RUNTIME_DIR=/tmp
R=/tmp/study5/runs; L=/tmp/study5/logs
# 1. The generator: configs/ddpm-retinamnist.yaml's conditional U-Net, 5 epochs of batch 16 (340 steps; the 10 %
#    generator took 360 steps; this machine's session allows no more beside the classifier arms).
echo "$(date +%T) generator"
deno task train --config configs/ddpm-retinamnist.yaml --seed 0 --train.epochs 5 --train.batchSize 16 --train.lr 0.001 --train.emaDecay 0.995 --train.validateEvery 1 --train.checkpointEvery 1 --sample.perClass 4 --sample.steps 25 --name gen100-retina --output.root $R > $L/gen.log 2>&1; echo "rc $?"
GEN=$(ls -d $R/gen100-retina-* | tail -1)
# 2. 216 samples per grade, 25 DDIM steps, guidance 3 (the config's). This ran at the sampler's default batch, the
#    run's training batch of 16: 66 min; `--batch-size 64` makes it several times faster.
echo "$(date +%T) sample $GEN"
deno task sample --run $GEN --per-class 216 --steps 25 --out /tmp/study5/samples --images /tmp/study5/synthetic > $L/sample.log 2>&1; echo "rc $?"
# 3. Classifier arms, interleaved by seed so paired results arrive early.
COMMON="--config configs/resnet18-retinamnist.yaml --train.batchSize 16 --train.lrSchedule warmup-cosine --train.warmupFraction 0.1 --train.validateEvery 1 --train.logEvery 10 --output.root $R"
S="--data.syntheticPath /tmp/study5/synthetic"
source scripts/study_arm.sh # arm <name> <seed> [options]: train-classifier with $COMMON, then evaluate
for seed in 0 1 2; do
  arm real $seed --train.epochs 4
  arm syn1 $seed $S --data.syntheticRatio 1 --train.epochs 2
done
echo "$(date +%T) done"
