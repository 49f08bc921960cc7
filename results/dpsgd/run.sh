#!/bin/sh
# results/dpsgd/run.sh: the DP-SGD accuracy-vs-ε runs of results/dpsgd/README.md (δ = 1e-5, σ found for each target ε).
# Usage: results/dpsgd/run.sh mlp|cnn [DATASET] [EPSILONS]   (from the repository root, after swift build -c release)
# DATASET: mnist (default) or fashion-mnist, read from ../shared/data/DATASET.
set -e
B=${B:-.build/release/fednoise}
model=$1
dataset=${2:-mnist}
case $model in
  mlp) args="--model mlp --epochs 40 --expected-batch-size 256 --lr 0.02 --momentum 0.9 --max-grad-norm 1" ;;
  cnn) args="--model cnn --epochs 1 --expected-batch-size 256 --lr 0.05 --momentum 0.9 --max-grad-norm 1" ;;
  *) echo "usage: $0 mlp|cnn [mnist|fashion-mnist]" >&2; exit 2 ;;
esac
for eps in ${3:-1 2 3 8}; do
  out=results/dpsgd/$dataset-$model-eps$eps
  nice -n 10 "$B" train --dp --dataset "$dataset" --data "../shared/data/$dataset" $args --target-epsilon $eps \
    --delta 1e-5 --seed 1 --threads 1 --output "$out" 2>&1 | tr '\r' '\n' | grep --line-buffered -v '^\s*$' | grep --line-buffered -v '^epoch [0-9]*/[0-9]*  step' \
    | tee "$out.log"
done
