#!/bin/bash
# #17 mini augmentation study: BreastMNIST, 10 % of the real training split, ResNet-18, real vs real + 1x synthetic, 3 seeds.
cd /work/main
export XDG_RUNTIME_DIR=/tmp
while pgrep -f queue3.sh > /dev/null; do sleep 15; done
UNET=/tmp/runs/ddpm-breastmnist-20261206-132648
echo "$(date +%T) sample"
deno task sample --run $UNET --per-class 40 --steps 25 --out /tmp/study/samples --images /tmp/study/synthetic > /tmp/demo/study_sample.log 2>&1; echo "rc $?"
for seed in 0 1 2; do
  for mix in real synth1; do
    extra=""; [ $mix = synth1 ] && extra="--data.syntheticPath /tmp/study/synthetic --data.syntheticRatio 1"
    echo "$(date +%T) train $mix seed $seed"
    deno task train-classifier --config configs/classifier-breastmnist.yaml --seed $seed --data.fraction 0.1 $extra --train.batchSize 16 --train.epochs 20 --train.validateEvery 2 --train.logEvery 5 --name study-$mix-s$seed --output.root /tmp/study/runs > /tmp/demo/study_train_$mix-$seed.log 2>&1; echo "rc $?"
    r=$(ls -d /tmp/study/runs/study-$mix-s$seed-* | tail -1)
    deno task evaluate --run $r > /tmp/demo/study_eval_$mix-$seed.log 2>&1; echo "rc $?"
  done
done
echo "$(date +%T) done"
