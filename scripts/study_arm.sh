#!/bin/bash
# The augmentation studies' classifier arm (#17), sourced by docs/results/*/commands*.sh:
#   R=<runs folder> L=<log folder> COMMON="<train-classifier options>"; arm <name> <seed> [more options]
# trains `study-<name>-s<seed>` with COMMON plus the options, then evaluates its best checkpoint on the test split.
arm() {
  local name=$1 seed=$2; shift 2
  echo "$(date +%T) train $name seed $seed"
  deno task train-classifier $COMMON --seed $seed --name study-$name-s$seed "$@" > $L/train_$name-$seed.log 2>&1; echo "rc $?"
  local r=$(ls -d $R/study-$name-s$seed-* | tail -1)
  deno task evaluate --run $r > $L/eval_$name-$seed.log 2>&1; echo "rc $?"
}

# generation_metrics <name> <image folder> <train-classifier options>: trains the feature network `<name>` on the real
# training split, then runs evaluate-generation of the generator run $GEN's images against it.
generation_metrics() {
  local name=$1 images=$2; shift 2
  echo "$(date +%T) feature network"
  deno task train-classifier "$@" --name $name --output.root $R > $L/feat.log 2>&1; echo "rc $?"
  local feat=$(ls -d $R/$name-* | tail -1)
  echo "$(date +%T) evaluate-generation"
  deno task evaluate-generation --run $GEN --features $feat --images $images > $L/evalgen.log 2>&1; echo "rc $?"
}
