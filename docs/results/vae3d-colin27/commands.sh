#!/bin/bash
# #18, session 14 (2026-12-07): the Colin27 reconstruction demo of configs/vae3d-colin27.yaml, GL llvmpipe, code of
# 5c96aa4…431ead0 (norm and reduction kernels changed during the run; each tested equal to the earlier ones).
# Two volumes (MRIcron's ch2 and the brain-extracted ch2bet, resampled to 64³): one trains, the other validates (the
# folder has no test split, so `evaluate` reports the validation volume). Stopped with Ctrl-C after 72 of the config's
# 100 steps for the session's time (4,293 s; a step took 37–80 s, the machine shared with CI runs for half of it).
cd /work/main && export XDG_RUNTIME_DIR=/tmp
deno task train-vae --config configs/vae3d-colin27.yaml --output.root /tmp/colin/runs
R=$(ls -d /tmp/colin/runs/vae3d-colin27-* | tail -1)
deno task evaluate --run $R
