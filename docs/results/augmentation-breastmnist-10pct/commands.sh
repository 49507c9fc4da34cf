#!/bin/bash
# #17 study, BreastMNIST at 10 % of the real training split (55 images, data.fractionSeed 0 for every run).
# 1. The generator: the conditional U-Net of configs/ddpm-breastmnist.yaml trained on the same 55 images only.
cd /work/main && export XDG_RUNTIME_DIR=/tmp
deno task train --config configs/ddpm-breastmnist.yaml --seed 0 --data.fraction 0.1 --train.epochs 120 --train.batchSize 16 --train.lr 0.001 --train.emaDecay 0.995 --train.validateEvery 10 --train.checkpointEvery 10 --name gen10-breast --output.root /tmp/study2/runs
# 2. Samples, generation metrics, classifiers (the queue that ran):
export XDG_RUNTIME_DIR=/tmp
while pgrep -f "name gen10-breast" > /dev/null; do sleep 15; done
GEN=$(ls -d /tmp/study2/runs/gen10-breast-* | tail -1)
FEAT=/tmp/runs/cls-breast-resnet18-20261206-162823
echo "$(date +%T) sample $GEN"
deno task sample --run $GEN --per-class 60 --steps 25 --out /tmp/study2/samples --images /tmp/study2/synthetic > /tmp/demo2/sample.log 2>&1; echo "rc $?"
echo "$(date +%T) evaluate-generation"
deno task evaluate-generation --run $GEN --features $FEAT --images /tmp/study2/synthetic > /tmp/demo2/evalgen.log 2>&1; echo "rc $?"
COMMON="--config configs/classifier-breastmnist.yaml --data.fraction 0.1 --data.fractionSeed 0 --train.batchSize 16 --train.validateEvery 1 --train.logEvery 5 --output.root /tmp/study2/runs"
S="--data.syntheticPath /tmp/study2/synthetic"
arm() { # name seed args...
  local name=$1 seed=$2; shift 2
  echo "$(date +%T) train $name seed $seed"
  deno task train-classifier $COMMON --seed $seed --name study-$name-s$seed "$@" > /tmp/demo2/train_$name-$seed.log 2>&1; echo "rc $?"
  local r=$(ls -d /tmp/study2/runs/study-$name-s$seed-* | tail -1)
  deno task evaluate --run $r > /tmp/demo2/eval_$name-$seed.log 2>&1; echo "rc $?"
}
for seed in 0 1 2; do
  arm real $seed --train.epochs 20
  arm syn1 $seed $S --data.syntheticRatio 1 --train.epochs 10
  arm syn05 $seed $S --data.syntheticRatio 0.5 --train.epochs 12
  arm syn2 $seed $S --data.syntheticRatio 2 --train.epochs 6
  arm cas $seed $S --data.syntheticOnly true --train.epochs 9
done
for seed in 0 1 2; do arm syn1e20 $seed $S --data.syntheticRatio 1 --train.epochs 20; done
echo "$(date +%T) done"
# 3. The control for the epoch-matched arm, real only for 40 epochs (the step count of syn1e20): not run yet
#    (session 11 gave the machine to the RetinaMNIST study). When run, summarise.py lists it as real40.
# for seed in 0 1 2; do arm real40 $seed --train.epochs 40; done
# 4. Session 13 (2026-12-07): the memorisation figures above came from a k-NN search that stopped at llvmpipe's shader
#    loop limit (README, "The software adapters' loop limit"); the same commands re-run with the exact search, results
#    in rerun-session13/. The feature network and the generator trained on lavapipe (mesa-vulkan-drivers had come in
#    with an apt dependency), sampling (with the code of a5a4e95) and evaluation on GL llvmpipe.
cd /work/main && export XDG_RUNTIME_DIR=/tmp
deno task train-classifier --config configs/classifier-breastmnist.yaml --seed 0 --name cls-breast-resnet18 --output.root /tmp/study3/runs
deno task train --config configs/ddpm-breastmnist.yaml --seed 0 --data.fraction 0.1 --train.epochs 120 --train.batchSize 16 --train.lr 0.001 --train.emaDecay 0.995 --train.validateEvery 10 --train.checkpointEvery 10 --name gen10-breast --output.root /tmp/study3/runs
GEN=$(ls -d /tmp/study3/runs/gen10-breast-* | tail -1); FEAT=$(ls -d /tmp/study3/runs/cls-breast-resnet18-* | tail -1)
deno task sample --run $GEN --per-class 60 --steps 25 --out /tmp/study3/samples --images /tmp/study3/synthetic
deno task evaluate-generation --run $GEN --features $FEAT --images /tmp/study3/synthetic
# 5. Session 13: the real40 control of section 3, seeds 0, 1 and 2, with that
#    session's code: for seed in 0 1 2; do arm real40 $seed --train.epochs 40; done  (runs under /tmp/study3/runs)
