"""results/dpsgd/summarize.py: the table and accuracy-vs-ε series of the DP-SGD runs in results/dpsgd/*/summary.json.

Usage (from the repository root): python3 results/dpsgd/summarize.py
Writes results/dpsgd/results.csv (one row per run), results/dpsgd/table.md and one series-<dataset>-<model>-<epochs>ep.csv
(epsilon,test_accuracy) per dataset, model and epoch count for `fednoise plot … --x epsilon`.
"""
import glob
import json
import os

here = os.path.dirname(os.path.abspath(__file__))
rows = []
for path in sorted(glob.glob(os.path.join(here, "*", "summary.json"))):
    s = json.load(open(path))
    c, p = s["configuration"], s["privacy"]
    rows.append(dict(run=os.path.basename(os.path.dirname(path)), dataset=c["dataset"], model=c["model"],
                     target_epsilon=c.get("targetEpsilon"), epsilon=p["epsilon"], delta=p["delta"],
                     sigma=p["noiseMultiplier"], max_grad_norm=p["maxGradNorm"], sample_rate=p["sampleRate"],
                     expected_batch=p["expectedBatchSize"], epochs=c["epochs"], steps=p["steps"],
                     lr=c["learningRate"], momentum=c["momentum"], test_accuracy=s["finalTestAccuracy"],
                     best_test_accuracy=max(e["testAccuracy"] for e in s["epochs"]), seconds=s["seconds"],
                     threads=s["threads"]))
keys = list(rows[0].keys()) if rows else []
with open(os.path.join(here, "results.csv"), "w") as f:
    f.write(",".join(keys) + "\n")
    for r in rows:
        f.write(",".join(str(r[k]) for k in keys) + "\n")
with open(os.path.join(here, "table.md"), "w") as f:
    f.write("| dataset | model | target ε | ε spent (δ = 1e-5) | σ | C | q (B) | epochs (steps) | lr, momentum "
            "| final test accuracy | wall time |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    for r in rows:
        f.write(f"| {r['dataset']} | {r['model']} | {r['target_epsilon']:g} | {r['epsilon']:.3f} | {r['sigma']:.4f} "
                f"| {r['max_grad_norm']:g} | {r['sample_rate']:.6f} ({r['expected_batch']:.0f}) "
                f"| {r['epochs']} ({r['steps']}) | {r['lr']:g}, {r['momentum']:g} "
                f"| {100 * r['test_accuracy']:.2f}% | {r['seconds'] / 60:.1f} min |\n")
series = {}
for r in rows:
    series.setdefault((r["dataset"], r["model"], r["epochs"]), []).append((r["epsilon"], r["test_accuracy"]))
for (dataset, model, epochs), points in series.items():
    with open(os.path.join(here, f"series-{dataset}-{model}-{epochs}ep.csv"), "w") as f:
        f.write("epsilon,test_accuracy\n")
        for e, a in sorted(points):
            f.write(f"{e},{a}\n")
print(open(os.path.join(here, "table.md")).read())
