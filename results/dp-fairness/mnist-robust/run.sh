#!/bin/sh
# Robust accuracy and adversarial loss of DP-SGD against plain SGD at matched clean accuracy (spec C.3, claim 3).
# MLP (784-200-200-10), 3 seeds. DP-SGD: ε = 3, δ = 1e-5, expected batch 256, C = 1, lr 0.02, momentum 0.9,
# 5 epochs. Plain SGD, matched two ways, per seed, to that seed's DP clean test accuracy:
#   steps: one pass at batch 64, lr 0.05, momentum 0.9 over the first N training images (early stopping after
#          N/64 steps), N from a grid; the N whose clean test accuracy is closest to DP's is kept;
#   lr:    one pass over all 60,000 images at batch 64, momentum 0, learning rate from a grid; closest kept.
# Then `fednoise robust` on all 10,000 test images: PGD-10 and PGD-20, L∞ ε ∈ {0.05, 0.1, 0.2, 0.3} and
# L2 ε ∈ {0.5, 1, 1.5, 2} (pixel units, α = 2.5ε/K, one random start). summarize.py writes summary.csv
# (mean ± sd over seeds) and the SVGs.
# Usage, from the repository root after `swift build -c release`:
#   sh results/dp-fairness/mnist-robust/run.sh [mnist|fashion-mnist]   (default mnist)
set -e
DATASET=${1:-mnist}
B=${FEDNOISE:-.build/release/fednoise}
case $DATASET in
  mnist) DATA=../shared/data/mnist; OUT=results/dp-fairness/mnist-robust ;;
  fashion-mnist) DATA=../shared/data/fashion-mnist; OUT=results/dp-fairness/fashion-robust ;;
  *) echo "usage: run.sh [mnist|fashion-mnist]" >&2; exit 2 ;;
esac
W=$OUT/weights   # regenerable, not committed
C=$OUT/candidates
mkdir -p $OUT/logs $W $C/logs
COMMON="--model mlp --dataset $DATASET --data $DATA"
N_GRID="1000 2000 3000 4000 5000 6000 7000 8000 10000 12000 16000 24000"
LR_GRID="0.001 0.002 0.003 0.005 0.008 0.01 0.012 0.015 0.02 0.03"
acc() { python3 -c "import csv,sys; print(list(csv.DictReader(open(sys.argv[1])))[-1]['test_accuracy'])" "$1/epochs.csv"; }
closest() {  # closest TARGET DIR... : the DIR whose last test accuracy is nearest TARGET
  T=$1; shift; best=""; bestgap=2
  for d in "$@"; do
    a=$(acc $d); g=$(python3 -c "print(abs($a - $T))")
    if python3 -c "import sys; sys.exit(0 if $g < $bestgap else 1)"; then best=$d; bestgap=$g; fi
  done
  echo $best
}
for S in 1 2 3; do
  echo "seed $S: DP-SGD"
  nice -n 10 $B train --dp $COMMON --epochs 5 --target-epsilon 3 --delta 1e-5 --expected-batch-size 256 \
    --max-grad-norm 1 --lr 0.02 --momentum 0.9 --seed $S --output $OUT/dp-$S --save-weights $W/dp-$S.bin \
    > $OUT/logs/dp-$S.log 2>&1 || { cat $OUT/logs/dp-$S.log; exit 1; }
  T=$(acc $OUT/dp-$S)
  echo "seed $S: DP clean accuracy $T; plain SGD candidates"
  for N in $N_GRID; do
    nice -n 10 $B train $COMMON --epochs 1 --batch-size 64 --lr 0.05 --momentum 0.9 --train-limit $N --seed $S \
      --output $C/steps-$S-$N --save-weights $W/steps-$S-$N.bin > $C/logs/steps-$S-$N.log 2>&1
  done
  for L in $LR_GRID; do
    nice -n 10 $B train $COMMON --epochs 1 --batch-size 64 --lr $L --momentum 0 --seed $S \
      --output $C/lr-$S-$L --save-weights $W/lr-$S-$L.bin > $C/logs/lr-$S-$L.log 2>&1
  done
  for M in steps lr; do
    D=$(closest $T $C/$M-$S-*)
    echo "seed $S: $M-matched: $(basename $D), clean accuracy $(acc $D)"
    echo "$(basename $D)" > $OUT/match-$M-$S.txt
    cp $W/$(basename $D).bin $W/$M-$S.bin
  done
  for M in dp steps lr; do
    for K in 10 20; do
      nice -n 10 $B robust --weights $W/$M-$S.bin --dataset $DATASET --data $DATA --steps $K --norm linf \
        --epsilons 0.05,0.1,0.2,0.3 --seed $S --output $OUT/$M-$S/linf-pgd$K > $OUT/logs/$M-$S-linf-pgd$K.log 2>&1
      nice -n 10 $B robust --weights $W/$M-$S.bin --dataset $DATASET --data $DATA --steps $K --norm l2 \
        --epsilons 0.5,1,1.5,2 --seed $S --output $OUT/$M-$S/l2-pgd$K > $OUT/logs/$M-$S-l2-pgd$K.log 2>&1
    done
    echo "seed $S: $M attacked"
  done
done
python3 results/dp-fairness/mnist-robust/summarize.py $OUT
for NORM in linf l2; do
  $B plot $OUT/curve-dp-$NORM-pgd20.csv $OUT/curve-steps-$NORM-pgd20.csv $OUT/curve-lr-$NORM-pgd20.csv \
    --x epsilon --column robust_accuracy --name "DP-SGD (ε = 3)" --name "SGD, early stop (matched)" \
    --name "SGD, small lr (matched)" --y-min 0 --y-max 1 \
    --title "$DATASET MLP: PGD-20 $NORM robust accuracy at matched clean accuracy (mean of 3 seeds)" \
    --output $OUT/robust-vs-epsilon-$NORM.svg
done
