#!/bin/sh
# Fashion-MNIST MLP with class 3 (dress) subsampled to F of its training examples, plain SGD vs DP-SGD at ε = 3 (δ = 1e-5), 5 epochs.
# Writes one folder per run (groups.csv: per-class test accuracy) and summary.csv (disparate impact of DP on class 3
# against class 1 (trouser; the test set is balanced)). Run from the repository root after `swift build -c release`.
set -e
B=.build/release/fednoise
OUT=results/dp-fairness/fashion-imbalance
for F in 1 0.5 0.1 0.01; do
  if [ "$F" = 1 ]; then IMB=""; else IMB="--minority-class 3 --minority-fraction $F"; fi
  nice -n 10 $B train --model mlp --dataset fashion-mnist --data ../shared/data/fashion-mnist --epochs 5 --lr 0.05 --momentum 0.9 --batch-size 64 \
    $IMB --seed 1 --output $OUT/nondp-$F > $OUT/nondp-$F.log
  nice -n 10 $B train --dp --model mlp --dataset fashion-mnist --data ../shared/data/fashion-mnist --epochs 5 --target-epsilon 3 --delta 1e-5 \
    --expected-batch-size 256 --max-grad-norm 1 --lr 0.02 --momentum 0.9 $IMB --seed 1 --output $OUT/dp-$F > $OUT/dp-$F.log
done
python3 - <<'PY'
import csv
out = "results/dp-fairness/fashion-imbalance"
def acc(path):
    return {int(r["class"]): float(r["accuracy"]) for r in csv.DictReader(open(path))}
rows = ["fraction,nondp_class3,dp_class3,nondp_class1,dp_class1,disparate_impact_points"]
for f in ["1", "0.5", "0.1", "0.01"]:
    n, d = acc(f"{out}/nondp-{f}/groups.csv"), acc(f"{out}/dp-{f}/groups.csv")
    di = (n[3] - d[3]) - (n[1] - d[1])
    rows.append(f"{f},{n[3]:.4f},{d[3]:.4f},{n[1]:.4f},{d[1]:.4f},{100 * di:.2f}")
open(f"{out}/summary.csv", "w").write("\n".join(rows) + "\n")
print("\n".join(rows))
PY
