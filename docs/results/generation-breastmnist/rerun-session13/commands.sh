#!/bin/bash
# Session 13 (2026-12-07): the full-data BreastMNIST generator of the README's "Generation quality" paragraph, trained
# again with the same command (the code of a5a4e95, GL llvmpipe) and evaluated with the exact nearest-neighbour search.
# The feature network is the one retrained for the 10 % re-run (docs/results/augmentation-breastmnist-10pct/commands.sh).
cd /work/main && export XDG_RUNTIME_DIR=/tmp
deno task train --config configs/ddpm-breastmnist.yaml --train.epochs 12 --train.batchSize 32 --train.lr 0.001 --train.emaDecay 0.995 --train.validateEvery 2 --train.checkpointEvery 2 --name ddpm-breastmnist --output.root /tmp/study3/runs
GEN=$(ls -d /tmp/study3/runs/ddpm-breastmnist-* | tail -1); FEAT=$(ls -d /tmp/study3/runs/cls-breast-resnet18-* | tail -1)
deno task evaluate-generation --run $GEN --features $FEAT --count 100 --steps 25
