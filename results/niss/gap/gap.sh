#!/bin/sh
# gap.sh: NISS's accuracy gap of X = 0 over X = 1 as σ_k is scaled by strategy.dp.noiseScale (issue 14 item 7).
# Run from the repository root:  results/niss/gap/gap.sh [path/to/fednoise]
# Environment: ROUNDS (default 20), SCALES (default "1 0.1 0.01 0.001 0.3 0.5 0.2 0.03 0.003": coarse grid first),
#              CONFIGS (default "niss-mnist-mlp-iid niss-mnist-mlp-noniid"), REFERENCE_SCALES (the scales at which
#              X = 0 runs too; default "1": X = 0 cancels the noise exactly, so it does not depend on s beyond rounding).
set -eu
B=${1:-.build/release/fednoise}
ROUNDS=${ROUNDS:-20}
SCALES=${SCALES:-"1 0.1 0.01 0.001 0.3 0.5 0.2 0.03 0.003"}
CONFIGS=${CONFIGS:-"niss-mnist-mlp-iid niss-mnist-mlp-noniid"}
REFERENCE_SCALES=${REFERENCE_SCALES:-1}
EVERY=${EVERY:-1}
for s in $SCALES; do
  for cfg in $CONFIGS; do
    x=1
    for r in $REFERENCE_SCALES; do [ "$r" = "$s" ] && x=0,1; done
    echo "== $cfg noiseScale=$s X=$x rounds=$ROUNDS $(date -u +%FT%TZ)"
    nice -n 10 "$B" sweep "config/$cfg.json" --tau2 "$x" --quiet --allow-divergence \
      --set rounds="$ROUNDS" --set evaluateEvery="$EVERY" --set strategy.dp.noiseScale="$s" \
      --set name="$cfg-s$s" --set output="results/niss/gap/runs/$cfg-r$ROUNDS/s=$s" | tail -4
  done
done
python3 results/niss/gap/gap.py
