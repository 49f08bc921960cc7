#!/usr/bin/env python3
"""Summarises run.sh's robust.csv files: mean ± sd over seeds per (model kind, attack, ε), and DP − SGD paired
differences per seed. Writes summary.csv, differences.csv and curve-KIND-NORM-pgdK.csv (for `fednoise plot`)."""
import csv, glob, os, statistics, sys

out = sys.argv[1]
kinds = ["dp", "steps", "lr"]
rows = {}  # (kind, attack, eps) -> {seed: row}
for path in glob.glob(f"{out}/*-*/*-pgd*/robust.csv"):
    run, attack = path.split("/")[-3], path.split("/")[-2]
    kind, seed = run.rsplit("-", 1)
    for r in csv.DictReader(open(path)):
        rows.setdefault((kind, attack, float(r["epsilon"])), {})[int(seed)] = r

def stats(xs):
    return (statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else float("nan"))

fields = ["clean_accuracy", "robust_accuracy", "clean_loss", "adversarial_loss"]
summary = ["kind,attack,epsilon,seeds," + ",".join(f"{f}_mean,{f}_sd" for f in fields)]
curves = {}
for (kind, attack, eps), by_seed in sorted(rows.items(), key=lambda kv: (kinds.index(kv[0][0]), kv[0][1], kv[0][2])):
    cells = []
    for f in fields:
        m, s = stats([float(r[f]) for r in by_seed.values()])
        cells += [f"{m:.4f}", f"{s:.4f}"]
    summary.append(f"{kind},{attack},{eps},{len(by_seed)}," + ",".join(cells))
    curve = curves.setdefault((kind, attack), [])
    if not curve:  # ε = 0: the clean accuracy
        curve.append((0.0, stats([float(r["clean_accuracy"]) for r in by_seed.values()])[0]))
    curve.append((eps, stats([float(r["robust_accuracy"]) for r in by_seed.values()])[0]))
open(f"{out}/summary.csv", "w").write("\n".join(summary) + "\n")
for (kind, attack), pts in curves.items():
    with open(f"{out}/curve-{kind}-{attack}.csv", "w") as f:
        f.write("epsilon,robust_accuracy\n" + "".join(f"{e},{a}\n" for e, a in pts))

# Paired by seed: DP minus each matched SGD model.
diff = ["baseline,attack,epsilon,seeds,clean_gap_mean,clean_gap_sd,robust_gap_mean,robust_gap_sd,"
        "adv_loss_gap_mean,adv_loss_gap_sd,loss_increase_gap_mean,loss_increase_gap_sd"]
for base in ["steps", "lr"]:
    for (kind, attack, eps), dp in sorted(rows.items()):
        if kind != "dp" or (base, attack, eps) not in rows:
            continue
        other = rows[(base, attack, eps)]
        seeds = sorted(set(dp) & set(other))
        def gap(f):
            return stats([float(dp[s][f]) - float(other[s][f]) for s in seeds])
        inc = stats([(float(dp[s]["adversarial_loss"]) - float(dp[s]["clean_loss"]))
                     - (float(other[s]["adversarial_loss"]) - float(other[s]["clean_loss"])) for s in seeds])
        cells = [gap("clean_accuracy"), gap("robust_accuracy"), gap("adversarial_loss"), inc]
        diff.append(f"{base},{attack},{eps},{len(seeds)}," + ",".join(f"{m:.4f},{s:.4f}" for m, s in cells))
open(f"{out}/differences.csv", "w").write("\n".join(diff) + "\n")
print("\n".join(diff))
