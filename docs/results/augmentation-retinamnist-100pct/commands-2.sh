#!/bin/bash
# #17 study, RetinaMNIST 100 %, second queue, as run in session 17 (2026-12-08) on the machine session 16 left: the
# ratio-0.5 arms (540 of the 1,080 samples; 3 epochs of 1,620 images = 303 steps, the nearest whole-epoch match to the
# other arms' 268–270) on session 16's samples — the set the ratio-1 arms used — then the feature network (as in the
# 10 % study) and evaluate-generation of session 16's generator. (A re-made generator, same command, reached the same
# best EMA validation loss, 0.11389, with weights equal to float rounding; it was not used.)
cd /work/main && export XDG_RUNTIME_DIR=/tmp
R=/tmp/study5/runs; L=/tmp/study5/logs
GEN=$R/gen100-retina-20261207-220726
COMMON="--config configs/resnet18-retinamnist.yaml --train.batchSize 16 --train.lrSchedule warmup-cosine --train.warmupFraction 0.1 --train.validateEvery 1 --train.logEvery 10 --output.root $R"
S="--data.syntheticPath /tmp/study5/synthetic"
source scripts/study_arm.sh # arm <name> <seed> [options]: train-classifier with $COMMON, then evaluate
for seed in 0 1 2; do arm syn05 $seed $S --data.syntheticRatio 0.5 --train.epochs 3; done
generation_metrics feat-retina /tmp/study5/synthetic --config configs/resnet18-retinamnist.yaml --train.epochs 5
echo "$(date +%T) done"
