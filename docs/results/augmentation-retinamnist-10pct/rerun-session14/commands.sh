#!/bin/bash
# Session 14 (2026-12-07): the RetinaMNIST 10 % generator of ../commands.sh trained again with the same command and
# evaluated with the exact nearest-neighbour search (the first run's memorisation figures were withdrawn: ../WITHDRAWN.md).
# GL llvmpipe. The feature network trained on the code of 945ef07, the generator on 52203e3; sampling and evaluation ran
# on b9115d4 (that session's norm kernels, tested equal to the earlier ones).
# The feature network is retrained too (5 epochs on the full training split: best validation macro F1 0.414).
# Generator: 360 steps in 36 min, best EMA validation v-MSE 0.1129 (the first run: 0.113).
cd /work/main && export XDG_RUNTIME_DIR=/tmp
R=/tmp/study4/runs
deno task train-classifier --config configs/resnet18-retinamnist.yaml --train.epochs 5 --name feat-retina --output.root $R
deno task train --config configs/ddpm-retinamnist.yaml --seed 0 --data.fraction 0.1 --data.fractionSeed 0 --train.epochs 60 --train.batchSize 16 --train.lr 0.001 --train.emaDecay 0.995 --train.validateEvery 10 --train.checkpointEvery 10 --sample.perClass 4 --sample.steps 25 --name gen10-retina --output.root $R
GEN=$(ls -d $R/gen10-retina-* | tail -1); FEAT=$(ls -d $R/feat-retina-* | tail -1)
deno task sample --run $GEN --per-class 44 --steps 25 --out /tmp/study4/samples --images /tmp/study4/synthetic
deno task evaluate-generation --run $GEN --features $FEAT --images /tmp/study4/synthetic
