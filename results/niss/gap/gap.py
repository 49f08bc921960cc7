#!/usr/bin/env python3
# gap.py: collects gap.sh's sweeps into gap.csv, gap.json and gap.svg (the gap of X = 0 over X = 1 against σ_k).
# Standard library only. Run from the repository root: python3 results/niss/gap/gap.py
import csv, json, math, os, re

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = os.path.join(HERE, "runs")
C_DELTA = math.sqrt(2 * math.log(1.25 / 1e-4))  # c(δ = 1e-4) = 4.3436 (spec B.4)
# σ_k of the sensitivity conventions in the paper's setting (ζ = 3, ε = 10, δ = 1e-4, d_k = 600, 30 clients, so
# p_k = 1/30), all as the std of the noise added to the weighted upload p_k·w_k (spec B.4's table).
CONVENTIONS = [
    ("NbAFL 2ζ/d_k, weighted p_k·Δ", C_DELTA * (1 / 30) * (2 * 3 / 600) / 10),
    ("NbAFL 2ζ/d_k, not weighted", C_DELTA * (2 * 3 / 600) / 10),
    ("client-level ζ, weighted (default)", C_DELTA * (1 / 30) * 3 / 10),
]
PAPER = {"iid": (12, 13), "noniid": (30, 40)}  # spec B.10, MNIST, points


def rows():
    out = []
    for folder in sorted(os.listdir(RUNS)):
        m = re.fullmatch(r"(.+)-r(\d+)", folder)
        if not m:
            continue
        config, rounds = m.group(1), int(m.group(2))
        sweeps, folders = {}, {}
        for sub in os.listdir(os.path.join(RUNS, folder)):
            sm = re.fullmatch(r"s=(.+)", sub)
            path = os.path.join(RUNS, folder, sub, "sweep.json")
            if sm and os.path.exists(path):
                with open(path) as f:
                    sweeps[float(sm.group(1))] = {r["tau2"]: r for r in json.load(f)["runs"]}
                    folders[float(sm.group(1))] = os.path.join(RUNS, folder, sub)
        refs = {s: runs[0] for s, runs in sweeps.items() if 0 in runs}
        if not refs:
            continue
        ref_scale = 1.0 if 1.0 in refs else max(refs)
        ref = refs[ref_scale]
        for s in sorted(sweeps):
            one = sweeps[s].get(1)
            if one is None:
                continue
            with open(os.path.join(folders[s], "X=1", "rounds.csv")) as f:
                sigma = float(next(csv.DictReader(f))["sigma_max"])
            x0 = sweeps[s].get(0, ref)
            out.append({
                "config": config, "partition": "noniid" if "noniid" in config else "iid", "rounds": rounds,
                "noise_scale": s, "sigma_k": sigma, "aggregate_noise_variance": one["meanExpectedNoiseVariance"],
                "x0_scale": s if 0 in sweeps[s] else ref_scale,
                "x0_final": x0["finalTestAccuracy"], "x0_best": x0["bestTestAccuracy"],
                "x1_final": one["finalTestAccuracy"], "x1_best": one["bestTestAccuracy"],
                "gap_final_points": round(100 * (x0["finalTestAccuracy"] - one["finalTestAccuracy"]), 2),
                "gap_best_points": round(100 * (x0["bestTestAccuracy"] - one["bestTestAccuracy"]), 2),
            })
    return out


def crossings(points, level):
    """σ where the gap, interpolated linearly in log10 σ, passes `level` (rising with σ or not)."""
    found = []
    for (s0, g0), (s1, g1) in zip(points, points[1:]):
        if (g0 - level) * (g1 - level) <= 0 and g0 != g1:
            t = (level - g0) / (g1 - g0)
            found.append(10 ** (math.log10(s0) + t * (math.log10(s1) - math.log10(s0))))
    return found


def svg(data, path):
    W, H, L, R, T, B = 860, 500, 70, 250, 45, 60
    pw, ph = W - L - R, H - T - B
    sig = [r["sigma_k"] for r in data] + [c[1] for c in CONVENTIONS]
    x0, x1 = math.floor(math.log10(min(sig))), math.ceil(math.log10(max(sig)))
    y0, y1 = -5, 100
    sx = lambda s: L + (math.log10(s) - x0) / (x1 - x0) * pw
    sy = lambda g: T + (y1 - g) / (y1 - y0) * ph
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{L}" y="22" font-size="14">NISS, MNIST MLP: gap of X = 0 over X = 1 against σ_k '
         f'(ε = 10, δ = 1e-4, ζ = 3; {data[0]["rounds"]} rounds)</text>']
    colors = {"iid": "#1f77b4", "noniid": "#d62728"}
    for e in range(x0, x1 + 1):
        x = sx(10 ** e)
        o.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{T + ph}" stroke="#eee"/>')
        o.append(f'<text x="{x:.1f}" y="{T + ph + 18}" text-anchor="middle">1e{e}</text>')
    for g in range(0, 101, 20):
        o.append(f'<line x1="{L}" y1="{sy(g):.1f}" x2="{L + pw}" y2="{sy(g):.1f}" stroke="#eee"/>')
        o.append(f'<text x="{L - 6}" y="{sy(g) + 4:.1f}" text-anchor="end">{g}</text>')
    for part, (a, b) in PAPER.items():
        o.append(f'<rect x="{L}" y="{sy(b):.1f}" width="{pw}" height="{sy(a) - sy(b):.1f}" fill="{colors[part]}" '
                 f'fill-opacity="0.15"/>')
        o.append(f'<text x="{L + 4}" y="{sy(b) - 3:.1f}" fill="{colors[part]}">paper, MNIST '
                 f'{"IID" if part == "iid" else "non-IID"}: +{a} to +{b}</text>')
    o.append(f'<rect x="{L}" y="{T}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    o.append(f'<text x="{L + pw / 2}" y="{H - 15}" text-anchor="middle">σ_k, std of the noise on p_k·w_k '
             f'(log scale; noiseScale × 0.0434)</text>')
    o.append(f'<text transform="translate(18,{T + ph / 2}) rotate(-90)" text-anchor="middle">'
             f'accuracy gap X=0 over X=1 (points)</text>')
    for i, (name, s) in enumerate(CONVENTIONS):
        x = sx(s)
        o.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{T + ph}" stroke="#555" stroke-dasharray="2,3"/>')
        o.append(f'<text transform="translate({x + 4:.1f},{T + ph - 6}) rotate(-90)" fill="#555">'
                 f'{name}: {s:.3g}</text>')
    ly = T + 10
    for part in ("iid", "noniid"):
        pts = sorted((r["sigma_k"], r) for r in data if r["partition"] == part)
        if not pts:
            continue
        for key, dash, label in (("gap_final_points", "", "final"), ("gap_best_points", "6,4", "best round")):
            dashing = f'stroke-dasharray="{dash}"' if dash else ""
            line = " ".join(f"{sx(s):.1f},{sy(r[key]):.1f}" for s, r in pts)
            o.append(f'<polyline points="{line}" fill="none" stroke="{colors[part]}" stroke-width="2" '
                     f'{dashing}/>')
            for s, r in pts:
                o.append(f'<circle cx="{sx(s):.1f}" cy="{sy(r[key]):.1f}" r="3" fill="{colors[part]}"/>')
            o.append(f'<line x1="{L + pw + 12}" y1="{ly}" x2="{L + pw + 36}" y2="{ly}" stroke="{colors[part]}" '
                     f'stroke-width="2" {dashing}/>')
            o.append(f'<text x="{L + pw + 42}" y="{ly + 4}">{"IID" if part == "iid" else "non-IID"}, {label}</text>')
            ly += 20
    for part, (a, b) in PAPER.items():  # where the final-gap curve meets the middle of the paper's range
        pts = sorted((r["sigma_k"], r["gap_final_points"]) for r in data if r["partition"] == part)
        for c in crossings(pts, (a + b) / 2):
            x = sx(c)
            o.append(f'<line x1="{x:.1f}" y1="{sy((a + b) / 2):.1f}" x2="{x:.1f}" y2="{T + ph}" '
                     f'stroke="{colors[part]}" stroke-width="1.5"/>')
            o.append(f'<text x="{x - 4:.1f}" y="{sy((a + b) / 2) - 8:.1f}" text-anchor="end" fill="{colors[part]}">'
                     f'σ_k ≈ {c:.2g} (s ≈ {c / CONVENTIONS[2][1]:.2g})</text>')
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


def main():
    data = rows()
    if not data:
        raise SystemExit(f"gap.py: no runs under {RUNS}; run gap.sh first")
    with open(os.path.join(HERE, "gap.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(data[0]))
        w.writeheader()
        w.writerows(data)
    summary = {"conventions": {n: s for n, s in CONVENTIONS}, "paper": PAPER, "crossings": {}}
    for part, (a, b) in PAPER.items():
        for key in ("gap_final_points", "gap_best_points"):
            pts = sorted((r["sigma_k"], r[key]) for r in data if r["partition"] == part)
            summary["crossings"][f"{part} {key}"] = {
                f"+{lvl:g}": [float(f"{c:.3g}") for c in crossings(pts, lvl)] for lvl in (a, (a + b) / 2, b)}
    with open(os.path.join(HERE, "gap.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    svg(data, os.path.join(HERE, "gap.svg"))
    for r in data:
        print(f'{r["config"]:24} s={r["noise_scale"]:<7g} σ_k={r["sigma_k"]:.3g} X0 {100 * r["x0_final"]:.2f} '
              f'X1 {100 * r["x1_final"]:.2f} (best {100 * r["x1_best"]:.2f}) gap {r["gap_final_points"]:+.2f} '
              f'(best {r["gap_best_points"]:+.2f})')
    print(json.dumps(summary["crossings"], indent=1))


if __name__ == "__main__":
    main()
