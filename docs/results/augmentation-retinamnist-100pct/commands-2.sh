#!/bin/bash
# #17 study, RetinaMNIST 100 %, second queue (started beside commands.sh, runs after it): the ratio-0.5 arms (540 of
# the 1,080 samples; 3 epochs of 1,620 images = 303 steps, the nearest whole-epoch match to the other arms' 272),
# then the feature network (as in the 10 % study) and evaluate-generation for this generator.
cd /work/main && export XDG_RUNTIME_DIR=/tmp
R=/tmp/study5/runs; L=/tmp/study5/logs
while ! grep -q " done$" /tmp/study5/queue.log; do sleep 20; done
GEN=$(ls -d $R/gen100-retina-* | tail -1)
COMMON="--config configs/resnet18-retinamnist.yaml --train.batchSize 16 --train.lrSchedule warmup-cosine --train.warmupFraction 0.1 --train.validateEvery 1 --train.logEvery 10 --output.root $R"
S="--data.syntheticPath /tmp/study5/synthetic"
source scripts/study_arm.sh # arm <name> <seed> [options]: train-classifier with $COMMON, then evaluate
for seed in 0 1 2; do arm syn05 $seed $S --data.syntheticRatio 0.5 --train.epochs 3; done
generation_metrics feat-retina /tmp/study5/synthetic --config configs/resnet18-retinamnist.yaml --train.epochs 5
echo "$(date +%T) done"
